package io.metastream.streams.internals;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates a compacted, single-partition topic if it does not exist: the models and model-artifacts
 * topics, which every instance reads whole, so that a promoter can write to them before any
 * instance has ever started (brokers usually do not create topics on first write).
 */
public final class CompactedTopic {
    private CompactedTopic() {
    }

    /**
     * @param clientProperties bootstrap servers and the security settings of the cluster
     * @param configs topic settings beside {@code cleanup.policy=compact} (say {@code max.message.bytes})
     * @throws IllegalStateException if the topic cannot be listed or created
     */
    public static void ensure(Map<String, Object> clientProperties, String topic, Map<String, String> configs) {
        try (Admin admin = Admin.create(clientProperties)) {
            if (admin.listTopics().names().get().contains(topic)) {
                return;
            }
            Map<String, String> all = new HashMap<>(configs);
            all.put(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT);
            admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty()).configs(all))).all().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating " + topic, e);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("cannot create " + topic + ": " + e.getCause().getMessage(), e.getCause());
            }
        }
    }
}

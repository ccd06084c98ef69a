package io.metastream.streams.model;

import io.metastream.streams.kafka.Topics;
import io.metastream.schemas.ModelChange;
import io.metastream.store.ModelStore;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Moves a model alias and tells the fleet: the alias moves in the store (with its history), then
 * a {@link ModelChange} goes to the compacted models topic, which every running instance follows.
 */
public final class ModelPromotion {
    private ModelPromotion() {
    }

    /**
     * Points {@code alias} at {@code version}.
     *
     * @param verify load and verify the version first and refuse to promote it if it fails
     * @param bootstrapServers where to announce the change; null to only move the alias in the store
     * @return the change that was made
     */
    public static ModelChange promote(ModelStore store, String name, String alias, String version, boolean verify,
            String bootstrapServers, Topics topics) {
        return promote(store, name, alias, version, verify, client(bootstrapServers), topics);
    }

    /**
     * {@link #promote(ModelStore, String, String, String, boolean, String, Topics)} announced by a
     * producer with {@code clientProperties} (bootstrap servers and security settings, as
     * {@code MetastreamConfig.clientProperties()} gives them); null to only move the alias.
     */
    public static ModelChange promote(ModelStore store, String name, String alias, String version, boolean verify,
            Map<String, Object> clientProperties, Topics topics) {
        if (verify) {
            BaseModelArtifacts.load(store, name, version);
        }
        Optional<String> previous = store.alias(name, alias);
        store.setAlias(name, alias, version);
        return announce(change(name, alias, version, previous.orElse(null), "promote"), clientProperties, topics);
    }

    /** Moves {@code alias} back along its promotion history and announces it. */
    public static ModelChange rollback(ModelStore store, String name, String alias, String bootstrapServers,
            Topics topics) {
        return rollback(store, name, alias, client(bootstrapServers), topics);
    }

    /** {@link #rollback(ModelStore, String, String, String, Topics)} announced with {@code clientProperties}. */
    public static ModelChange rollback(ModelStore store, String name, String alias, Map<String, Object> clientProperties,
            Topics topics) {
        String previous = store.alias(name, alias).orElse(null);
        String now = store.rollback(name, alias);
        return announce(change(name, alias, now, previous, "rollback"), clientProperties, topics);
    }

    private static Map<String, Object> client(String bootstrapServers) {
        return bootstrapServers == null ? null : Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    }

    private static ModelChange change(String name, String alias, String version, String previous, String action) {
        return ModelChange.newBuilder().setModelName(name).setAlias(alias).setVersion(version)
                .setPreviousVersion(previous).setAction(action).setChangedAt(Instant.now()).build();
    }

    /**
     * Publishes {@code change} to the models topic and waits for the broker's acknowledgement.
     *
     * @throws IllegalStateException if the broker does not take it
     */
    public static ModelChange announce(ModelChange change, Map<String, Object> clientProperties, Topics topics) {
        if (clientProperties == null) {
            return change;
        }
        Map<String, Object> props = new java.util.HashMap<>(clientProperties);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
                new ByteArraySerializer())) {
            String topic = topics.models().name();
            producer.send(new ProducerRecord<>(topic, Topics.modelKey(change.getModelName(), change.getAlias()),
                    topics.models().valueSerde().serializer().serialize(topic, change))).get();
            return change;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while announcing " + change, e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the models topic did not take " + change.getModelName() + "@"
                    + change.getVersion() + ": " + e.getCause().getMessage(), e.getCause());
        }
    }
}

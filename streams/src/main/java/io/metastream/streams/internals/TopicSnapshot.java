package io.metastream.streams.internals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a whole topic once, from its first offset to the end offsets of the moment the read
 * starts: what a compacted topic holds now. No consumer group (assigned, nothing committed), so
 * any number of readers can do it at once.
 */
public final class TopicSnapshot {
    private TopicSnapshot() {
    }

    /**
     * Hands every record of {@code topic} to {@code each}, in offset order per partition.
     *
     * @param clientProperties bootstrap servers and the security settings of the cluster
     * @return how many records were read
     * @throws TopicMissingException if the topic does not exist
     * @throws IllegalStateException if the read does not finish within {@code timeout}
     */
    public static long read(Map<String, Object> clientProperties, String topic, Duration timeout,
            Consumer<ConsumerRecord<String, byte[]>> each) {
        Map<String, Object> p = new HashMap<>(clientProperties);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "metastream-snapshot-" + UUID.randomUUID());
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        long deadline = System.nanoTime() + timeout.toNanos();
        long read = 0;
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
            if (infos == null || infos.isEmpty()) {
                throw new TopicMissingException(topic);
            }
            List<TopicPartition> open = new ArrayList<>(infos.stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList());
            consumer.assign(open);
            consumer.seekToBeginning(open);
            Map<TopicPartition, Long> ends = consumer.endOffsets(open, timeout);
            while (true) {
                open.removeIf(tp -> consumer.position(tp, timeout) >= ends.get(tp));
                if (open.isEmpty()) {
                    return read;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading " + topic + " to its end did not finish within "
                            + timeout + "; still open: " + open);
                }
                consumer.assign(open);
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    read++;
                    each.accept(r);
                }
            }
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            throw new IllegalStateException("cannot read " + topic + " within " + timeout + ": " + e.getMessage(), e);
        }
    }

    /** The topic to read does not exist (yet). */
    public static final class TopicMissingException extends RuntimeException {
        public TopicMissingException(String topic) {
            super("topic " + topic + " does not exist");
        }
    }
}

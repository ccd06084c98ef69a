package io.metastream.embedded;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Reads a topic as a downstream consumer of an exactly-once pipeline does: read-committed, from
 * the beginning, without a consumer group. Tests synchronise on what is on the topic instead of on
 * sleeps: {@link #readAtLeast} waits for a count, {@link #readToEnd} takes everything committed
 * up to the end offsets of the moment it is called.
 */
public final class TopicReader<K, V> implements AutoCloseable {
    private final KafkaConsumer<K, V> consumer;
    private final String topic;
    private final List<ConsumerRecord<K, V>> read = new ArrayList<>();

    public TopicReader(String bootstrapServers, String topic, Deserializer<K> keys, Deserializer<V> values) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "topic-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        this.consumer = new KafkaConsumer<>(p, keys, values);
        this.topic = topic;
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(info -> new TopicPartition(topic, info.partition())).collect(Collectors.toList());
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
    }

    /**
     * Every record read so far plus new ones until there are at least {@code count}.
     *
     * @throws AssertionError if fewer than {@code count} are committed within {@code timeout}
     */
    public List<ConsumerRecord<K, V>> readAtLeast(int count, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (read.size() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(topic + ": " + read.size() + " records within " + timeout + ", expected "
                        + count);
            }
            consumer.poll(Duration.ofMillis(100)).forEach(read::add);
        }
        return List.copyOf(read);
    }

    /**
     * Every record committed up to the end offsets as of this call (the read-committed end: open
     * transactions are waited for), and nothing after.
     */
    public List<ConsumerRecord<K, V>> readToEnd(Duration timeout) {
        Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
        long deadline = System.nanoTime() + timeout.toNanos();
        while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(topic + ": did not reach the end offsets " + end + " within " + timeout);
            }
            consumer.poll(Duration.ofMillis(100)).forEach(read::add);
        }
        return List.copyOf(read);
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(5));
    }
}

package io.metastream.server.continual;

import io.metastream.data.records.TaskRecords;
import io.metastream.schemas.LabelledSample;
import io.metastream.streams.TopologySettings;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Training rows from the pipeline's own samples topic: every committed {@code LabelledSample}
 * whose record timestamp lies in {@code [from, to)}, read without a consumer group (nothing is
 * committed, the pipeline's offsets are untouched). Records the pipeline would refuse
 * ({@link SampleRecords}, with its default limits) are skipped and counted, as the pipeline
 * dead-letters them, and so are samples whose feature count differs from most samples'. The
 * samples that adapt users in the stream become meta-training data for the next base.
 */
public final class SamplesTopicRows {
    /** The pipeline's default limits: a reader of the topic has no instance configuration. */
    private static final TopologySettings.Limits LIMITS = TopologySettings.Limits.defaults();

    private SamplesTopicRows() {
    }

    /** What was read: the rows and how many records were skipped. */
    public record Read(TaskRecords records, int skipped, Map<Integer, long[]> offsets) {
    }

    /**
     * The rows with the feature count most rows have (the smaller count on a tie): the model to
     * train does not exist yet, so no base says what the size is, and one sample of another size
     * must not fail the whole read.
     */
    static List<TaskRecords.Row> ofCommonSize(List<TaskRecords.Row> rows) {
        Map<Integer, Integer> bySize = new TreeMap<>();
        rows.forEach(r -> bySize.merge(r.features().length, 1, Integer::sum));
        int size = bySize.entrySet().stream().max(Comparator.comparingInt(Map.Entry<Integer, Integer>::getValue))
                .map(Map.Entry::getKey).orElse(0);
        return rows.stream().filter(r -> r.features().length == size).toList();
    }

    /**
     * @throws IllegalArgumentException if the range holds no sample that passes the pipeline's checks
     */
    public static Read read(String bootstrapServers, String topic, Instant from, Instant to, Duration timeout) {
        return read(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers), topic, from, to, timeout);
    }

    /**
     * {@link #read(String, String, Instant, Instant, Duration)} with a consumer of {@code clientProperties}:
     * {@code bootstrap.servers} and the security settings of a TLS or SASL cluster.
     *
     * @throws IllegalArgumentException if the range holds no decodable sample
     */
    public static Read read(Map<String, Object> clientProperties, String topic, Instant from, Instant to,
            Duration timeout) {
        if (!from.isBefore(to)) {
            throw new IllegalArgumentException("empty time range [" + from + ", " + to + ")");
        }
        Properties p = new Properties();
        p.putAll(clientProperties);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "metastream-train-" + UUID.randomUUID());
        List<TaskRecords.Row> rows = new ArrayList<>();
        Map<Integer, long[]> offsets = new HashMap<>();
        int skipped = 0;
        long now = System.currentTimeMillis();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, timeout).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            Map<TopicPartition, Long> starts = new HashMap<>();
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, timeout);
            Map<TopicPartition, Long> query = new HashMap<>();
            partitions.forEach(tp -> query.put(tp, from.toEpochMilli()));
            Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query, timeout);
            for (TopicPartition tp : partitions) {
                OffsetAndTimestamp o = found.get(tp);
                starts.put(tp, o == null ? ends.get(tp) : o.offset());
            }
            List<TopicPartition> open = new ArrayList<>(partitions.stream()
                    .filter(tp -> starts.get(tp) < ends.get(tp)).toList());
            consumer.assign(open);
            open.forEach(tp -> consumer.seek(tp, starts.get(tp)));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!open.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading " + topic + " did not finish within " + timeout);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.timestamp() < from.toEpochMilli() || r.timestamp() >= to.toEpochMilli()) {
                        continue;
                    }
                    SampleRecords.Checked checked = SampleRecords.check(r.key(), r.value(), r.timestamp(), 0,
                            LIMITS.maxRecordBytes(), LIMITS.maxFutureMs(), now);
                    if (!checked.accepted()) {
                        skipped++;
                        continue;
                    }
                    LabelledSample s = checked.sample();
                    float[] x = new float[s.getFeatures().size()];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = s.getFeatures().get(i);
                    }
                    rows.add(new TaskRecords.Row(s.getTaskId(), x, s.getTarget(), s.getEventTime().toEpochMilli()));
                    offsets.computeIfAbsent(r.partition(), k -> new long[] {r.offset(), r.offset()})[1] = r.offset();
                }
                // Done with a partition once its position passes the end offset of the moment we started.
                open.removeIf(tp -> consumer.position(tp) >= ends.get(tp));
                consumer.assign(open);
            }
        }
        int before = rows.size();
        rows = ofCommonSize(rows);
        skipped += before - rows.size();
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("no samples on " + topic + " in [" + from + ", " + to + ")"
                    + (skipped > 0 ? " (" + skipped + " records did not decode)" : ""));
        }
        return new Read(TaskRecords.of(rows, "topic " + topic + " [" + from + ", " + to + ")"), skipped, offsets);
    }
}

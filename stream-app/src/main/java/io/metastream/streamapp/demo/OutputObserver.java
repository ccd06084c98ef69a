package io.metastream.streamapp.demo;

import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.Prediction;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.AssignedConsumerThread;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads what the pipeline publishes, as a downstream service would: a read-committed consumer of
 * predictions, adaptation events and dead letters, decoding the Avro bytes with the topics' serdes.
 * Measures query-produced to prediction-consumed latency against the send times the producer
 * recorded.
 */
final class OutputObserver implements AutoCloseable {
    private final Topics topics;
    private final Map<String, Long> sentNanos;
    private final AssignedConsumerThread reader;

    final Map<String, Prediction> predictions = new ConcurrentHashMap<>();
    final Map<String, Double> latencyMs = new ConcurrentHashMap<>();
    final AtomicLong duplicatePredictions = new AtomicLong();
    final AtomicLong adaptations = new AtomicLong();
    final AtomicLong adaptationMicros = new AtomicLong();
    final AtomicLong deadLetters = new AtomicLong();
    final Map<String, AtomicLong> deadLettersByReason = new ConcurrentHashMap<>();
    final Map<String, AtomicLong> predictionsByVersion = new ConcurrentHashMap<>();
    /** Predictions and dead letters of the warm-up traffic, which the figures leave out. */
    final AtomicLong warmUpPredictions = new AtomicLong();
    final AtomicLong warmUpDeadLetters = new AtomicLong();

    OutputObserver(String bootstrapServers, Topics topics, Map<String, Long> sentNanos) {
        this.topics = topics;
        this.sentNanos = sentNanos;
        this.reader = new AssignedConsumerThread("demo-observer", bootstrapServers,
                Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                List.of(topics.predictions().name(), topics.adaptations().name(), topics.deadLetters().name()),
                records -> records.forEach(this::observe)).start();
    }

    private void observe(ConsumerRecord<String, byte[]> r) {
        long now = System.nanoTime();
        if (r.topic().equals(topics.predictions().name())) {
            Prediction p = topics.predictions().valueSerde().deserializer().deserialize(r.topic(), r.value());
            if (p.getTaskId().startsWith(SimulatedPopulation.WARM_UP_PREFIX)) {
                warmUpPredictions.incrementAndGet();
                return;
            }
            Long sent = sentNanos.get(p.getQueryId());
            if (predictions.putIfAbsent(p.getQueryId(), p) != null) {
                duplicatePredictions.incrementAndGet();
            } else if (sent != null) {
                latencyMs.put(p.getQueryId(), (now - sent) / 1e6);
            }
            predictionsByVersion.computeIfAbsent(p.getModelVersion(), v -> new AtomicLong()).incrementAndGet();
        } else if (r.topic().equals(topics.adaptations().name())) {
            if (r.key().startsWith(SimulatedPopulation.WARM_UP_PREFIX)) {
                return;
            }
            AdaptationEvent e = topics.adaptations().valueSerde().deserializer().deserialize(r.topic(), r.value());
            adaptations.incrementAndGet();
            adaptationMicros.addAndGet(e.getMicros());
        } else {
            if (r.key() != null && r.key().startsWith(SimulatedPopulation.WARM_UP_PREFIX)) {
                warmUpDeadLetters.incrementAndGet();
                return;
            }
            DeadLetter d = topics.deadLetters().valueSerde().deserializer().deserialize(r.topic(), r.value());
            deadLetters.incrementAndGet();
            deadLettersByReason.computeIfAbsent(d.getReasonCode(), k -> new AtomicLong()).incrementAndGet();
        }
    }

    /**
     * Waits until every record committed to the output topics so far has been observed: the end
     * offsets as a read-committed consumer sees them now, so a late duplicate is counted, not
     * missed by a fixed grace period.
     */
    void drainToEnd(String bootstrapServers, Duration timeout) {
        Map<TopicPartition, Long> ends;
        try (KafkaConsumer<byte[], byte[]> probe =
                new KafkaConsumer<>(Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                        new ByteArrayDeserializer(),
                        new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(topics.predictions().name(), topics.adaptations().name(),
                    topics.deadLetters().name())) {
                probe.partitionsFor(topic).forEach(p -> partitions.add(
                        new TopicPartition(topic, p.partition())));
            }
            ends = probe.endOffsets(partitions, timeout);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!reader.handledUpTo(ends)) {
            check();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the output observer did not reach the end offsets " + ends
                        + " within " + timeout);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
    }

    /** @throws IllegalStateException if the consumer thread failed */
    void check() {
        reader.failure().ifPresent(f -> {
            throw new IllegalStateException("the output observer failed: " + f, f);
        });
    }

    @Override
    public void close() {
        reader.close();
    }
}

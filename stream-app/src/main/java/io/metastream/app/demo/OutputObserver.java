package io.metastream.app.demo;

import io.metastream.app.topology.Topics;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.Prediction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads what the pipeline publishes, as a downstream service would: a read-committed consumer of
 * predictions, adaptation events and dead letters, decoding the Avro bytes with the topics' serdes.
 * Measures query-produced to prediction-consumed latency against the send times the producer
 * recorded.
 */
final class OutputObserver implements AutoCloseable {
    private final Topics topics;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<String, Long> sentNanos;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);

    final Map<String, Prediction> predictions = new ConcurrentHashMap<>();
    final Map<String, Double> latencyMs = new ConcurrentHashMap<>();
    final AtomicLong duplicatePredictions = new AtomicLong();
    final AtomicLong adaptations = new AtomicLong();
    final AtomicLong adaptationMicros = new AtomicLong();
    final AtomicLong deadLetters = new AtomicLong();
    final Map<String, AtomicLong> deadLettersByReason = new ConcurrentHashMap<>();
    final Map<String, AtomicLong> predictionsByVersion = new ConcurrentHashMap<>();
    final java.util.concurrent.CountDownLatch warmUp = new java.util.concurrent.CountDownLatch(1);
    private volatile RuntimeException failure;

    OutputObserver(String bootstrapServers, Topics topics, Map<String, Long> sentNanos) {
        this.topics = topics;
        this.sentNanos = sentNanos;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        // Assigned, not subscribed: no group join, so the first prediction is seen the moment it
        // is committed and latency measures the pipeline, not a rebalance.
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : List.of(topics.predictions().name(), topics.adaptations().name(),
                topics.deadLetters().name())) {
            consumer.partitionsFor(topic).forEach(i -> partitions.add(new TopicPartition(i.topic(), i.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        this.thread = new Thread(this::loop, "demo-observer");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        try {
            while (running.get()) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(50))) {
                    long now = System.nanoTime();
                    if (r.topic().equals(topics.predictions().name())) {
                        Prediction p = topics.predictions().valueSerde().deserializer().deserialize(r.topic(), r.value());
                        if (p.getQueryId().equals(SimulatedPopulation.WARM_UP_QUERY)) {
                            warmUp.countDown();
                            continue;
                        }
                        Long sent = sentNanos.get(p.getQueryId());
                        if (predictions.putIfAbsent(p.getQueryId(), p) != null) {
                            duplicatePredictions.incrementAndGet();
                        } else if (sent != null) {
                            latencyMs.put(p.getQueryId(), (now - sent) / 1e6);
                        }
                        predictionsByVersion.computeIfAbsent(p.getModelVersion(), v -> new AtomicLong()).incrementAndGet();
                    } else if (r.topic().equals(topics.adaptations().name())) {
                        if (r.key().equals(SimulatedPopulation.WARM_UP_TASK)) {
                            continue;
                        }
                        AdaptationEvent e = topics.adaptations().valueSerde().deserializer().deserialize(r.topic(), r.value());
                        adaptations.incrementAndGet();
                        adaptationMicros.addAndGet(e.getMicros());
                    } else {
                        DeadLetter d = topics.deadLetters().valueSerde().deserializer().deserialize(r.topic(), r.value());
                        deadLetters.incrementAndGet();
                        deadLettersByReason.computeIfAbsent(d.getReasonCode(), k -> new AtomicLong()).incrementAndGet();
                    }
                }
            }
        } catch (org.apache.kafka.common.errors.WakeupException e) {
            // close() woke us up
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** @throws IllegalStateException if the consumer thread failed */
    void check() {
        if (failure != null) {
            throw new IllegalStateException("the output observer failed: " + failure, failure);
        }
    }

    @Override
    public void close() {
        running.set(false);
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

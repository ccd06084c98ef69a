package io.metastream.streams.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A consumer that reads every partition of some topics from the beginning on its own daemon
 * thread and hands each poll's records to a handler. Assigned, not subscribed: it joins no group,
 * so every reader sees everything at once, with no rebalance delay (what a control-topic follower
 * and a latency-measuring observer both need).
 */
public final class AssignedConsumerThread implements AutoCloseable {
    private final KafkaConsumer<String, byte[]> consumer;
    private final Consumer<ConsumerRecords<String, byte[]>> handler;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile RuntimeException failure;

    /** @param extra consumer settings beyond the bootstrap servers, e.g. the isolation level */
    public AssignedConsumerThread(String name, String bootstrapServers, Map<String, Object> extra, List<String> topics,
            Consumer<ConsumerRecords<String, byte[]>> handler) {
        Map<String, Object> props = new HashMap<>(extra);
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        this.consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
        this.handler = handler;
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : topics) {
            consumer.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        this.thread = new Thread(this::loop, name);
        thread.setDaemon(true);
    }

    public AssignedConsumerThread start() {
        thread.start();
        return this;
    }

    private void loop() {
        try {
            while (running) {
                handler.accept(consumer.poll(Duration.ofMillis(50)));
            }
        } catch (WakeupException e) {
            // close() asked us to stop
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** What stopped the thread early, if anything did. */
    public Optional<RuntimeException> failure() {
        return Optional.ofNullable(failure);
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.metastream.streams.internals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.LoggerFactory;

/**
 * A consumer that reads every partition of some topics from the beginning on its own daemon
 * thread and hands each poll's records to a handler. Assigned, not subscribed: it joins no group,
 * so every reader sees everything at once, with no rebalance delay (what a control-topic follower
 * and a latency-measuring observer both need).
 *
 * <p>By default a failure of the consumer or the handler ends the thread ({@link #failure()}).
 * With {@link #restartOnFailure} it opens a new consumer after a growing backoff and goes on from
 * the end of the last poll its handler completed: nothing is skipped, and only the records of a
 * poll whose handler failed are handed over again.
 */
public final class AssignedConsumerThread implements AutoCloseable {
    /** Told about every failure and every recovery of a restarting thread, on that thread. */
    public interface FailureListener {
        /** The consumer failed; the next attempt comes after {@code backoff}. */
        void failed(RuntimeException error, int consecutiveFailures, Duration backoff);

        /** A poll succeeded again after {@code failures} consecutive failures. */
        void recovered(int failures);
    }

    private final Map<String, Object> props;
    private final List<String> topics;
    private final Consumer<ConsumerRecords<String, byte[]>> handler;
    private final Thread thread;
    private final Map<TopicPartition, Long> positions = new ConcurrentHashMap<>();
    private final AtomicReference<RuntimeException> injected = new AtomicReference<>();
    private volatile KafkaConsumer<String, byte[]> consumer;
    private volatile boolean running = true;
    private volatile RuntimeException failure;
    private volatile boolean backingOff;
    private volatile int restarts;
    private Duration initialBackoff;
    private Duration maxBackoff;
    private FailureListener listener;

    /** @param extra consumer settings beyond the bootstrap servers, e.g. the isolation level */
    public AssignedConsumerThread(String name, String bootstrapServers, Map<String, Object> extra, List<String> topics,
            Consumer<ConsumerRecords<String, byte[]>> handler) {
        this.props = new HashMap<>(extra);
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        this.topics = List.copyOf(topics);
        this.handler = handler;
        this.consumer = open();
        this.thread = new Thread(this::loop, name);
        thread.setDaemon(true);
        // Anything else that ends the thread is still recorded, so isFollowing() and failure() tell.
        thread.setUncaughtExceptionHandler((t, e) -> {
            failure = e instanceof RuntimeException r ? r : new IllegalStateException(t.getName() + " died: " + e, e);
            running = false;
        });
    }

    /**
     * Restarts the consumer after a failure, waiting {@code initial}, then twice as long after
     * each further consecutive failure, up to {@code max}. Call before {@link #start()}.
     */
    public AssignedConsumerThread restartOnFailure(Duration initial, Duration max, FailureListener listener) {
        this.initialBackoff = initial;
        this.maxBackoff = max;
        this.listener = listener;
        return this;
    }

    private final CountDownLatch stopped = new CountDownLatch(1);

    public AssignedConsumerThread start() {
        thread.start();
        return this;
    }

    private KafkaConsumer<String, byte[]> open() {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props, new StringDeserializer(),
                new ByteArrayDeserializer());
        try {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                c.partitionsFor(topic).forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
            }
            c.assign(partitions);
            c.seekToBeginning(partitions);
            positions.forEach((tp, offset) -> {
                if (partitions.contains(tp)) {
                    c.seek(tp, offset);
                }
            });
            return c;
        } catch (RuntimeException e) {
            c.close(Duration.ZERO);
            throw e;
        }
    }

    private void loop() {
        int consecutive = 0;
        Duration backoff = initialBackoff;
        while (running) {
            try {
                if (consumer == null) {
                    consumer = open();
                }
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(50));
                RuntimeException simulated = injected.getAndSet(null);
                if (simulated != null) {
                    throw simulated;
                }
                handler.accept(records);
                // Positions, not last offsets: transaction markers take offsets too.
                for (TopicPartition tp : consumer.assignment()) {
                    positions.put(tp, consumer.position(tp));
                }
                if (consecutive > 0) {
                    int recovered = consecutive;
                    tell(() -> listener.recovered(recovered));
                    consecutive = 0;
                    backoff = initialBackoff;
                }
            } catch (WakeupException e) {
                // close() asked us to stop
            } catch (RuntimeException | OutOfMemoryError | StackOverflowError thrown) {
                // An Error one poll's records can cause is a failure like any other: the thread
                // survives it (or, without a restart policy, ends with it recorded), never dies silently.
                RuntimeException e = thrown instanceof RuntimeException r ? r
                        : new IllegalStateException("the handler threw " + thrown, thrown);
                if (!running) {
                    break; // close() interrupted a poll
                }
                failure = e;
                closeConsumer();
                if (listener == null) {
                    break;
                }
                consecutive++;
                restarts++;
                int failures = consecutive;
                Duration wait = backoff;
                tell(() -> listener.failed(e, failures, wait));
                backingOff = true;
                try {
                    if (stopped.await(backoff.toMillis(), TimeUnit.MILLISECONDS)) {
                        break;
                    }
                } catch (InterruptedException interrupted) {
                    break;
                } finally {
                    backingOff = false;
                }
                backoff = backoff.multipliedBy(2).compareTo(maxBackoff) > 0 ? maxBackoff : backoff.multipliedBy(2);
            }
        }
        closeConsumer();
    }

    /** Runs a listener call; a listener that throws must not end the thread it listens to. */
    private void tell(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException | StackOverflowError e) {
            LoggerFactory.getLogger(AssignedConsumerThread.class).error("{}: failure listener threw",
                    thread.getName(), e);
        }
    }

    private void closeConsumer() {
        KafkaConsumer<String, byte[]> c = consumer;
        consumer = null;
        if (c != null) {
            try {
                c.close(Duration.ofSeconds(5));
            } catch (RuntimeException ignored) {
                // a consumer that failed may fail to close; the next one is new
            }
        }
    }

    /** What stopped the thread, or (when restarting) its most recent failure, if anything. */
    public Optional<RuntimeException> failure() {
        return Optional.ofNullable(failure);
    }

    /** Whether it is following its topics now: started, not stopped, not waiting to restart. */
    public boolean isFollowing() {
        return thread.isAlive() && running && !backingOff;
    }

    /**
     * Whether the handler has seen every record before {@code offsets} (say, the end offsets of
     * the moment): a reader synchronises on this instead of waiting a while.
     */
    public boolean handledUpTo(Map<TopicPartition, Long> offsets) {
        return offsets.entrySet().stream().allMatch(e -> e.getValue() <= positions.getOrDefault(e.getKey(), 0L));
    }

    /** Failures it restarted after. */
    public int restarts() {
        return restarts;
    }

    /**
     * Makes the next poll fail with {@code error}, as a broken consumer would: for tests and
     * failure drills of what depends on this thread.
     */
    public void simulateFailure(RuntimeException error) {
        injected.set(error);
    }

    @Override
    public void close() {
        running = false;
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        // No interrupt: it would reach KafkaConsumer.close on this thread's way out and log an
        // InterruptException stack on every shutdown. The wake-up ends a poll, the latch a backoff.
        stopped.countDown();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.metastream.streams;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Dead letters produced by Kafka Streams' exception handlers, which run outside any processor and
 * so cannot reach the stream metrics; one instance per application, handed to the handlers
 * through their configuration map.
 */
public final class DeadLetterCounters {
    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
    private final MetastreamMetrics metrics;

    /** Counts kept here only. */
    public DeadLetterCounters() {
        this(MetastreamMetrics.none());
    }

    /** Counts kept here and in {@code metrics}' {@code metastream_dead_letters_total}. */
    public DeadLetterCounters(MetastreamMetrics metrics) {
        this.metrics = metrics;
    }

    private final LongAdder failed = new LongAdder();

    void failed(String topic) {
        failed.increment();
        metrics.deadLetterFailed(topic);
    }

    /** Dead letters the side producer could not deliver. */
    public long failures() {
        return failed.sum();
    }

    void increment(String topic, RejectReason reason) {
        counts.computeIfAbsent(topic + ":" + reason.name(), k -> new LongAdder()).increment();
        metrics.deadLetter(topic, reason.name());
    }

    /** Counts by {@code <source-topic>:<REASON>}. */
    public Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        counts.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }
}

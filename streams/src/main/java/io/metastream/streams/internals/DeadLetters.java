package io.metastream.streams.internals;

import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.RejectReason;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Sends rejected records to the dead-letter sink with their origin (topic, partition, offset),
 * their original bytes and the reason, and counts them per reason in the stream metrics
 * ({@code dead-letters-total}, group {@code stream-metastream-metrics}, tag {@code metastream-id}
 * = {@code <source-topic>:<REASON>}).
 */
public final class DeadLetters {
    static final String METRIC_SCOPE = "metastream";
    static final String METRIC_OPERATION = "dead-letters";
    private static final AvroCodec<DeadLetter> CODEC = AvroCodec.of(DeadLetter.class);

    private final ProcessorContext<String, SpecificRecord> context;
    private final String sinkName;
    private final int maxValueBytes;
    private final MetastreamMetrics metrics;
    private final Map<RejectReason, Sensor> sensors = new EnumMap<>(RejectReason.class);

    DeadLetters(ProcessorContext<String, SpecificRecord> context, String sinkName, MetastreamMetrics metrics,
            int maxValueBytes) {
        this.metrics = metrics;
        this.context = context;
        this.sinkName = sinkName;
        this.maxValueBytes = maxValueBytes;
    }

    void send(Record<byte[], byte[]> record, InputValidator.Outcome<?> outcome) {
        send(record.key(), record.value(), record.timestamp(), outcome.reason(), outcome.errorClass(),
                outcome.detail());
    }

    /** Dead-letters the record being processed, or (from a punctuator) the bytes of a stored one. */
    void send(byte[] key, byte[] value, long timestamp, RejectReason reason, String errorClass, String detail) {
        send(null, key, value, timestamp, reason, errorClass, detail);
    }

    /**
     * As {@link #send(byte[], byte[], long, RejectReason, String, String)}, naming the source topic
     * where the record metadata cannot: a punctuator's carries none, but a stored query knows it
     * came from the queries topic.
     *
     * @param sourceTopic the topic the bytes came from, or {@code null} for the record metadata's
     */
    void send(String sourceTopic, byte[] key, byte[] value, long timestamp, RejectReason reason, String errorClass,
            String detail) {
        RecordMetadata meta = context.recordMetadata().orElse(null);
        // A punctuator's record metadata carries no topic (null), as does a record made by the application.
        String topic = sourceTopic != null ? sourceTopic
                : meta == null || meta.topic() == null ? "unknown" : meta.topic();
        DeadLetter letter = letter(topic, meta == null ? -1 : meta.partition(), meta == null ? -1 : meta.offset(),
                key, value, reason, errorClass, detail, maxValueBytes);
        String keyText = key == null ? null : new String(key, StandardCharsets.UTF_8);
        context.forward(new Record<String, SpecificRecord>(keyText, letter, timestamp), sinkName);
        sensors.computeIfAbsent(reason, r -> context.metrics().addRateTotalSensor(
                METRIC_SCOPE, topic + ":" + r.name(), METRIC_OPERATION, Sensor.RecordingLevel.INFO)).record();
        metrics.deadLetter(topic, reason.name());
    }

    /** A dead letter whose value keeps at most {@code maxValueBytes} of the original. */
    public static DeadLetter letter(String topic, int partition, long offset, byte[] key, byte[] value, RejectReason reason,
            String errorClass, String detail, int maxValueBytes) {
        String why = detail;
        byte[] kept = value;
        if (value != null && value.length > maxValueBytes) {
            kept = Arrays.copyOf(value, maxValueBytes);
            why = detail + " (value cut from " + value.length + " to " + maxValueBytes + " bytes)";
        }
        return DeadLetter.newBuilder()
                .setSourceTopic(topic == null ? "unknown" : topic)
                .setPartition(partition)
                .setOffset(offset)
                .setKey(key == null ? null : ByteBuffer.wrap(key))
                .setValue(kept == null ? null : ByteBuffer.wrap(kept))
                .setReasonCode(reason.name())
                .setErrorClass(errorClass)
                .setReason(why)
                .setRejectedAt(Instant.now())
                .build();
    }

    public static byte[] encode(DeadLetter letter) {
        return CODEC.encode(letter);
    }
}

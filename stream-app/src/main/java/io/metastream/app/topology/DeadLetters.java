package io.metastream.app.topology;

import io.metastream.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
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
final class DeadLetters {
    static final String METRIC_SCOPE = "metastream";
    static final String METRIC_OPERATION = "dead-letters";

    private final ProcessorContext<String, SpecificRecord> context;
    private final String sinkName;
    private final Map<RejectReason, Sensor> sensors = new EnumMap<>(RejectReason.class);

    DeadLetters(ProcessorContext<String, SpecificRecord> context, String sinkName) {
        this.context = context;
        this.sinkName = sinkName;
    }

    void send(Record<byte[], byte[]> record, InputValidator.Outcome<?> outcome) {
        RecordMetadata meta = context.recordMetadata().orElse(null);
        String topic = meta == null ? "unknown" : meta.topic();
        DeadLetter letter = DeadLetter.newBuilder()
                .setSourceTopic(topic)
                .setPartition(meta == null ? -1 : meta.partition())
                .setOffset(meta == null ? -1 : meta.offset())
                .setKey(record.key() == null ? null : ByteBuffer.wrap(record.key()))
                .setValue(record.value() == null ? null : ByteBuffer.wrap(record.value()))
                .setReasonCode(outcome.reason().name())
                .setErrorClass(outcome.errorClass())
                .setReason(outcome.detail())
                .setRejectedAt(Instant.now())
                .build();
        String key = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
        context.forward(new Record<String, SpecificRecord>(key, letter, record.timestamp()), sinkName);
        sensors.computeIfAbsent(outcome.reason(), reason -> context.metrics().addRateTotalSensor(
                METRIC_SCOPE, topic + ":" + reason.name(), METRIC_OPERATION, Sensor.RecordingLevel.INFO))
                .record();
    }
}

package io.metastream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.state.SupportPoint;
import io.metastream.schemas.state.SupportSet;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class AvroCodecTest {
    private final AvroCodec<LabelledSample> codec = AvroCodec.of(LabelledSample.class);

    private static LabelledSample sample() {
        return LabelledSample.newBuilder().setEventId("e-1").setTaskId("t-7")
                .setFeatures(List.of(1.5f, -2f)).setTarget(0.25f)
                .setEventTime(java.time.Instant.ofEpochMilli(1_700_000_000_123L)).build();
    }

    @Test
    void shouldRoundTripWithSingleObjectHeader() {
        byte[] bytes = codec.encode(sample());
        assertThat(bytes[0]).isEqualTo((byte) 0xC3);
        assertThat(bytes[1]).isEqualTo((byte) 0x01);
        assertThat(codec.decode(bytes)).isEqualTo(sample());
    }

    @Test
    void shouldRoundTripNestedStateRecords() {
        AvroCodec<SupportSet> supportCodec = AvroCodec.of(SupportSet.class);
        SupportSet set = SupportSet.newBuilder()
                .setPoints(List.of(SupportPoint.newBuilder().setEventId("a").setFeatures(List.of(1f))
                        .setTarget(2f).setEventTime(java.time.Instant.ofEpochMilli(5)).build()))
                .setTotalSeen(3).setLastSeen(java.time.Instant.ofEpochMilli(5)).build();
        assertThat(supportCodec.decode(supportCodec.encode(set))).isEqualTo(set);
    }

    @Test
    void shouldRejectGarbageAsBadHeader() {
        assertThatThrownBy(() -> codec.decode("hello world".getBytes()))
                .isInstanceOf(RecordDecodeException.class)
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.BAD_HEADER);
    }

    @Test
    void shouldRejectEmptyBytes() {
        assertThatThrownBy(() -> codec.decode(new byte[0]))
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.EMPTY);
    }

    @Test
    void shouldRejectTruncatedBodyAsMalformed() {
        byte[] bytes = codec.encode(sample());
        byte[] truncated = Arrays.copyOf(bytes, bytes.length - 6);
        assertThatThrownBy(() -> codec.decode(truncated))
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.MALFORMED_BODY);
    }

    @Test
    void shouldRejectUnknownFingerprintAsUnknownSchema() {
        Schema stranger = SchemaBuilder.record("Stranger").fields().requiredInt("x").endRecord();
        GenericRecord r = new GenericData.Record(stranger);
        r.put("x", 1);
        byte[] bytes = toBytes(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), stranger), r);
        assertThatThrownBy(() -> codec.decode(bytes))
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.UNKNOWN_SCHEMA);
    }

    @Test
    void shouldDecodeRecordsWrittenWithEveryHistoricalSchema() {
        List<Schema> history = SchemaHistory.of("DeadLetter");
        assertThat(history).isNotEmpty();
        AvroCodec<DeadLetter> dlq = AvroCodec.of(DeadLetter.class);
        for (Schema old : history) {
            GenericRecord r = new GenericData.Record(old);
            for (Schema.Field f : old.getFields()) {
                r.put(f.name(), switch (f.schema().getType()) {
                    case STRING -> "s-" + f.name();
                    case INT -> 3;
                    case LONG -> 4L;
                    default -> null;
                });
            }
            byte[] bytes = toBytes(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), old), r);
            DeadLetter decoded = dlq.decode(bytes);
            assertThat(decoded.getSourceTopic()).isEqualTo("s-source_topic");
            assertThat(decoded.getPartition()).isEqualTo(3);
        }
    }

    @Test
    void shouldReadAnAdaptedStateWrittenBeforeItHadAnEncodingAsFloat32() {
        Schema v1 = SchemaHistory.of("AdaptedTask").get(0);
        GenericRecord r = new GenericData.Record(v1);
        r.put("base_version", "sinusoid@1");
        r.put("support_size", 10);
        r.put("state", ByteBuffer.wrap(new byte[] {0, 0, (byte) 0x80, 0x3f}));
        r.put("loss_before", 1f);
        r.put("loss_after", 0.5f);
        r.put("adapted_at", 1_700_000_000_000L);
        byte[] bytes = toBytes(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1), r);
        io.metastream.schemas.state.AdaptedTask decoded =
                AvroCodec.of(io.metastream.schemas.state.AdaptedTask.class).decode(bytes);
        assertThat(decoded.getStateEncoding()).as("0 = little-endian float32").isEqualTo(0);
        assertThat(decoded.getNewestSampleTime()).isEqualTo(java.time.Instant.EPOCH);
        assertThat(decoded.getState().remaining()).isEqualTo(4);
    }

    @Test
    void shouldReadAModelChangeWrittenBeforeItCarriedADigest() {
        Schema v1 = SchemaHistory.of("ModelChange").get(0);
        assertThat(v1.getField("artifact_digest")).isNull();
        GenericRecord r = new GenericData.Record(v1);
        r.put("model_name", "sine");
        r.put("alias", "production");
        r.put("version", "3");
        r.put("previous_version", "2");
        r.put("action", "promote");
        r.put("changed_at", 1_700_000_000_000L);
        byte[] bytes = toBytes(new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1), r);
        io.metastream.schemas.ModelChange decoded = AvroCodec.of(io.metastream.schemas.ModelChange.class).decode(bytes);
        assertThat(decoded.getVersion()).isEqualTo("3");
        assertThat(decoded.getArtifactDigest()).as("no digest: accepted on the store's own checksums").isNull();
    }

    @Test
    void shouldWrapDecodeFailureInKafkaSerializationException() {
        AvroSerde<LabelledSample> serde = new AvroSerde<>(LabelledSample.class);
        assertThat(serde.deserializer().deserialize("t", serde.serializer().serialize("t", sample())))
                .isEqualTo(sample());
        assertThatThrownBy(() -> serde.deserializer().deserialize("samples", new byte[] {1, 2, 3}))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("samples")
                .hasCauseInstanceOf(RecordDecodeException.class);
    }

    private static byte[] toBytes(BinaryMessageEncoder<GenericRecord> encoder, GenericRecord r) {
        try {
            ByteBuffer b = encoder.encode(r);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

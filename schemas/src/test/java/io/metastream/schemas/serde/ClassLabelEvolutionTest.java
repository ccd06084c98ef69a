package io.metastream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.schemas.ClassScore;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.state.AdaptedTask;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;

/**
 * Class labels on the wire (LabelledSample v2, Prediction v3, AdaptedTask v3) next to the records
 * written before them: old bytes decode with today's classes, labels and scores null (or empty), and
 * the new records resolve against every older schema, so a consumer that reads with an older schema
 * and the writer's (the schema registry's path) still reads them. The golden files are bytes an
 * older producer wrote: they pin the history files as well as the decoding.
 */
class ClassLabelEvolutionTest {
    private static final Instant TIME = Instant.ofEpochMilli(1_700_000_000_123L);

    @Test
    void shouldDecodeASampleWrittenBeforeLabelsAsOneWithoutALabel() {
        Schema v1 = SchemaHistory.of("LabelledSample").get(0);
        assertThat(v1.getField("label")).isNull();
        GenericRecord old = new GenericData.Record(v1);
        old.put("event_id", "e-1");
        old.put("task_id", "t-7");
        old.put("features", List.of(1.5f, -2f));
        old.put("target", 0.25f);
        old.put("event_time", TIME.toEpochMilli());
        byte[] bytes = EvolutionBytes.singleObject(v1, old);
        assertThat(bytes).as("the v1 history file still writes what v1 producers wrote")
                .isEqualTo(EvolutionBytes.golden("labelled-sample-v1.bin"));

        LabelledSample decoded = AvroCodec.of(LabelledSample.class).decode(EvolutionBytes.golden("labelled-sample-v1.bin"));
        assertThat(decoded.getLabel()).isNull();
        assertThat(decoded.getEventId()).isEqualTo("e-1");
        assertThat(decoded.getFeatures()).containsExactly(1.5f, -2f);
        assertThat(decoded.getTarget()).isEqualTo(0.25f);
        assertThat(decoded.getEventTime()).isEqualTo(TIME);
    }

    @Test
    void shouldDecodePredictionsWrittenBeforeLabelsWithoutLabelOrScores() {
        List<Schema> history = SchemaHistory.of("Prediction");
        AvroCodec<Prediction> codec = AvroCodec.of(Prediction.class);
        for (int v = 1; v <= 2; v++) {
            Schema old = history.get(v - 1);
            GenericRecord r = new GenericData.Record(old);
            r.put("query_id", "q-1");
            r.put("task_id", "t-7");
            r.put("value", 0.75f);
            r.put("model_version", "sine@3");
            r.put("support_size", 5);
            r.put("adapted", true);
            r.put("latency_micros", 1_234L);
            if (v == 2) {
                r.put("adapted_through", TIME.toEpochMilli());
            }
            String file = "prediction-v" + v + ".bin";
            assertThat(EvolutionBytes.singleObject(old, r)).as(file).isEqualTo(EvolutionBytes.golden(file));

            Prediction decoded = codec.decode(EvolutionBytes.golden(file));
            assertThat(decoded.getLabel()).as(file).isNull();
            assertThat(decoded.getScores()).as(file).isNull();
            assertThat(decoded.getValue()).isEqualTo(0.75f);
            assertThat(decoded.getSupportSize()).isEqualTo(5);
            assertThat(decoded.getAdaptedThrough()).as(file).isEqualTo(v == 1 ? Instant.EPOCH : TIME);
        }
    }

    @Test
    void shouldDecodeAnAdaptedStateWrittenBeforeLabelsWithNoClasses() {
        Schema v2 = SchemaHistory.of("AdaptedTask").get(1);
        GenericRecord r = new GenericData.Record(v2);
        r.put("base_version", "sine@3");
        r.put("support_size", 4);
        r.put("state", ByteBuffer.wrap(new byte[] {0, 0, (byte) 0x80, 0x3f}));
        r.put("loss_before", 1f);
        r.put("loss_after", 0.5f);
        r.put("adapted_at", TIME.toEpochMilli());
        r.put("newest_sample_time", TIME.toEpochMilli());
        r.put("state_encoding", 0);
        AdaptedTask decoded = AvroCodec.of(AdaptedTask.class).decode(EvolutionBytes.singleObject(v2, r));
        assertThat(decoded.getLabels()).isEmpty();
        assertThat(decoded.getSupportSize()).isEqualTo(4);
    }

    @Test
    void shouldRoundTripLabelsAndScores() {
        LabelledSample sample = labelledSample();
        AvroCodec<LabelledSample> samples = AvroCodec.of(LabelledSample.class);
        assertThat(samples.decode(samples.encode(sample))).isEqualTo(sample);
        Prediction prediction = classified();
        AvroCodec<Prediction> predictions = AvroCodec.of(Prediction.class);
        assertThat(predictions.decode(predictions.encode(prediction))).isEqualTo(prediction);
    }

    @Test
    void shouldLetAReaderWithAnOlderSchemaReadRecordsWithLabels() {
        // What a consumer built before labels does when it is told the writer's schema (the schema
        // registry's wire format): Avro resolution skips the fields it does not know.
        for (Schema old : SchemaHistory.of("LabelledSample")) {
            GenericRecord read = EvolutionBytes.resolve(labelledSample(), old);
            assertThat(read.get("event_id").toString()).isEqualTo("e-2");
            assertThat(read.get("target")).isEqualTo(0f);
            assertThat(read.get("event_time")).isEqualTo(TIME.toEpochMilli());
            assertThat(read.getSchema().getField("label") == null || "é-folder".equals(read.get("label").toString()))
                    .as("v%d reads the label when it knows it", SchemaHistory.of("LabelledSample").indexOf(old) + 1)
                    .isTrue();
        }
        for (Schema old : SchemaHistory.of("Prediction").subList(0, 2)) {
            GenericRecord read = EvolutionBytes.resolve(classified(), old);
            assertThat(read.get("query_id").toString()).isEqualTo("q-2");
            assertThat(read.get("value")).as("the predicted class's probability").isEqualTo(0.7f);
            assertThat(read.getSchema().getField("scores")).isNull();
        }
        for (String name : List.of("LabelledSample", "Prediction", "AdaptedTask")) {
            List<Schema> history = SchemaHistory.of(name);
            Schema newest = history.get(history.size() - 1);
            for (Schema old : history) {
                assertThat(SchemaCompatibility.checkReaderWriterCompatibility(old, newest).getType())
                        .as("%s: an older reader reads the newest writer", name)
                        .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
                assertThat(SchemaCompatibility.checkReaderWriterCompatibility(newest, old).getType())
                        .as("%s: the newest reader reads an older writer", name)
                        .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
            }
        }
    }

    @Test
    void shouldMakeASingleObjectReaderThatPredatesLabelsRefuseThemRatherThanMisreadThem() {
        // Single-object encoding names the writer schema only by fingerprint: a build whose history
        // ends before labels does not know v2's, and refuses the record (UNKNOWN_SCHEMA, a dead
        // letter) instead of reading its bytes with the wrong schema.
        Schema v1 = SchemaHistory.of("LabelledSample").get(0);
        BinaryMessageDecoder<GenericRecord> before = new BinaryMessageDecoder<>(GenericData.get(), v1);
        byte[] labelled = AvroCodec.of(LabelledSample.class).encode(labelledSample());
        assertThatThrownBy(() -> before.decode(labelled)).isInstanceOf(MissingSchemaException.class);
    }

    private static LabelledSample labelledSample() {
        return LabelledSample.newBuilder().setEventId("e-2").setTaskId("t-7").setFeatures(List.of(0f, 1f))
                .setTarget(0f).setEventTime(TIME).setLabel("é-folder").build();
    }

    private static Prediction classified() {
        return Prediction.newBuilder().setQueryId("q-2").setTaskId("t-7").setValue(0.7f)
                .setModelVersion("omniglot@1").setSupportSize(10).setAdapted(true).setLatencyMicros(99L)
                .setAdaptedThrough(TIME).setLabel("b")
                .setScores(List.of(new ClassScore("b", 0.7f), new ClassScore("a", 0.3f))).build();
    }
}

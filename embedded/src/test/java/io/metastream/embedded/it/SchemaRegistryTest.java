package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.metastream.embedded.TopicReader;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.server.MetastreamApp;
import io.metastream.server.PrometheusText;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import io.metastream.testkit.SchemaRegistryStandIn;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Producers that write the schema registry's wire format, on a real broker: their samples and
 * queries are answered exactly as the same records in single-object encoding are, outputs are
 * written in that format too, and an unknown id or an unreadable schema is a dead letter with its
 * reason, counted. Runs against the test kit's stand-in always and against a real registry when
 * {@value #REAL_REGISTRY} names one.
 */
@Tag("embedded-broker")
class SchemaRegistryTest {
    /** The environment variable naming a real registry's Confluent-compatible API root. */
    static final String REAL_REGISTRY = "METASTREAM_TEST_SCHEMA_REGISTRY_URL";
    private static final int SHOTS = 5;

    @TempDir
    Path dir;

    @Test
    void shouldAnswerRegistryProducersAndDeadLetterUnknownAndUnreadableSchemas() throws Exception {
        try (SchemaRegistryStandIn registry = SchemaRegistryStandIn.start()) {
            exercise(registry.url());
            assertThat(registry.versions("predictions-value")).as("the pipeline registered its output schema")
                    .hasSize(1);
        }
    }

    @Test
    void shouldFailTheStartWhenTheRegistryRefusesTheOutputSchemasAndRegisterThemBeforeAnyRecord() throws Exception {
        try (SchemaRegistryStandIn registry = SchemaRegistryStandIn.start();
                StreamingFixture f = new StreamingFixture(dir)) {
            registry.requireAuthorization("Basic " + java.util.Base64.getEncoder().encodeToString(
                    "app:s3cret".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            f.store.setAlias(MODEL, "production", f.publishVersion(1).version());
            // Refused credentials: the start fails with the registry's answer, not every output record later.
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> f.startInstance("refused", Map.of(
                    MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, registry.url(),
                    MetastreamConfig.SCHEMA_REGISTRY_OUTPUTS_CONFIG, true)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("schema.registry.outputs")
                    .hasMessageContaining("HTTP 401");
            assertThat(registry.versions(f.topics.predictions().name() + "-value")).isEmpty();

            // The credentials in the URL (moved out of it by the configuration) are accepted.
            f.startInstance("accepted", Map.of(
                    MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, registry.url().replace("http://", "http://app:s3cret@"),
                    MetastreamConfig.SCHEMA_REGISTRY_OUTPUTS_CONFIG, true));
            for (String topic : List.of(f.topics.predictions().name(), f.topics.adaptations().name(),
                    f.topics.deadLetters().name())) {
                assertThat(registry.versions(topic + "-value")).as("%s registered before any record", topic)
                        .hasSize(1);
            }
        }
    }

    @Test
    void shouldDoTheSameAgainstARealRegistry() throws Exception {
        String url = System.getenv(REAL_REGISTRY);
        assumeTrue(url != null && !url.isBlank(), "no real schema registry: set " + REAL_REGISTRY
                + " to its Confluent-compatible API root (Apicurio: http://host:8080/apis/ccompat/v7, Confluent: "
                + "http://host:8081) to run this test against it. None is started here: the Apicurio Registry on "
                + "Maven Central is a Quarkus application whose jar does not run on its own, and Confluent's is not "
                + "on Maven Central.");
        exercise(url);
    }

    private void exercise(String url) throws Exception {
        SchemaRegistryClient client = new SchemaRegistryClient(url, Duration.ofSeconds(10));
        // Topic names unique per run, so a real registry's earlier subjects do not get in the way.
        String run = UUID.randomUUID().toString().substring(0, 8);
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(MODEL, "production", f.publishVersion(1).version());
            f.readPredictionsWith(AvroSerde.withRegistry(Prediction.class, client).deserializer());
            MetastreamApp app = f.startInstance("registry", Map.of(MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, url,
                    MetastreamConfig.SCHEMA_REGISTRY_OUTPUTS_CONFIG, true));
            Topics wire = f.topics.withRegistry(client);

            // The same support and query for three tasks: in the registry's format with metastream's
            // schema, with a producer's own newer schema (one more field), and in single-object encoding.
            Random random = new Random(11);
            List<float[]> xy = new ArrayList<>();
            for (int i = 0; i < SHOTS; i++) {
                float x = random.nextFloat() * 10 - 5;
                xy.add(new float[] {x, (float) (2 * Math.sin(x + 0.5))});
            }
            String byMetastreamSchema = "wire-" + run;
            String byOwnSchema = "own-" + run;
            String bySingleObject = "single-" + run;
            Schema own = producersOwnSchema();
            int ownId = client.register(f.topics.samples().name() + "-value", own);
            for (int i = 0; i < SHOTS; i++) {
                f.send(f.topics.samples().name(), byMetastreamSchema, wire.samples().valueSerde().serializer()
                        .serialize(f.topics.samples().name(), sample(byMetastreamSchema, i, xy.get(i))));
                f.send(f.topics.samples().name(), byOwnSchema, wire(ownId, own, ownSample(own, byOwnSchema, i, xy.get(i))));
                f.send(f.topics.samples().name(), bySingleObject,
                        AvroCodec.of(LabelledSample.class).encode(sample(bySingleObject, i, xy.get(i))));
            }
            for (String task : List.of(byMetastreamSchema, byOwnSchema, bySingleObject)) {
                f.send(f.topics.queries().name(), task, wire.queries().valueSerde().serializer()
                        .serialize(f.topics.queries().name(), PredictionRequest.newBuilder().setQueryId(task + "-q")
                                .setTaskId(task).setFeatures(List.of(0.7f)).setEventTime(Instant.now()).build()));
            }
            // An id no registry handed out, and a registered schema that is not a sample at all.
            f.send(f.topics.samples().name(), "unknown-id", new byte[] {0, 0x7f, (byte) 0xff, 0x12, 0x34, 2, 'x'});
            Schema stranger = SchemaBuilder.record("Stranger").namespace("elsewhere").fields().requiredInt("x")
                    .endRecord();
            int strangerId = client.register("strangers-" + run + "-value", stranger);
            GenericRecord s = new GenericData.Record(stranger);
            s.put("x", 3);
            f.send(f.topics.samples().name(), "stranger", wire(strangerId, stranger, s));
            f.producer.flush();

            List<String> queries = List.of(byMetastreamSchema + "-q", byOwnSchema + "-q", bySingleObject + "-q");
            await(Duration.ofSeconds(60), "the three queries answered", () -> f.answered(queries));
            Prediction reference = f.prediction(bySingleObject + "-q");
            assertThat(reference.getAdapted()).isTrue();
            assertThat(reference.getSupportSize()).isEqualTo(SHOTS);
            for (String q : queries) {
                Prediction p = f.prediction(q);
                assertThat(p.getSupportSize()).as(q).isEqualTo(SHOTS);
                assertThat(p.getValue()).as("%s answered from the same support", q)
                        .isCloseTo(reference.getValue(), within(1e-5f));
            }

            try (TopicReader<String, byte[]> letters = new TopicReader<>(f.broker.bootstrapServers(),
                    f.topics.deadLetters().name(), new StringDeserializer(), new ByteArrayDeserializer());
                    TopicReader<String, byte[]> predictions = new TopicReader<>(f.broker.bootstrapServers(),
                            f.topics.predictions().name(), new StringDeserializer(), new ByteArrayDeserializer())) {
                List<ConsumerRecord<String, byte[]>> raw = letters.readAtLeast(2, Duration.ofSeconds(30));
                Map<String, DeadLetter> byKey = raw.stream().collect(Collectors.toMap(ConsumerRecord::key,
                        r -> wire.deadLetters().valueSerde().deserializer().deserialize(r.topic(), r.value())));
                assertThat(byKey.get("unknown-id").getReasonCode()).isEqualTo("UNKNOWN_SCHEMA");
                assertThat(byKey.get("unknown-id").getReason()).contains(String.valueOf(0x7fff1234));
                assertThat(byKey.get("stranger").getReasonCode()).isEqualTo("INCOMPATIBLE_SCHEMA");
                assertThat(raw).as("dead letters in the registry's format").allSatisfy(r -> assertThat(r.value()[0])
                        .isZero());
                assertThat(predictions.readAtLeast(3, Duration.ofSeconds(30)))
                        .as("predictions in the registry's format").allSatisfy(r -> assertThat(r.value()[0]).isZero());
            }
            PrometheusText metrics = PrometheusText.parse(((PrometheusMeterRegistry) app.registry()).scrape());
            assertThat(metrics.sum("metastream_dead_letters_total", "reason", "UNKNOWN_SCHEMA")).isEqualTo(1);
            assertThat(metrics.sum("metastream_dead_letters_total", "reason", "INCOMPATIBLE_SCHEMA")).isEqualTo(1);
            assertThat(metrics.sum("metastream_samples_total")).isEqualTo(3 * SHOTS);
        }
    }

    private static LabelledSample sample(String task, int i, float[] xy) {
        return LabelledSample.newBuilder().setEventId(task + "-s" + i).setTaskId(task).setFeatures(List.of(xy[0]))
                .setTarget(xy[1]).setEventTime(Instant.now()).build();
    }

    /** A producer's own version of the sample schema: one more field, with a default. */
    private static Schema producersOwnSchema() {
        Schema ours = LabelledSample.getClassSchema();
        SchemaBuilder.FieldAssembler<Schema> fields = SchemaBuilder.record(ours.getName())
                .namespace(ours.getNamespace()).fields();
        for (Schema.Field field : ours.getFields()) {
            fields = fields.name(field.name()).type(field.schema()).noDefault();
        }
        return fields.name("channel").type().stringType().stringDefault("web").endRecord();
    }

    private static GenericRecord ownSample(Schema own, String task, int i, float[] xy) {
        GenericRecord r = new GenericData.Record(own);
        r.put("event_id", task + "-s" + i);
        r.put("task_id", task);
        r.put("features", List.of(xy[0]));
        r.put("target", xy[1]);
        r.put("event_time", Instant.now().toEpochMilli());
        r.put("channel", "app");
        return r;
    }

    /** What a Confluent serializer writes: magic 0, the schema id, the Avro body. */
    private static byte[] wire(int id, Schema schema, GenericRecord record) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return out.toByteArray();
    }
}

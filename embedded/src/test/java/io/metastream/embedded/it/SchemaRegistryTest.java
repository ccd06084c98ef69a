package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.metastream.embedded.BrokerCertificates;
import io.metastream.embedded.TopicReader;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.serde.RegistryAvroCodec;
import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.server.MetastreamApp;
import io.metastream.server.PrometheusText;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import io.metastream.testkit.ApicurioRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Producers that write the schema registry's wire format, on a real broker and a real registry (the
 * test kit's Apicurio Registry, one for the class, over HTTPS with basic authentication, configured
 * through metastream's own keys): their samples and queries are answered exactly as the same
 * records in single-object encoding are, outputs are written in that format too, and an unknown id
 * or an unreadable schema is a dead letter with its reason, counted. A registry that refuses the
 * credentials or (lookup-only) lacks the output schemas fails the start with its answer.
 */
@Tag("embedded-broker")
class SchemaRegistryTest {
    private static final int SHOTS = 5;
    private static final String USER_INFO = "metastream:s3cret";
    private static BrokerCertificates certificates;
    private static ApicurioRegistry registry;

    @TempDir
    static Path certificateDir;
    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        certificates = BrokerCertificates.generate(certificateDir);
        registry = ApicurioRegistry.builder().name(SchemaRegistryTest.class.getSimpleName())
                .basicAuth("metastream", "s3cret").tls(certificates.keyStore(), certificates.password()).start();
    }

    @AfterAll
    static void stop() {
        if (registry != null) {
            registry.close();
        }
    }

    /** The registry settings of an instance: HTTPS, the test certificate trusted, basic credentials. */
    private static Map<String, Object> settings(String userInfo, boolean autoRegister) {
        return Map.of(MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, registry.httpsUrl(),
                MetastreamConfig.SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG, userInfo,
                MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG, certificates.trustStore().toString(),
                MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD_CONFIG, certificates.password(),
                MetastreamConfig.SCHEMA_REGISTRY_OUTPUTS_CONFIG, true,
                MetastreamConfig.SCHEMA_REGISTRY_AUTO_REGISTER_CONFIG, autoRegister);
    }

    /** A client configured as an instance's is: for the test's own producers and readers. */
    private static SchemaRegistryClient client(Map<String, Object> registrySettings) {
        Map<String, Object> props = new HashMap<>(registrySettings);
        props.put(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        return new MetastreamConfig(props).schemaRegistry().orElseThrow();
    }

    @Test
    void shouldFailTheStartOnARefusalThenAnswerRegistryProducersAndDeadLetterUnknownAndUnreadableSchemas()
            throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(MODEL, "production", f.publishVersion(1).version());
            List<String> outputSubjects = List.of(f.topics.predictions().name(), f.topics.adaptations().name(),
                    f.topics.deadLetters().name()).stream().map(RegistryAvroCodec::valueSubject).toList();

            // Refused credentials: the start fails with the registry's answer, not every output record later.
            assertThatThrownBy(() -> f.startInstance("refused", settings("metastream:wrong", true)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("schema.registry.outputs")
                    .hasMessageContaining("HTTP 401");
            // Lookup-only, and nobody registered the output schemas: the start names the missing subject.
            assertThatThrownBy(() -> f.startInstance("lookup-only", settings(USER_INFO, false)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("is not registered under subject")
                    .hasMessageContaining("schema.registry.auto.register=false");
            for (String subject : outputSubjects) {
                assertThat(registry.versions(subject)).as("%s: nothing registered by a refused start", subject)
                        .isEmpty();
            }

            Map<String, Object> accepted = settings(USER_INFO, true);
            SchemaRegistryClient client = client(accepted);
            f.readPredictionsWith(AvroSerde.withRegistry(Prediction.class, client).deserializer());
            MetastreamApp app = f.startInstance("registry", accepted);
            for (String subject : outputSubjects) {
                assertThat(registry.versions(subject)).as("%s registered before any record", subject).hasSize(1);
            }
            exercise(f, app, client);
        }
    }

    @Test
    void shouldTrustTheRegistrysCertificateFromATrustStoreOrAPemFileAndRefuseItOtherwise() {
        Map<String, Object> pkcs12 = settings(USER_INFO, true);
        int id = client(pkcs12).register("tls-value", LabelledSample.getClassSchema());

        Map<String, Object> pem = new HashMap<>(pkcs12);
        pem.put(MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG, certificates.certificate().toString());
        pem.put(MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
        pem.remove(MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD_CONFIG);
        assertThat(client(pem).schema(id)).contains(LabelledSample.getClassSchema());
        // Lookup-only over the same trust: the registered schema is found, another is not registered.
        pem.put(MetastreamConfig.SCHEMA_REGISTRY_AUTO_REGISTER_CONFIG, false);
        assertThat(client(pem).register("tls-value", LabelledSample.getClassSchema())).isEqualTo(id);
        assertThatThrownBy(() -> client(pem).register("tls-value", Prediction.getClassSchema()))
                .isInstanceOf(SchemaRegistryClient.IncompatibleSchemaException.class)
                .hasMessageContaining("lookup-only");
        assertThat(registry.versions("tls-value")).containsExactly(1);

        // The JVM's default trust does not cover the test certificate: the handshake fails, named as such.
        Map<String, Object> untrusted = new HashMap<>(pkcs12);
        untrusted.remove(MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG);
        untrusted.put(MetastreamConfig.SCHEMA_REGISTRY_RETRIES_CONFIG, 0);
        assertThatThrownBy(() -> client(untrusted).schema(id))
                .isInstanceOf(SchemaRegistryClient.RegistryUnavailableException.class)
                .hasMessageContaining("SSLHandshakeException");
    }

    private void exercise(StreamingFixture f, MetastreamApp app, SchemaRegistryClient client) throws Exception {
        Topics wire = f.topics.withRegistry(client);

        // The same support and query for three tasks: in the registry's format with metastream's
        // schema, with a producer's own newer schema (one more field), and in single-object encoding.
        Random random = new Random(11);
        List<float[]> xy = new ArrayList<>();
        for (int i = 0; i < SHOTS; i++) {
            float x = random.nextFloat() * 10 - 5;
            xy.add(new float[] {x, (float) (2 * Math.sin(x + 0.5))});
        }
        String byMetastreamSchema = "wire";
        String byOwnSchema = "own";
        String bySingleObject = "single";
        Schema own = producersOwnSchema();
        // The producers register their schemas: metastream's through the serializer, their own directly.
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
        assertThat(registry.versions(f.topics.samples().name() + "-value")).as("two producers' schemas").hasSize(2);
        // An id no registry handed out, and a registered schema that is not a sample at all.
        f.send(f.topics.samples().name(), "unknown-id", new byte[] {0, 0x7f, (byte) 0xff, 0x12, 0x34, 2, 'x'});
        Schema stranger = SchemaBuilder.record("Stranger").namespace("elsewhere").fields().requiredInt("x")
                .endRecord();
        int strangerId = client.register("strangers-value", stranger);
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

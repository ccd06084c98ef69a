package io.metastream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.schemas.LabelledSample;
import io.metastream.testkit.ApicurioRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The wire format, registration, lookup, compatibility refusals, basic authentication and the
 * lookup-only mode against a real registry: the test kit's Apicurio Registry, one for the class,
 * requiring basic authentication. Each test uses subjects of its own. What a real registry cannot
 * be made to do (fail on purpose, trickle an answer, count the calls it got, check a bearer token
 * without an identity server) is in {@link SchemaRegistryFaultTest}, against the stand-in.
 */
class RegistryAvroCodecTest {
    private static final String USER = "metastream";
    private static final String PASSWORD = "s3cret+pw";
    private static ApicurioRegistry registry;

    @BeforeAll
    static void start() {
        registry = ApicurioRegistry.builder().name(RegistryAvroCodecTest.class.getSimpleName())
                .basicAuth(USER, PASSWORD).start();
    }

    @AfterAll
    static void stop() {
        if (registry != null) {
            registry.close();
        }
    }

    private static SchemaRegistryClient.Builder clientOf(String url) {
        return SchemaRegistryClient.builder(url).timeout(Duration.ofSeconds(10));
    }

    private static SchemaRegistryClient client() {
        return clientOf(registry.url()).basicAuth(USER + ":" + PASSWORD).build();
    }

    private static LabelledSample sample() {
        return LabelledSample.newBuilder().setEventId("e-1").setTaskId("t-7").setFeatures(List.of(1.5f, -2f))
                .setTarget(0.25f).setEventTime(Instant.ofEpochMilli(1_700_000_000_123L)).build();
    }

    @Test
    void shouldWriteMagicZeroAndTheRegisteredIdThenReadItBack() {
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, client());
        byte[] bytes = codec.encode("magic-value", sample());
        assertThat(bytes[0]).isEqualTo((byte) 0);
        int id = ByteBuffer.wrap(bytes, 1, 4).getInt();
        assertThat(registry.versions("magic-value")).containsExactly(1);
        assertThat(client().schema(id)).as("a fresh client looks the id up").contains(LabelledSample.getClassSchema());
        assertThat(codec.encode("magic-value", sample())).as("registered once, the same id").isEqualTo(bytes);

        RegistryAvroCodec<LabelledSample> fresh = RegistryAvroCodec.of(LabelledSample.class, client());
        assertThat(fresh.decode(bytes)).isEqualTo(sample());
        assertThat(fresh.decode(bytes)).isEqualTo(sample());
    }

    @Test
    void shouldReadSingleObjectEncodingToo() {
        byte[] single = AvroCodec.of(LabelledSample.class).encode(sample());
        assertThat(RegistryAvroCodec.of(LabelledSample.class, client()).decode(single)).isEqualTo(sample());
    }

    @Test
    void shouldResolveAProducersSchemaThatAddsAField() throws IOException {
        // A producer's own, newer schema: the same record with a field metastream does not know.
        Schema writer = SchemaBuilder.record("LabelledSample").namespace("io.metastream.schemas").fields()
                .requiredString("event_id").requiredString("task_id")
                .name("features").type().array().items().floatType().noDefault()
                .requiredFloat("target")
                .name("source").type().stringType().stringDefault("web")
                .name("event_time").type(LabelledSample.getClassSchema().getField("event_time").schema()).noDefault()
                .endRecord();
        GenericRecord r = new GenericData.Record(writer);
        r.put("event_id", "e-2");
        r.put("task_id", "t-9");
        r.put("features", List.of(3f, 4f));
        r.put("target", 1f);
        r.put("source", "app");
        r.put("event_time", 1_700_000_000_000L);
        int id = client().register("own-schema-value", writer);
        LabelledSample read = RegistryAvroCodec.of(LabelledSample.class, client()).decode(wire(id, writer, r));
        assertThat(read.getTaskId()).isEqualTo("t-9");
        assertThat(read.getFeatures()).containsExactly(3f, 4f);
    }

    @Test
    void shouldCallAnIdTheRegistryDoesNotKnowAnUnknownSchema() {
        byte[] bytes = {0, 0, 0, 0x30, 0x39, 2, 'x'};
        assertThat(client().schema(12345)).isEmpty();
        assertThatThrownBy(() -> RegistryAvroCodec.of(LabelledSample.class, client()).decode(bytes))
                .isInstanceOf(RecordDecodeException.class).hasMessageContaining("12345")
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.UNKNOWN_SCHEMA);
    }

    @Test
    void shouldCallASchemaThatCannotBeReadAsTheRecordIncompatible() throws IOException {
        Schema stranger = SchemaBuilder.record("Stranger").fields().requiredInt("x").endRecord();
        GenericRecord r = new GenericData.Record(stranger);
        r.put("x", 7);
        int id = client().register("stranger-value", stranger);
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, client());
        byte[] bytes = wire(id, stranger, r);
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> codec.decode(bytes)).isInstanceOf(RecordDecodeException.class)
                    .hasMessageContaining("Stranger")
                    .extracting(e -> ((RecordDecodeException) e).reason())
                    .isEqualTo(RecordDecodeException.Reason.INCOMPATIBLE_SCHEMA);
        }
    }

    @Test
    void shouldSurfaceTheRegistrysRefusalOfASchemaItsCompatibilityRuleForbids() {
        String subject = "evolving-value";
        SchemaRegistryClient client = client();
        int first = client.register(subject, LabelledSample.getClassSchema());
        registry.compatibility(subject, "BACKWARD");

        // BACKWARD: the new schema must read what the old one wrote; a new field without a default cannot.
        Schema breaking = withExtraField(SchemaBuilder.record("LabelledSample").namespace("io.metastream.schemas")
                .fields().name("channel").type().stringType().noDefault());
        assertThatThrownBy(() -> client.register(subject, breaking))
                .isInstanceOf(SchemaRegistryClient.IncompatibleSchemaException.class)
                .hasMessageContaining("refused schema io.metastream.schemas.LabelledSample under subject " + subject)
                .hasMessageContaining("HTTP 409").hasMessageContaining("channel");
        assertThat(registry.versions(subject)).as("nothing registered").containsExactly(1);

        // The same field with a default is a compatible evolution: a second version, a new id.
        Schema compatible = withExtraField(SchemaBuilder.record("LabelledSample").namespace("io.metastream.schemas")
                .fields().name("channel").type().stringType().stringDefault("web"));
        assertThat(client.register(subject, compatible)).isNotEqualTo(first);
        assertThat(registry.versions(subject)).containsExactly(1, 2);
    }

    /** LabelledSample's fields after the one {@code fields} starts with. */
    private static Schema withExtraField(SchemaBuilder.FieldAssembler<Schema> fields) {
        for (Schema.Field field : LabelledSample.getClassSchema().getFields()) {
            fields = fields.name(field.name()).type(field.schema()).noDefault();
        }
        return fields.endRecord();
    }

    @Test
    void shouldAuthenticateAndNeverShowTheCredentials() throws IOException {
        SchemaRegistryClient anonymous = clientOf(registry.url()).build();
        assertThatThrownBy(() -> anonymous.register("auth-value", LabelledSample.getClassSchema()))
                .isInstanceOf(SchemaRegistryClient.SchemaRegistryException.class).hasMessageContaining("HTTP 401");
        SchemaRegistryClient wrong = clientOf(registry.url()).basicAuth(USER + ":wrong").build();
        assertThatThrownBy(() -> wrong.register("auth-value", LabelledSample.getClassSchema()))
                .isInstanceOf(SchemaRegistryClient.SchemaRegistryException.class).hasMessageContaining("HTTP 401")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("wrong"));
        assertThat(registry.versions("auth-value")).isEmpty();

        int id = client().register("auth-value", LabelledSample.getClassSchema());
        assertThat(registry.versions("auth-value")).containsExactly(1);

        // Credentials in the URL (the '+' percent-encoded as user info allows) work, and leave it.
        String withUserInfo = registry.url().replace("http://", "http://" + USER + ":s3cret%2Bpw@");
        SchemaRegistryClient inUrl = clientOf(withUserInfo).build();
        assertThat(inUrl.register("auth-value", LabelledSample.getClassSchema())).isEqualTo(id);
        assertThat(inUrl.baseUrl().toString()).doesNotContain("s3cret");

        // No message, log or dead letter shows them, even when the registry cannot be reached.
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class,
                clientOf("http://" + USER + ":" + PASSWORD + "@127.0.0.1:" + closed).retries(0, Duration.ZERO)
                        .build());
        assertThatThrownBy(() -> codec.decode(new byte[] {0, 0, 0, 0, 9, 2}))
                .isInstanceOf(RecordDecodeException.class).hasMessageContaining("unreachable")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret").doesNotContain(USER + ":"))
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.REGISTRY_ERROR);
    }

    @Test
    void shouldRegisterNothingInLookupOnlyMode() {
        SchemaRegistryClient lookupOnly = clientOf(registry.url()).basicAuth(USER + ":" + PASSWORD).lookupOnly(true)
                .build();
        assertThatThrownBy(() -> lookupOnly.register("lookup-only-value", LabelledSample.getClassSchema()))
                .isInstanceOf(SchemaRegistryClient.IncompatibleSchemaException.class)
                .hasMessageContaining("not registered under subject lookup-only-value")
                .hasMessageContaining("schema.registry.auto.register=false");
        assertThat(registry.versions("lookup-only-value")).as("a lookup registers nothing").isEmpty();

        int id = client().register("lookup-only-value", LabelledSample.getClassSchema());
        assertThat(lookupOnly.register("lookup-only-value", LabelledSample.getClassSchema())).isEqualTo(id);
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, lookupOnly);
        assertThat(codec.decode(codec.encode("lookup-only-value", sample()))).isEqualTo(sample());
        assertThat(registry.versions("lookup-only-value")).containsExactly(1);
    }

    @Test
    void shouldCallAHeaderCutShortBad() {
        assertThatThrownBy(() -> RegistryAvroCodec.of(LabelledSample.class, client()).decode(new byte[] {0, 0, 1}))
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.BAD_HEADER);
    }

    static byte[] wire(int id, Schema schema, GenericRecord record) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return out.toByteArray();
    }
}

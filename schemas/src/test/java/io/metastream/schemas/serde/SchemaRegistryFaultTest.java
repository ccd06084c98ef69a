package io.metastream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.metastream.schemas.LabelledSample;
import io.metastream.testkit.SchemaRegistryStandIn;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a real registry cannot be made to do, against the test kit's stand-in: fail on purpose
 * (5xx, a trickled answer, going away), count the calls it got (ids asked once per client, an
 * unknown or refused id remembered), and check a bearer token (Apicurio takes one only from an
 * OIDC identity server). The wire format, registration, lookups, compatibility, basic
 * authentication and the lookup-only mode run against a real registry in
 * {@link RegistryAvroCodecTest}.
 */
class SchemaRegistryFaultTest {
    private SchemaRegistryStandIn registry;
    private SchemaRegistryClient client;

    @BeforeEach
    void start() {
        registry = SchemaRegistryStandIn.start();
        client = freshClient();
    }

    private SchemaRegistryClient freshClient() {
        return new SchemaRegistryClient(registry.url(), Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() {
        registry.close();
    }

    private static LabelledSample sample() {
        return LabelledSample.newBuilder().setEventId("e-1").setTaskId("t-7").setFeatures(List.of(1.5f, -2f))
                .setTarget(0.25f).setEventTime(Instant.ofEpochMilli(1_700_000_000_123L)).build();
    }

    @Test
    void shouldAskAboutAnIdOncePerClient() {
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, client);
        byte[] bytes = codec.encode("samples-value", sample());
        assertThat(bytes[0]).isEqualTo((byte) 0);
        int id = ByteBuffer.wrap(bytes, 1, 4).getInt();
        assertThat(registry.versions("samples-value")).containsExactly(id);
        SchemaRegistryClient other = freshClient();
        assertThat(other.schema(id)).contains(LabelledSample.getClassSchema());

        RegistryAvroCodec<LabelledSample> fresh = RegistryAvroCodec.of(LabelledSample.class, freshClient());
        assertThat(fresh.decode(bytes)).isEqualTo(sample());
        assertThat(fresh.decode(bytes)).isEqualTo(sample());
        assertThat(registry.lookups()).as("an id is asked once per client").isEqualTo(2);
    }

    @Test
    void shouldRememberAnIdRefusedAsIncompatible() throws IOException {
        Schema stranger = SchemaBuilder.record("Stranger").fields().requiredInt("x").endRecord();
        GenericRecord r = new GenericData.Record(stranger);
        r.put("x", 7);
        int id = client.register("samples-value", stranger);
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, freshClient());
        byte[] bytes = wire(id, stranger, r);
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> codec.decode(bytes)).isInstanceOf(RecordDecodeException.class)
                    .extracting(e -> ((RecordDecodeException) e).reason())
                    .isEqualTo(RecordDecodeException.Reason.INCOMPATIBLE_SCHEMA);
        }
        assertThat(registry.lookups()).as("a refused id is remembered").isEqualTo(1);
    }

    @Test
    void shouldCallARegistryThatWentAwayARegistryError() {
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, client);
        registry.close();
        assertThatThrownBy(() -> codec.decode(new byte[] {0, 0, 0, 0, 1, 2}))
                .isInstanceOf(RecordDecodeException.class).hasMessageContaining("unreachable")
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.REGISTRY_ERROR);
    }

    @Test
    void shouldRetryARegistryInTroubleAFewTimesThenGiveUp() {
        SchemaRegistryClient retrying = SchemaRegistryClient.builder(registry.url()).retries(2, Duration.ofMillis(1))
                .build();
        int id = retrying.register("samples-value", LabelledSample.getClassSchema());
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, retrying);
        byte[] bytes = RegistryAvroCodec.of(LabelledSample.class, client).encode("samples-value", sample());
        assertThat(ByteBuffer.wrap(bytes, 1, 4).getInt()).isEqualTo(id);

        registry.failNext(2, 503); // two failures, then an answer: the third attempt succeeds
        RegistryAvroCodec<LabelledSample> fresh = RegistryAvroCodec.of(LabelledSample.class,
                SchemaRegistryClient.builder(registry.url()).retries(2, Duration.ofMillis(1)).build());
        assertThat(fresh.decode(bytes)).isEqualTo(sample());

        registry.failNext(3, 500); // three failures: all attempts spent
        RegistryAvroCodec<LabelledSample> unlucky = RegistryAvroCodec.of(LabelledSample.class,
                SchemaRegistryClient.builder(registry.url()).retries(2, Duration.ofMillis(1)).build());
        assertThatThrownBy(() -> unlucky.decode(bytes)).extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.REGISTRY_ERROR);
        assertThat(codec.decode(bytes)).as("a cached id needs no registry").isEqualTo(sample());
    }

    @Test
    void shouldGiveACallOneDeadlineForHeadersAndBodyAndALookupOneBudget() {
        byte[] bytes = RegistryAvroCodec.of(LabelledSample.class, client).encode("samples-value", sample());
        SchemaRegistryClient impatient = SchemaRegistryClient.builder(registry.url()).timeout(Duration.ofMillis(300))
                .retries(1, Duration.ofMillis(1)).build();
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, impatient);
        int before = registry.requests();
        // Headers at once, then a byte every 100 ms: each answer would take over a minute to arrive.
        registry.slowBodyNext(2, Duration.ofMillis(100));
        // The bound asserted is 25 times the budget (2 x 300 ms + 1 ms): what fails without one is minutes.
        Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(15), () -> catchThrowable(() ->
                codec.decode(bytes)));
        assertThat(thrown).isInstanceOf(RecordDecodeException.class).hasMessageContaining("did not answer")
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.REGISTRY_ERROR);
        assertThat(registry.requests() - before).as("the call and its one retry").isEqualTo(2);
    }

    @Test
    void shouldFailFastWhileTheRegistryIsDownAndProbeItAfterTheCoolDown() throws IOException {
        SchemaRegistryClient guarded = SchemaRegistryClient.builder(registry.url()).retries(2, Duration.ofMillis(1))
                .breaker(Duration.ofSeconds(1)).unknownIdCache(Duration.ZERO).build();
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, guarded);
        byte[] cached = RegistryAvroCodec.of(LabelledSample.class, client).encode("samples-value", sample());
        assertThat(codec.decode(cached)).isEqualTo(sample());
        Schema newer = SchemaBuilder.record("LabelledSample").namespace("io.metastream.schemas").fields()
                .requiredString("event_id").requiredString("task_id")
                .name("features").type().array().items().floatType().noDefault()
                .requiredFloat("target")
                .name("event_time").type(LabelledSample.getClassSchema().getField("event_time").schema()).noDefault()
                .name("source").type().stringType().stringDefault("web")
                .endRecord();
        GenericRecord r = new GenericData.Record(newer);
        r.put("event_id", "e-3");
        r.put("task_id", "t-3");
        r.put("features", List.of(1f));
        r.put("target", 2f);
        r.put("event_time", 1_700_000_000_000L);
        r.put("source", "app");
        byte[] uncached = wire(client.register("samples-value", newer), newer, r);

        registry.failNext(1_000, 503);
        int before = registry.requests();
        assertThatThrownBy(() -> codec.decode(uncached)).extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.REGISTRY_ERROR);
        assertThat(registry.requests() - before).as("one lookup with its two retries").isEqualTo(3);
        // The breaker is open: the next records' lookups fail at once, the registry is not asked.
        for (byte[] bytes : List.of(uncached, new byte[] {0, 0, 0, 0x30, 0x39, 2, 'x'})) {
            assertThatThrownBy(() -> codec.decode(bytes)).isInstanceOf(RecordDecodeException.class)
                    .hasMessageContaining("not asked").hasMessageContaining("HTTP 503")
                    .extracting(e -> ((RecordDecodeException) e).reason())
                    .isEqualTo(RecordDecodeException.Reason.REGISTRY_ERROR);
        }
        assertThat(registry.requests() - before).isEqualTo(3);
        assertThat(codec.decode(cached)).as("a cached id decodes throughout").isEqualTo(sample());

        // After the cool-down one probe goes, without retries; it fails, so the breaker opens again.
        int probes = awaitACall(codec, uncached, before + 3);
        assertThat(probes).isEqualTo(before + 4);
        assertThatThrownBy(() -> codec.decode(uncached)).hasMessageContaining("not asked");
        assertThat(registry.requests()).isEqualTo(before + 4);

        // The registry is back: the next probe succeeds and closes the breaker.
        registry.failNext(0, 503);
        awaitACall(codec, uncached, before + 4);
        assertThat(codec.decode(uncached).getTaskId()).isEqualTo("t-3");
        // Answers about ids (404 here) are no outage: every unknown id is asked about.
        int afterRecovery = registry.requests();
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> codec.decode(new byte[] {0, 0, 0, 0x30, 0x39, 2, 'x'}))
                    .extracting(e -> ((RecordDecodeException) e).reason())
                    .isEqualTo(RecordDecodeException.Reason.UNKNOWN_SCHEMA);
        }
        assertThat(registry.requests() - afterRecovery).isEqualTo(3);
    }

    /** Decodes {@code bytes} until the registry sees a request beyond {@code seen} (the probe); returns the count. */
    private int awaitACall(RegistryAvroCodec<LabelledSample> codec, byte[] bytes, int seen) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (registry.requests() == seen) {
            assertThat(System.nanoTime()).as("a probe within 20 s of a 1 s cool-down").isLessThan(deadline);
            catchThrowable(() -> codec.decode(bytes));
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        return registry.requests();
    }

    @Test
    void shouldAskAboutAnUnknownIdOnceWhileItIsRemembered() {
        SchemaRegistryClient remembering = SchemaRegistryClient.builder(registry.url())
                .unknownIdCache(Duration.ofMinutes(1)).build();
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, remembering);
        byte[] flood = {0, 0, 0, 0x30, 0x39, 2, 'x'};
        for (int i = 0; i < 100; i++) {
            assertThatThrownBy(() -> codec.decode(flood)).extracting(e -> ((RecordDecodeException) e).reason())
                    .isEqualTo(RecordDecodeException.Reason.UNKNOWN_SCHEMA);
        }
        assertThat(registry.lookups()).isEqualTo(1);
    }

    @Test
    void shouldSendTheBearerTokenInsteadOfBasicCredentials() {
        registry.requireAuthorization("Bearer t0ken.from-the.idp");
        SchemaRegistryClient basic = SchemaRegistryClient.builder(registry.url()).basicAuth("app:s3cret").build();
        assertThatThrownBy(() -> basic.register("samples-value", LabelledSample.getClassSchema()))
                .isInstanceOf(SchemaRegistryClient.SchemaRegistryException.class).hasMessageContaining("HTTP 401");
        // Both given: the token wins (a deployment moving from basic to tokens keeps working).
        SchemaRegistryClient bearer = SchemaRegistryClient.builder(registry.url()).basicAuth("app:s3cret")
                .bearerToken("t0ken.from-the.idp").build();
        int id = bearer.register("samples-value", LabelledSample.getClassSchema());
        assertThat(bearer.schema(id)).contains(LabelledSample.getClassSchema());
        assertThat(registry.versions("samples-value")).containsExactly(id);
    }

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

package io.metastream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.metastream.schemas.LabelledSample;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
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
 * The wire format and the failure modes of the codec, against a two-endpoint stand-in of the
 * registry's REST API (ids handed out in order, lookups counted). The real registry is exercised
 * by the streams module's {@code SchemaRegistryTest}.
 */
class RegistryAvroCodecTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private HttpServer server;
    private final Map<Integer, String> schemas = new ConcurrentHashMap<>();
    private final AtomicInteger lookups = new AtomicInteger();
    private SchemaRegistryClient client;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/subjects/", this::register);
        server.createContext("/schemas/ids/", this::lookup);
        server.start();
        client = new SchemaRegistryClient("http://127.0.0.1:" + server.getAddress().getPort(), Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void register(HttpExchange exchange) throws IOException {
        String schema = JSON.readTree(exchange.getRequestBody()).get("schema").asText();
        int id = schemas.entrySet().stream().filter(e -> e.getValue().equals(schema)).map(Map.Entry::getKey)
                .findFirst().orElseGet(() -> {
                    int next = 100 + schemas.size();
                    schemas.put(next, schema);
                    return next;
                });
        answer(exchange, 200, "{\"id\":" + id + "}");
    }

    private void lookup(HttpExchange exchange) throws IOException {
        lookups.incrementAndGet();
        int id = Integer.parseInt(exchange.getRequestURI().getPath().substring("/schemas/ids/".length()));
        String schema = schemas.get(id);
        if (schema == null) {
            answer(exchange, 404, "{\"error_code\":40403,\"message\":\"Schema not found\"}");
        } else {
            answer(exchange, 200, JSON.writeValueAsString(Map.of("schema", schema)));
        }
    }

    private static void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    private static LabelledSample sample() {
        return LabelledSample.newBuilder().setEventId("e-1").setTaskId("t-7").setFeatures(List.of(1.5f, -2f))
                .setTarget(0.25f).setEventTime(Instant.ofEpochMilli(1_700_000_000_123L)).build();
    }

    @Test
    void shouldWriteMagicZeroAndTheRegisteredIdThenReadItBack() {
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, client);
        byte[] bytes = codec.encode("samples-value", sample());
        assertThat(bytes[0]).isEqualTo((byte) 0);
        int id = ByteBuffer.wrap(bytes, 1, 4).getInt();
        assertThat(schemas).containsKey(id);
        assertThat(new Schema.Parser().parse(schemas.get(id))).isEqualTo(LabelledSample.getClassSchema());

        RegistryAvroCodec<LabelledSample> fresh = RegistryAvroCodec.of(LabelledSample.class,
                new SchemaRegistryClient(client.baseUrl().toString(), Duration.ofSeconds(5)));
        assertThat(fresh.decode(bytes)).isEqualTo(sample());
        assertThat(fresh.decode(bytes)).isEqualTo(sample());
        assertThat(lookups).as("an id is asked once").hasValue(1);
    }

    @Test
    void shouldReadSingleObjectEncodingToo() {
        byte[] single = AvroCodec.of(LabelledSample.class).encode(sample());
        assertThat(RegistryAvroCodec.of(LabelledSample.class, client).decode(single)).isEqualTo(sample());
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
        int id = client.register("samples-value", writer);
        LabelledSample read = RegistryAvroCodec.of(LabelledSample.class, client).decode(wire(id, writer, r));
        assertThat(read.getTaskId()).isEqualTo("t-9");
        assertThat(read.getFeatures()).containsExactly(3f, 4f);
    }

    @Test
    void shouldCallAnIdTheRegistryDoesNotKnowAnUnknownSchema() {
        byte[] bytes = {0, 0, 0, 0x30, 0x39, 2, 'x'};
        assertThatThrownBy(() -> RegistryAvroCodec.of(LabelledSample.class, client).decode(bytes))
                .isInstanceOf(RecordDecodeException.class).hasMessageContaining("12345")
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.UNKNOWN_SCHEMA);
    }

    @Test
    void shouldCallASchemaThatCannotBeReadAsTheRecordIncompatible() throws IOException {
        Schema stranger = SchemaBuilder.record("Stranger").fields().requiredInt("x").endRecord();
        GenericRecord r = new GenericData.Record(stranger);
        r.put("x", 7);
        int id = client.register("samples-value", stranger);
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class,
                new SchemaRegistryClient(client.baseUrl().toString(), Duration.ofSeconds(5)));
        byte[] bytes = wire(id, stranger, r);
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> codec.decode(bytes)).isInstanceOf(RecordDecodeException.class)
                    .extracting(e -> ((RecordDecodeException) e).reason())
                    .isEqualTo(RecordDecodeException.Reason.INCOMPATIBLE_SCHEMA);
        }
        assertThat(lookups).as("a refused id is remembered").hasValue(1);
    }

    @Test
    void shouldCallAHeaderCutShortBadAndAnUnreachableRegistryNotTheRecordsFault() {
        RegistryAvroCodec<LabelledSample> codec = RegistryAvroCodec.of(LabelledSample.class, client);
        assertThatThrownBy(() -> codec.decode(new byte[] {0, 0, 1}))
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.BAD_HEADER);
        server.stop(0);
        assertThatThrownBy(() -> codec.decode(new byte[] {0, 0, 0, 0, 1, 2}))
                .isInstanceOf(SchemaRegistryClient.SchemaRegistryException.class)
                .isNotInstanceOf(SchemaRegistryClient.IncompatibleSchemaException.class)
                .hasMessageContaining("unreachable");
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

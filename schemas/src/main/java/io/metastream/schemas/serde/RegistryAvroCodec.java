package io.metastream.schemas.serde;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumReader;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * Encodes and decodes one generated record type in the schema registry wire format that
 * Confluent's serializers write: a zero magic byte, the writer schema's registry id as a 4-byte
 * big-endian integer, then the Avro binary body. Decoding resolves the writer schema by id through
 * the {@link SchemaRegistryClient} and reads it as the current schema (Avro schema resolution), so
 * a producer may write an older or newer compatible version. Thread-safe.
 */
public final class RegistryAvroCodec<T extends SpecificRecord> {
    /** The first byte of the registry wire format. */
    public static final byte MAGIC = 0;
    private static final int HEADER = 5;

    private final AvroCodec<T> singleObject;
    private final SchemaRegistryClient registry;
    private final Schema reader;
    private final SpecificData model;
    private final SpecificDatumWriter<T> writer;
    private final Map<Integer, DatumReader<T>> readers = new ConcurrentHashMap<>();
    private final Map<Integer, Schema> writers = new ConcurrentHashMap<>();
    private final Map<Integer, String> refused = new ConcurrentHashMap<>();

    private RegistryAvroCodec(Class<T> type, SchemaRegistryClient registry) {
        this.singleObject = AvroCodec.of(type); // also makes Avro trust the generated classes
        this.registry = Objects.requireNonNull(registry, "registry");
        this.model = SpecificData.getForClass(type);
        this.reader = model.getSchema(type);
        this.writer = new SpecificDatumWriter<>(reader, model);
    }

    public static <T extends SpecificRecord> RegistryAvroCodec<T> of(Class<T> type, SchemaRegistryClient registry) {
        return new RegistryAvroCodec<>(type, registry);
    }

    /** The subject the topic's values are registered under (Confluent's TopicNameStrategy). */
    public static String valueSubject(String topic) {
        return topic + "-value";
    }

    /** Whether {@code bytes} start as the registry wire format does. */
    public static boolean isRegistryFormat(byte[] bytes) {
        return bytes != null && bytes.length >= 1 && bytes[0] == MAGIC;
    }

    /**
     * Registers the current schema under {@code subject} (looks it up in lookup-only mode), as
     * {@link #encode} does first; the client remembers the id, so {@code encode} then asks nothing.
     * For a start-up that should fail on a refusal rather than each record.
     *
     * @return the schema's registry id
     * @throws SchemaRegistryClient.SchemaRegistryException when the registry refuses or cannot be reached
     */
    public int register(String subject) {
        return registry.register(subject, reader);
    }

    /**
     * Registers the current schema under {@code subject} (once per client) and writes the record.
     *
     * @throws SchemaRegistryClient.SchemaRegistryException when the registry refuses or cannot be reached
     */
    public byte[] encode(String subject, T record) {
        int id = register(subject);
        ByteArrayOutputStream out = new ByteArrayOutputStream(64);
        out.write(MAGIC);
        out.write(id >>> 24);
        out.write(id >>> 16);
        out.write(id >>> 8);
        out.write(id);
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException | NullPointerException | AvroRuntimeException e) {
            throw new IllegalArgumentException("cannot encode " + reader.getName() + ": " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    /**
     * Decodes the registry wire format, or Avro single-object encoding when the bytes carry its
     * header instead (both may share a topic while producers migrate).
     *
     * @throws RecordDecodeException with the reason, for bytes that are not a readable record of
     *     this type (an id the registry does not know is {@code UNKNOWN_SCHEMA}; a writer schema that
     *     cannot be read as this type is {@code INCOMPATIBLE_SCHEMA}; a registry that cannot be
     *     asked after the client's bounded retries, or while its breaker is open after such a
     *     failure, is {@code REGISTRY_ERROR}: a record naming an id must never hold its thread for
     *     longer)
     */
    public T decode(byte[] bytes) {
        if (!isRegistryFormat(bytes)) {
            return singleObject.decode(bytes);
        }
        if (bytes.length < HEADER) {
            throw new RecordDecodeException(RecordDecodeException.Reason.BAD_HEADER,
                    "registry wire format cut short: " + bytes.length + " bytes", null);
        }
        int id = ByteBuffer.wrap(bytes, 1, 4).getInt();
        DatumReader<T> datumReader = readerFor(id);
        // Lengths checked against the bytes before Avro allocates what they claim.
        AvroFraming.check(writers.get(id), bytes, HEADER, bytes.length - HEADER);
        try {
            return datumReader.read(null, DecoderFactory.get().binaryDecoder(bytes, HEADER, bytes.length - HEADER, null));
        } catch (IOException | RuntimeException e) {
            throw new RecordDecodeException(RecordDecodeException.Reason.MALFORMED_BODY,
                    "malformed " + reader.getName() + " body (registry schema id " + id + "): " + e, e);
        }
    }

    private DatumReader<T> readerFor(int id) {
        DatumReader<T> known = readers.get(id);
        if (known != null) {
            return known;
        }
        String why = refused.get(id);
        if (why != null) {
            throw new RecordDecodeException(RecordDecodeException.Reason.INCOMPATIBLE_SCHEMA, why, null);
        }
        Optional<Schema> written;
        try {
            written = registry.schema(id);
        } catch (SchemaRegistryClient.IncompatibleSchemaException e) {
            refused.put(id, e.getMessage());
            throw new RecordDecodeException(RecordDecodeException.Reason.INCOMPATIBLE_SCHEMA, e.getMessage(), e);
        } catch (SchemaRegistryClient.SchemaRegistryException e) {
            throw new RecordDecodeException(RecordDecodeException.Reason.REGISTRY_ERROR, e.getMessage(), e);
        }
        if (written.isEmpty()) {
            // Not cached: the id may be registered a moment later by a producer racing ahead.
            throw new RecordDecodeException(RecordDecodeException.Reason.UNKNOWN_SCHEMA,
                    "schema id " + id + " is not in the registry " + registry.baseUrl(), null);
        }
        SchemaCompatibility.SchemaPairCompatibility check =
                SchemaCompatibility.checkReaderWriterCompatibility(reader, written.get());
        if (check.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            String message = "schema id " + id + " (" + written.get().getFullName() + ") cannot be read as "
                    + reader.getFullName() + ": " + check.getResult().getIncompatibilities();
            refused.put(id, message);
            throw new RecordDecodeException(RecordDecodeException.Reason.INCOMPATIBLE_SCHEMA, message, null);
        }
        DatumReader<T> created = new SpecificDatumReader<>(written.get(), reader, model);
        writers.putIfAbsent(id, written.get());
        DatumReader<T> raced = readers.putIfAbsent(id, created);
        return raced == null ? created : raced;
    }
}

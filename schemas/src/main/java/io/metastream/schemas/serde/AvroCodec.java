package io.metastream.schemas.serde;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.ClassSecurityValidator;

/**
 * Encodes and decodes one generated record type with Avro single-object encoding
 * ({@code C3 01}, the 8-byte CRC-64-AVRO fingerprint of the writer schema, then the body).
 * The decoder knows every schema in the type's {@link SchemaHistory}, so records written with an
 * older schema are resolved to the current one. Thread-safe.
 */
public final class AvroCodec<T extends SpecificRecord> {
    /** {@code C3 01} and the 8-byte fingerprint. */
    private static final int SINGLE_OBJECT_HEADER = 10;
    private static final Set<Class<?>> TRUSTED = ConcurrentHashMap.newKeySet();

    private final Class<T> type;
    private final BinaryMessageEncoder<T> encoder;
    private final BinaryMessageDecoder<T> decoder;
    /** Writer schemas by their CRC-64-AVRO fingerprint, for the bounded framing check. */
    private final Map<Long, Schema> writers = new HashMap<>();

    private AvroCodec(Class<T> type) {
        trust(type);
        this.type = type;
        Schema schema = SpecificData.get().getSchema(type);
        SpecificData model = SpecificData.getForClass(type);
        this.encoder = new BinaryMessageEncoder<>(model, schema);
        this.decoder = new BinaryMessageDecoder<>(model, schema);
        writers.put(SchemaNormalization.parsingFingerprint64(schema), schema);
        for (Schema old : SchemaHistory.of(schema.getName())) {
            decoder.addSchema(old);
            writers.put(SchemaNormalization.parsingFingerprint64(old), old);
        }
    }

    /** @return a codec for a generated SpecificRecord class */
    public static <T extends SpecificRecord> AvroCodec<T> of(Class<T> type) {
        return new AvroCodec<>(type);
    }

    public Class<T> type() {
        return type;
    }

    /**
     * @throws UncheckedIOException if the record cannot be encoded (a null in a non-null field)
     */
    public byte[] encode(T record) {
        try {
            ByteBuffer buffer = encoder.encode(record);
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode " + type.getSimpleName(), e);
        } catch (NullPointerException | AvroRuntimeException e) {
            throw new IllegalArgumentException("cannot encode " + type.getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * @throws RecordDecodeException with the reason, for anything that is not a record of this type
     */
    public T decode(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            throw new RecordDecodeException(RecordDecodeException.Reason.EMPTY, "no bytes", null);
        }
        checkFraming(bytes);
        try {
            return decoder.decode(bytes);
        } catch (MissingSchemaException e) {
            throw new RecordDecodeException(RecordDecodeException.Reason.UNKNOWN_SCHEMA,
                    "unknown schema fingerprint for " + type.getSimpleName() + ": " + e.getMessage(), e);
        } catch (BadHeaderException e) {
            throw new RecordDecodeException(RecordDecodeException.Reason.BAD_HEADER,
                    "not Avro single-object encoding: " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            // Truncated bodies surface as EOFException; garbage after a good header as
            // AvroRuntimeException, negative lengths, or array bounds errors.
            throw new RecordDecodeException(RecordDecodeException.Reason.MALFORMED_BODY,
                    "malformed " + type.getSimpleName() + " body: " + e, e);
        }
    }

    /**
     * Checks the body's lengths against its bytes ({@link AvroFraming}) before Avro allocates what
     * they claim. A bad header or an unknown fingerprint is left to the decoder, which says which.
     */
    private void checkFraming(byte[] bytes) {
        if (bytes.length < SINGLE_OBJECT_HEADER || bytes[0] != (byte) 0xC3 || bytes[1] != (byte) 0x01) {
            return;
        }
        long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Schema writer = writers.get(fingerprint);
        if (writer != null) {
            AvroFraming.check(writer, bytes, SINGLE_OBJECT_HEADER, bytes.length - SINGLE_OBJECT_HEADER);
        }
    }

    /**
     * Avro 1.12 refuses to instantiate classes it has not been told to trust. Trust exactly the
     * generated classes we decode (and their nested records), not whole packages.
     */
    private static synchronized void trust(Class<?> type) {
        if (!TRUSTED.add(type)) {
            return;
        }
        ClassSecurityValidator.Builder builder = ClassSecurityValidator.builder().add(type);
        for (Class<?> nested : type.getDeclaredClasses()) {
            builder.add(nested);
        }
        addNestedRecords(SpecificData.get().getSchema(type), builder);
        ClassSecurityValidator.setGlobal(
                ClassSecurityValidator.composite(ClassSecurityValidator.getGlobal(), builder.build()));
    }

    private static void addNestedRecords(Schema schema, ClassSecurityValidator.Builder builder) {
        switch (schema.getType()) {
            case RECORD -> {
                builder.add(schema.getFullName());
                schema.getFields().forEach(f -> addNestedRecords(f.schema(), builder));
            }
            case ARRAY -> addNestedRecords(schema.getElementType(), builder);
            case MAP -> addNestedRecords(schema.getValueType(), builder);
            case UNION -> schema.getTypes().forEach(s -> addNestedRecords(s, builder));
            default -> {
            }
        }
    }
}

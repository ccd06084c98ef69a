package io.metastream.schemas.serde;

import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.avro.Schema;

/**
 * Walks an Avro binary body against its writer schema and checks every length and count it
 * claims against the bytes that are really there, before Avro's own reader sees it.
 *
 * <p>Why: Avro's {@code BinaryDecoder} allocates a string's or bytes' claimed length, and a
 * reader allocates an array's claimed item count, before it reads a byte. A 19-byte record that
 * claims 2^31 bytes ends in {@code OutOfMemoryError}. Avro 1.12's own guard
 * ({@code org.apache.avro.limits.*} system properties) is read once per JVM, when its
 * {@code SystemLimitException} class loads, so a library cannot rely on it being set. This check
 * needs no global state: a claim larger than what is left is refused with its offset, and a
 * check costs one pass over the (small) record.
 *
 * <p>Bounds enforced:
 * <ul>
 *   <li>string, bytes and fixed lengths: at most the bytes left;</li>
 *   <li>array and map items: an item takes at least one byte unless its schema encodes in zero
 *       bytes (null, an empty record), so a count is at most the bytes left, and at most
 *       {@link #MAX_ZERO_BYTE_ITEMS} for zero-byte items;</li>
 *   <li>varints: at most 5 bytes for an int, 10 for a long;</li>
 *   <li>union branches and enum symbols: within the schema;</li>
 *   <li>nesting: at most {@link #MAX_DEPTH} levels, so a recursive writer schema (one a registry
 *       may serve) cannot overflow the stack.</li>
 * </ul>
 */
public final class AvroFraming {
    /** Items of a schema that encodes in zero bytes (null, an empty record) a collection may claim. */
    public static final int MAX_ZERO_BYTE_ITEMS = 1 << 10;
    /** Deepest nesting of records, arrays, maps and unions walked. */
    public static final int MAX_DEPTH = 64;

    private final byte[] bytes;
    private final int end;
    private int pos;
    private final Map<Schema, Boolean> zeroBytes = new IdentityHashMap<>();

    private AvroFraming(byte[] bytes, int offset, int length) {
        this.bytes = bytes;
        this.pos = offset;
        this.end = offset + length;
    }

    /**
     * Checks the body {@code bytes[offset, offset + length)} written with {@code writer}.
     *
     * @throws RecordDecodeException ({@code MALFORMED_BODY}) naming the first claim that the bytes
     *     cannot hold, with its offset
     */
    public static void check(Schema writer, byte[] bytes, int offset, int length) {
        if (offset < 0 || length < 0 || offset + length > bytes.length) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside " + bytes.length + " bytes");
        }
        new AvroFraming(bytes, offset, length).walk(writer, 0);
    }

    /**
     * Checks one datum written with {@code writer} that starts at {@code offset}, within
     * {@code bytes[offset, offset + length)}, and says where it ends: for buffers that hold several
     * datums one after another (an object container file's block, say).
     *
     * @return the bytes the datum takes
     * @throws RecordDecodeException ({@code MALFORMED_BODY}) as {@link #check} does
     */
    public static int measure(Schema writer, byte[] bytes, int offset, int length) {
        if (offset < 0 || length < 0 || offset + length > bytes.length) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside " + bytes.length + " bytes");
        }
        AvroFraming framing = new AvroFraming(bytes, offset, length);
        framing.walk(writer, 0);
        return framing.pos - offset;
    }

    private void walk(Schema schema, int depth) {
        if (depth > MAX_DEPTH) {
            throw refused("nesting deeper than " + MAX_DEPTH + " levels");
        }
        switch (schema.getType()) {
            case NULL -> {
            }
            case BOOLEAN -> skip(1, "boolean");
            case INT -> varint(5, "int");
            case LONG -> varint(10, "long");
            case FLOAT -> skip(4, "float");
            case DOUBLE -> skip(8, "double");
            case STRING, BYTES -> {
                int at = pos;
                long claimed = varint(10, "length");
                if (claimed < 0) {
                    throw refused("negative " + schema.getType().getName() + " length " + claimed + " at offset " + at);
                }
                skip(claimed, schema.getType().getName() + " of claimed length " + claimed + " at offset " + at);
            }
            case FIXED -> skip(schema.getFixedSize(), "fixed " + schema.getFullName());
            case ENUM -> {
                int at = pos;
                long index = varint(5, "enum index");
                if (index < 0 || index >= schema.getEnumSymbols().size()) {
                    throw refused("enum index " + index + " at offset " + at + " outside " + schema.getFullName());
                }
            }
            case UNION -> {
                int at = pos;
                long branch = varint(5, "union branch");
                if (branch < 0 || branch >= schema.getTypes().size()) {
                    throw refused("union branch " + branch + " at offset " + at + " outside "
                            + schema.getTypes().size() + " branches");
                }
                walk(schema.getTypes().get((int) branch), depth + 1);
            }
            case RECORD -> {
                for (Schema.Field field : schema.getFields()) {
                    walk(field.schema(), depth + 1);
                }
            }
            case ARRAY -> items(schema.getElementType(), null, depth);
            case MAP -> items(schema.getValueType(), Schema.create(Schema.Type.STRING), depth);
        }
    }

    /** Array or map blocks: a count, then (for a negative count) a byte size, then the items. */
    private void items(Schema item, Schema key, int depth) {
        boolean free = key == null && encodesInZeroBytes(item, 0);
        long total = 0;
        while (true) {
            int at = pos;
            long count = varint(10, "block count");
            if (count == 0) {
                return;
            }
            if (count < 0) {
                if (count == Long.MIN_VALUE) {
                    throw refused("block count " + count + " at offset " + at);
                }
                count = -count;
                int sizeAt = pos;
                long size = varint(10, "block size");
                if (size < 0 || size > end - pos) {
                    throw refused("block size " + size + " at offset " + sizeAt + ", " + (end - pos) + " bytes left");
                }
            }
            long bound = free ? MAX_ZERO_BYTE_ITEMS : end - pos;
            // Compared before adding: total + count may overflow (found by AvroFramingFuzzTarget).
            if (count > bound - total) {
                throw refused("collection claims " + count + " more items after " + total + " at offset " + at + "; "
                        + (free ? "at most " + MAX_ZERO_BYTE_ITEMS + " zero-byte items" : (end - pos) + " bytes left"));
            }
            total += count;
            for (long i = 0; i < count; i++) {
                if (key != null) {
                    walk(key, depth + 1);
                }
                walk(item, depth + 1);
            }
        }
    }

    private boolean encodesInZeroBytes(Schema schema, int depth) {
        if (depth > MAX_DEPTH) {
            return false;
        }
        Boolean known = zeroBytes.get(schema);
        if (known != null) {
            return known;
        }
        zeroBytes.put(schema, Boolean.FALSE); // a recursive reference is not zero-byte
        boolean zero = switch (schema.getType()) {
            case NULL -> true;
            case FIXED -> schema.getFixedSize() == 0;
            case RECORD -> schema.getFields().stream().allMatch(f -> encodesInZeroBytes(f.schema(), depth + 1));
            default -> false;
        };
        zeroBytes.put(schema, zero);
        return zero;
    }

    private void skip(long n, String what) {
        if (n > end - pos) {
            throw refused(what + " needs " + n + " bytes, " + (end - pos) + " left");
        }
        pos += (int) n;
    }

    /** A zig-zag varint of at most {@code maxBytes} bytes, decoded. */
    private long varint(int maxBytes, String what) {
        long raw = 0;
        for (int i = 0; i < maxBytes; i++) {
            if (pos >= end) {
                throw refused(what + " cut short at offset " + pos);
            }
            int b = bytes[pos++] & 0xff;
            raw |= (long) (b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0) {
                return (raw >>> 1) ^ -(raw & 1);
            }
        }
        throw refused(what + " varint longer than " + maxBytes + " bytes at offset " + (pos - maxBytes));
    }

    private static RecordDecodeException refused(String detail) {
        return new RecordDecodeException(RecordDecodeException.Reason.MALFORMED_BODY, "bounded Avro framing: " + detail,
                null);
    }
}

package io.metastream.training.imports;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A safetensors file (the format of Hugging Face's {@code safetensors} library, which PyTorch users
 * save state dicts in): an 8-byte little-endian header length {@code N}, {@code N} bytes of UTF-8
 * JSON naming each tensor's dtype, shape and byte range, then the little-endian row-major data.
 * Read eagerly into floats, because the networks metastream imports are a few megabytes at most.
 *
 * <p>Reading is as strict as the reference implementation: the tensors must tile the data buffer
 * exactly (no overlaps, holes or trailing bytes), so a damaged or truncated file fails here with the
 * tensor it concerns rather than later as wrong predictions.
 */
public final class SafetensorsFile {
    /** The reference implementation's cap: a larger header is a corrupt file, not a big model. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    private static final String METADATA_KEY = "__metadata__";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** The dtypes that convert to float; any other in a file is refused with the tensor's name. */
    public enum DType {
        F32(4), F64(8), F16(2), BF16(2);

        private final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }

        /** @return the dtype, or {@code null} when it is not one of these */
        static DType byName(String name) {
            for (DType d : values()) {
                if (d.name().equals(name)) {
                    return d;
                }
            }
            return null;
        }
    }

    /**
     * One tensor. {@code data} is row-major; {@code dtype} is how it is (or was) stored, the values
     * are floats either way (F64 rounded to the nearest float).
     */
    public record Tensor(String name, DType dtype, int[] shape, float[] data) {
        /**
         * @throws IllegalArgumentException if the data length is not the product of the shape
         */
        public Tensor {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
            data = data.clone();
            long n = 1;
            for (int d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension: "
                            + Arrays.toString(shape));
                }
                n = Math.min(n, 1L << 31) * d; // saturates instead of overflowing; a 0 still wins
            }
            if (n != data.length) {
                throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape)
                        + " needs " + n + " values, got " + data.length);
            }
        }

        /** A float32 tensor. */
        public static Tensor f32(String name, int[] shape, float[] data) {
            return new Tensor(name, DType.F32, shape, data);
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        @Override
        public float[] data() {
            return data.clone();
        }

        public int rank() {
            return shape.length;
        }

        public int dim(int axis) {
            return shape[axis];
        }

        /** The shape as PyTorch prints it, e.g. {@code [64, 24]}. */
        public String shapeString() {
            return Arrays.toString(shape);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && name.equals(t.name) && dtype == t.dtype
                    && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
        }

        @Override
        public int hashCode() {
            return 31 * name.hashCode() + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + " " + dtype + " " + shapeString();
        }
    }

    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    /**
     * @param tensors in the order the header lists them
     * @param metadata the free-form {@code __metadata__} strings, empty for none
     * @throws IllegalArgumentException if two tensors share a name or one is named {@code __metadata__}
     */
    public SafetensorsFile(List<Tensor> tensors, Map<String, String> metadata) {
        Map<String, Tensor> byName = new LinkedHashMap<>();
        for (Tensor t : tensors) {
            if (t.name().equals(METADATA_KEY)) {
                throw new IllegalArgumentException("a tensor cannot be named " + METADATA_KEY);
            }
            if (byName.putIfAbsent(t.name(), t) != null) {
                throw new IllegalArgumentException("two tensors are named '" + t.name() + "'");
            }
        }
        this.tensors = Collections.unmodifiableMap(byName);
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * @throws IllegalArgumentException naming the missing tensor
     */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' (the file holds " + names() + ")");
        }
        return t;
    }

    /** Tensors in header order. */
    public List<Tensor> tensors() {
        return List.copyOf(tensors.values());
    }

    /** The {@code __metadata__} strings, empty when the file has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * @throws IllegalArgumentException prefixed with the file name, if it is not a valid safetensors
     *     file of float tensors
     */
    public static SafetensorsFile read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            return parse(bytes);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * @throws IllegalArgumentException naming the tensor concerned where there is one: a dtype
     *     other than {@link DType}'s, a byte range outside the buffer or of the wrong length for
     *     the shape, overlapping or missing bytes, or a malformed header
     */
    public static SafetensorsFile parse(byte[] bytes) {
        if (bytes.length < 8) {
            throw new IllegalArgumentException("not a safetensors file: " + bytes.length + " bytes, "
                    + "shorter than the 8-byte header length");
        }
        ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = all.getLong(0); // unsigned: a negative value is simply too large
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || headerLength > bytes.length - 8L) {
            throw new IllegalArgumentException("header length " + Long.toUnsignedString(headerLength)
                    + " does not fit a file of " + bytes.length + " bytes (truncated or not safetensors)");
        }
        int bufferStart = 8 + (int) headerLength;
        JsonNode header = parseHeader(bytes, (int) headerLength);
        int bufferLength = bytes.length - bufferStart;

        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                readMetadata(field.getValue(), metadata);
            } else {
                entries.add(Entry.of(field.getKey(), field.getValue(), bufferLength));
            }
        }
        checkTiling(entries, bufferLength);

        ByteBuffer buffer = ByteBuffer.wrap(bytes, bufferStart, bufferLength).slice().order(ByteOrder.LITTLE_ENDIAN);
        List<Tensor> tensors = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            tensors.add(new Tensor(e.name, e.dtype, e.shape, decode(buffer, e)));
        }
        return new SafetensorsFile(tensors, metadata);
    }

    private static JsonNode parseHeader(byte[] bytes, int length) {
        if (bytes[8] != '{') {
            throw new IllegalArgumentException("the header does not start with '{' (not safetensors)");
        }
        JsonNode header;
        try {
            header = JSON.readTree(new String(bytes, 8, length, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new IllegalArgumentException("the header is not a JSON object");
        }
        return header;
    }

    private static void readMetadata(JsonNode node, Map<String, String> into) {
        if (!node.isObject()) {
            throw new IllegalArgumentException(METADATA_KEY + " must be an object of strings, got " + node);
        }
        for (Map.Entry<String, JsonNode> m : node.properties()) {
            if (!m.getValue().isTextual()) {
                throw new IllegalArgumentException(METADATA_KEY + " value '" + m.getKey()
                        + "' must be a string, got " + m.getValue());
            }
            into.put(m.getKey(), m.getValue().textValue());
        }
    }

    /** One header entry, validated on its own. */
    private record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        static Entry of(String name, JsonNode node, long bufferLength) {
            if (!node.isObject()) {
                throw new IllegalArgumentException("tensor '" + name + "': header entry is not an object: " + node);
            }
            String dtypeName = node.path("dtype").asText(null);
            DType dtype = DType.byName(dtypeName);
            if (dtype == null) {
                throw new IllegalArgumentException("tensor '" + name + "' has dtype " + dtypeName
                        + "; only " + Arrays.toString(DType.values()) + " can be read as floats");
            }
            JsonNode shapeNode = node.path("shape");
            if (!shapeNode.isArray()) {
                throw new IllegalArgumentException("tensor '" + name + "' has no shape array: " + node);
            }
            int[] shape = new int[shapeNode.size()];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = shapeNode.get(i);
                if (!d.canConvertToInt() || !d.isIntegralNumber() || d.intValue() < 0) {
                    throw new IllegalArgumentException("tensor '" + name + "' has an invalid shape " + shapeNode);
                }
                shape[i] = d.intValue();
                elements = Math.min(elements, 1L << 31) * shape[i]; // saturates; a 0 still wins
            }
            if (elements > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("tensor '" + name + "' of shape " + shapeNode
                        + " is too large to read as a float array");
            }
            JsonNode offsets = node.path("data_offsets");
            if (!offsets.isArray() || offsets.size() != 2 || !offsets.get(0).canConvertToLong()
                    || !offsets.get(1).canConvertToLong() || !offsets.get(0).isIntegralNumber()
                    || !offsets.get(1).isIntegralNumber()) {
                throw new IllegalArgumentException("tensor '" + name + "' needs data_offsets [begin, end], got "
                        + offsets);
            }
            long begin = offsets.get(0).longValue();
            long end = offsets.get(1).longValue();
            if (begin < 0 || end < begin || end > bufferLength) {
                throw new IllegalArgumentException("tensor '" + name + "' has data_offsets [" + begin + ", " + end
                        + "] outside the data buffer of " + bufferLength + " bytes (truncated file?)");
            }
            long expected = elements * dtype.bytes();
            if (end - begin != expected) {
                throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape) + " "
                        + dtype + " needs " + expected + " bytes, its data_offsets [" + begin + ", " + end
                        + "] span " + (end - begin));
            }
            return new Entry(name, dtype, shape, begin, end);
        }
    }

    /** The tensors must cover the buffer end to end, each byte once. */
    private static void checkTiling(List<Entry> entries, long bufferLength) {
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long position = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.begin < position) {
                throw new IllegalArgumentException("tensor '" + e.name + "' [" + e.begin + ", " + e.end
                        + "] overlaps tensor '" + previous.name + "' [" + previous.begin + ", " + previous.end + "]");
            }
            if (e.begin > position) {
                throw new IllegalArgumentException("bytes [" + position + ", " + e.begin + ") of the data buffer "
                        + "belong to no tensor (before tensor '" + e.name + "')");
            }
            position = e.end;
            previous = e;
        }
        if (position != bufferLength) {
            throw new IllegalArgumentException("the data buffer has " + bufferLength + " bytes, the tensors cover "
                    + position + (previous == null ? "" : " (the last is '" + previous.name + "')"));
        }
    }

    private static float[] decode(ByteBuffer buffer, Entry e) {
        int n = (int) ((e.end - e.begin) / e.dtype.bytes());
        float[] out = new float[n];
        int at = (int) e.begin;
        switch (e.dtype) {
            case F32 -> buffer.slice(at, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) buffer.getDouble(at + 8 * i);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = halfToFloat(buffer.getShort(at + 2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((buffer.getShort(at + 2 * i) & 0xffff) << 16);
                }
            }
        }
        return out;
    }

    /** The file's bytes: tensors in list order, the header padded with spaces to 8 bytes as the reference does. */
    public byte[] toBytes() {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject(METADATA_KEY);
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Tensor t : tensors.values()) {
            ObjectNode entry = header.putObject(t.name());
            entry.put("dtype", t.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (int d : t.shape) {
                shape.add(d);
            }
            long end = offset + (long) t.data.length * t.dtype().bytes();
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a safetensors header", e);
        }
        int padded = (json.length + 7) / 8 * 8;
        if (8L + padded + offset > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensors of " + offset + " bytes do not fit one array");
        }
        ByteBuffer out = ByteBuffer.allocate(8 + padded + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json);
        for (int i = json.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        for (Tensor t : tensors.values()) {
            for (float v : t.data) {
                switch (t.dtype()) {
                    case F32 -> out.putFloat(v);
                    case F64 -> out.putDouble(v);
                    case F16 -> out.putShort(floatToHalf(v));
                    case BF16 -> out.putShort(floatToBfloat16(v));
                }
            }
        }
        return out.array();
    }

    public void write(Path file) throws IOException {
        Files.write(file, toBytes());
    }

    /** IEEE 754 binary16 to float, exactly (every half is a float). */
    static float halfToFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float magnitude = mant * 0x1p-24f; // subnormal (or zero): exact, mant has 10 bits
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Float to binary16, rounding to nearest even as PyTorch's {@code .half()} does. */
    static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            return (short) (sign | 0x7c00 | (mant == 0 ? 0 : 0x200 | (mant >>> 13)));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            int full = mant | 0x800000;
            int shift = 14 - e;
            return (short) (sign | roundShift(full, shift));
        }
        // A carry out of the mantissa moves into the exponent, up to infinity, which is right.
        return (short) (sign | roundShift((e << 23) | mant, 13));
    }

    /** Float to bfloat16, rounding to nearest even (NaN kept a NaN). */
    static short floatToBfloat16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) roundShift(bits, 16);
    }

    /** {@code value >> shift} rounded to nearest, ties to even. */
    private static int roundShift(int value, int shift) {
        int kept = value >>> shift;
        int rest = value & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        return rest > half || (rest == half && (kept & 1) == 1) ? kept + 1 : kept;
    }
}

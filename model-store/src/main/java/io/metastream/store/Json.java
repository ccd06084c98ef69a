package io.metastream.store;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * The store's one JSON configuration: ISO-8601 instants without the jsr310 module, indented
 * manifests, strict about unknown fields. Also reads the {@code format_version} of a versioned file
 * before binding it, so that a too-new file is refused with a clear exception.
 */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new SimpleModule("iso-instant")
                    .addSerializer(Instant.class, ToStringSerializer.instance)
                    .addDeserializer(Instant.class, new InstantDeserializer()))
            .enable(SerializationFeature.INDENT_OUTPUT);

    private Json() {
    }

    /** Indented JSON bytes of a value that is known to serialise (records, maps of JSON values). */
    static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }

    /** One line of JSON (no trailing newline), for JSON-lines logs. */
    static String writeLine(Object value) {
        try {
            return MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }

    /**
     * Parses a versioned JSON object and checks its {@code format_version}.
     *
     * @throws CorruptArtifactException if the bytes are not a JSON object with an integer format_version,
     *     or hold a number beyond the range of a double
     * @throws IncompatibleArtifactException if the format version is above {@code supported}
     */
    static JsonNode readVersioned(byte[] bytes, String ref, String fileName, int supported) {
        JsonNode tree;
        try {
            tree = MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw new CorruptArtifactException(ref, fileName, "truncated/unparseable " + kind(fileName)
                    + ": " + originalMessage(e), e);
        }
        if (tree == null || !tree.isObject()) {
            throw new CorruptArtifactException(ref, fileName, "truncated/unparseable " + kind(fileName)
                    + ": not a JSON object", null);
        }
        String overflow = nonFiniteNumber(tree, "");
        if (overflow != null) {
            // Jackson reads 1e400 as Infinity, and writes it back as the string "Infinity": a
            // manifest read and published again would change (found by ManifestFuzzTarget). No
            // writer of this store puts such a number in a file.
            throw new CorruptArtifactException(ref, fileName, "the number at " + overflow
                    + " is beyond the range of a double", null);
        }
        JsonNode version = tree.get("format_version");
        if (version == null || !version.isIntegralNumber() || !version.canConvertToInt()) {
            throw new CorruptArtifactException(ref, fileName, "no integer format_version, was: " + version, null);
        }
        if (version.intValue() > supported) {
            throw new IncompatibleArtifactException(ref, fileName, version.intValue(), supported);
        }
        return tree;
    }

    /** The path of the first number in {@code node} that reads as an infinite double, or null. */
    private static String nonFiniteNumber(JsonNode node, String path) {
        if (node.isFloatingPointNumber() && !Double.isFinite(node.doubleValue())) {
            return path.isEmpty() ? "/" : path;
        }
        if (node.isObject()) {
            for (var field : node.properties()) {
                String found = nonFiniteNumber(field.getValue(), path + "/" + field.getKey());
                if (found != null) {
                    return found;
                }
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                String found = nonFiniteNumber(node.get(i), path + "/" + i);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    /**
     * Binds a parsed tree to {@code type}.
     *
     * @throws CorruptArtifactException if a field is missing, unknown, mistyped or invalid
     */
    static <T> T bind(JsonNode tree, Class<T> type, String ref, String fileName) {
        try {
            return MAPPER.treeToValue(tree, type);
        } catch (JacksonException | IllegalArgumentException e) {
            throw new CorruptArtifactException(ref, fileName, "unparseable " + kind(fileName) + ": "
                    + originalMessage(e), e);
        }
    }

    private static String kind(String fileName) {
        return Names.MANIFEST_FILE.equals(fileName) ? "manifest" : "JSON";
    }

    private static String originalMessage(Exception e) {
        return e instanceof JacksonException j ? j.getOriginalMessage() : e.getMessage();
    }

    private static final class InstantDeserializer extends StdScalarDeserializer<Instant> {
        InstantDeserializer() {
            super(Instant.class);
        }

        @Override
        public Instant deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
            String text = p.getValueAsString();
            try {
                return text == null ? (Instant) ctx.handleUnexpectedToken(Instant.class, p) : Instant.parse(text);
            } catch (DateTimeParseException e) {
                return (Instant) ctx.handleWeirdStringValue(Instant.class, text, "not an ISO-8601 instant");
            }
        }
    }
}

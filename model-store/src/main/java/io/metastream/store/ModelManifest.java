package io.metastream.store;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code manifest.json} of one immutable model version: what the parameter files are, how to
 * rebuild and adapt the network, and where it came from. Written as JSON with snake_case names.
 *
 * <p>All fields are non-null; maps and lists are deep, unmodifiable copies whose leaves are JSON
 * values (strings, numbers, booleans, nulls). The publisher fills a {@link Builder}; the store fills
 * {@code name}, {@code version}, {@code createdAt} and {@code files}.
 *
 * @param formatVersion manifest format; readers refuse versions above {@link #CURRENT_FORMAT_VERSION}
 * @param name model name, e.g. {@code "sine-mlp"}
 * @param version store-assigned version, {@code "1"}, {@code "2"}, ...
 * @param learner meta-learning algorithm, e.g. {@code "reptile"}
 * @param architecture network family, e.g. {@code "mlp"}
 * @param architectureParams e.g. layer sizes and activation
 * @param inputShape shape of one input example, every dimension positive
 * @param dtype parameter element type, e.g. {@code "float32"}
 * @param adaptation inner-loop settings: steps, step size, ...
 * @param provenance data set, seed, git commit, metrics, library versions, ...
 * @param createdAt when the store published this version (ISO-8601 in JSON)
 * @param files parameter file name to lowercase hex sha256, sorted by name
 */
@JsonPropertyOrder({"format_version", "name", "version", "learner", "architecture", "architecture_params",
        "input_shape", "dtype", "adaptation", "provenance", "created_at", "files"})
public record ModelManifest(
        @JsonProperty("format_version") int formatVersion,
        @JsonProperty("name") String name,
        @JsonProperty("version") String version,
        @JsonProperty("learner") String learner,
        @JsonProperty("architecture") String architecture,
        @JsonProperty("architecture_params") Map<String, Object> architectureParams,
        @JsonProperty("input_shape") List<Integer> inputShape,
        @JsonProperty("dtype") String dtype,
        @JsonProperty("adaptation") Map<String, Object> adaptation,
        @JsonProperty("provenance") Map<String, Object> provenance,
        @JsonProperty("created_at") Instant createdAt,
        @JsonProperty("files") Map<String, String> files) {

    /** The manifest format this code writes, and the newest it reads. */
    public static final int CURRENT_FORMAT_VERSION = 1;

    /**
     * Validates and copies every field.
     *
     * @throws IllegalArgumentException naming the first missing or malformed value
     */
    public ModelManifest {
        if (formatVersion < 1) {
            throw new IllegalArgumentException("format_version must be >= 1, was: " + formatVersion);
        }
        Names.checkModelName(name);
        Names.checkVersion(version);
        learner = requireText(learner, "learner");
        architecture = requireText(architecture, "architecture");
        dtype = requireText(dtype, "dtype");
        inputShape = checkShape(inputShape);
        architectureParams = freezeMap(architectureParams);
        adaptation = freezeMap(adaptation);
        provenance = freezeMap(provenance);
        if (createdAt == null) {
            throw new IllegalArgumentException("created_at must be set, was: null");
        }
        files = checkFiles(files);
    }

    /**
     * Parses the manifest bytes of {@code name@version}, as stored or as carried elsewhere, and
     * checks that it describes that version.
     *
     * @throws CorruptArtifactException if it is truncated, unparseable, invalid or names another version
     * @throws IncompatibleArtifactException if its format version is newer than this code reads
     */
    public static ModelManifest parse(String name, String version, byte[] bytes) {
        return ArtifactVerifier.manifest(name, version, bytes);
    }

    /** A draft publisher builder; see {@link Builder} for which fields are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** The manifest as the indented JSON the store writes. */
    public String toJson() {
        return new String(Json.write(this), StandardCharsets.UTF_8);
    }

    /** {@code name@version}, e.g. {@code "sine-mlp@3"}. */
    public String ref() {
        return name + "@" + version;
    }

    /** A builder holding this manifest's publisher fields, to publish a sibling version. */
    public Builder toDraft() {
        return new Builder().setLearner(learner).setArchitecture(architecture).setInputShape(inputShape)
                .optArchitectureParams(architectureParams).optDtype(dtype).optAdaptation(adaptation)
                .optProvenance(provenance);
    }

    ModelManifest withVersion(String newVersion) {
        return new ModelManifest(formatVersion, name, newVersion, learner, architecture, architectureParams,
                inputShape, dtype, adaptation, provenance, createdAt, files);
    }

    private static String requireText(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(field + " must be non-blank, was: "
                    + (value == null ? "null" : "'" + value + "'"));
        }
        return value;
    }

    private static List<Integer> checkShape(List<Integer> shape) {
        if (shape == null || shape.isEmpty() || shape.stream().anyMatch(d -> d == null || d <= 0)) {
            throw new IllegalArgumentException("input_shape must be a non-empty list of positive dimensions, was: "
                    + shape);
        }
        return List.copyOf(shape);
    }

    private static Map<String, String> checkFiles(Map<String, String> files) {
        if (files == null || files.isEmpty()) {
            throw new IllegalArgumentException("files must list at least one parameter file, was: " + files);
        }
        Map<String, String> sorted = new TreeMap<>();
        files.forEach((fileName, sha) -> {
            Names.checkFileName(fileName);
            if (sha == null || !Names.SHA256_HEX.matcher(sha).matches()) {
                throw new IllegalArgumentException("sha256 of '" + fileName
                        + "' must be 64 lowercase hex characters, was: " + sha);
            }
            sorted.put(fileName, sha);
        });
        return Collections.unmodifiableMap(sorted);
    }

    private static Map<String, Object> freezeMap(Map<String, Object> map) {
        @SuppressWarnings("unchecked")
        Map<String, Object> frozen = map == null ? Map.of() : (Map<String, Object>) freeze(map);
        return frozen;
    }

    /** Deep unmodifiable copy; unlike {@code Map.copyOf} it keeps insertion order and JSON nulls. */
    private static Object freeze(Object value) {
        if (value instanceof Map<?, ?> map) {
            Map<String, Object> copy = new LinkedHashMap<>();
            map.forEach((k, v) -> copy.put(String.valueOf(k), freeze(v)));
            return Collections.unmodifiableMap(copy);
        }
        if (value instanceof List<?> list) {
            List<Object> copy = new ArrayList<>(list.size());
            list.forEach(v -> copy.add(freeze(v)));
            return Collections.unmodifiableList(copy);
        }
        return value;
    }

    /**
     * Collects a manifest's fields. Required for {@link #build()}: {@code setLearner},
     * {@code setArchitecture}, {@code setInputShape}, and the store-filled {@code setName},
     * {@code setVersion}, {@code setCreatedAt}, {@code setFiles}. Optional: {@code optDtype} (default
     * {@code "float32"}), {@code optArchitectureParams}, {@code optAdaptation}, {@code optProvenance}
     * (default empty). Setters only record values; {@link #build()} validates.
     */
    public static final class Builder {
        private String name;
        private String version;
        private String learner;
        private String architecture;
        private Map<String, Object> architectureParams = Map.of();
        private List<Integer> inputShape;
        private String dtype = "float32";
        private Map<String, Object> adaptation = Map.of();
        private Map<String, Object> provenance = Map.of();
        private Instant createdAt;
        private Map<String, String> files;

        private Builder() {
        }

        public Builder setLearner(String learner) {
            this.learner = learner;
            return this;
        }

        public Builder setArchitecture(String architecture) {
            this.architecture = architecture;
            return this;
        }

        public Builder setInputShape(List<Integer> inputShape) {
            this.inputShape = inputShape;
            return this;
        }

        public Builder setInputShape(int... inputShape) {
            List<Integer> shape = new ArrayList<>(inputShape.length);
            for (int d : inputShape) {
                shape.add(d);
            }
            return setInputShape(shape);
        }

        public Builder optArchitectureParams(Map<String, Object> architectureParams) {
            this.architectureParams = architectureParams;
            return this;
        }

        public Builder optDtype(String dtype) {
            this.dtype = dtype;
            return this;
        }

        public Builder optAdaptation(Map<String, Object> adaptation) {
            this.adaptation = adaptation;
            return this;
        }

        public Builder optProvenance(Map<String, Object> provenance) {
            this.provenance = provenance;
            return this;
        }

        /** Filled by the store on publish; a publisher's value is overwritten. */
        public Builder setName(String name) {
            this.name = name;
            return this;
        }

        /** Filled by the store on publish; a publisher's value is overwritten. */
        public Builder setVersion(String version) {
            this.version = version;
            return this;
        }

        /** Filled by the store on publish; a publisher's value is overwritten. */
        public Builder setCreatedAt(Instant createdAt) {
            this.createdAt = createdAt;
            return this;
        }

        /** Filled by the store on publish (file name to sha256); a publisher's value is overwritten. */
        public Builder setFiles(Map<String, String> files) {
            this.files = files;
            return this;
        }

        /** An independent builder with the same values, so the store never mutates a caller's draft. */
        public Builder copy() {
            Builder b = new Builder();
            b.name = name;
            b.version = version;
            b.learner = learner;
            b.architecture = architecture;
            b.architectureParams = architectureParams;
            b.inputShape = inputShape;
            b.dtype = dtype;
            b.adaptation = adaptation;
            b.provenance = provenance;
            b.createdAt = createdAt;
            b.files = files;
            return b;
        }

        /**
         * A manifest at {@link #CURRENT_FORMAT_VERSION}.
         *
         * @throws IllegalArgumentException naming the first missing or malformed value
         */
        public ModelManifest build() {
            return new ModelManifest(CURRENT_FORMAT_VERSION, name, version, learner, architecture,
                    architectureParams, inputShape, dtype, adaptation, provenance, createdAt, files);
        }
    }
}

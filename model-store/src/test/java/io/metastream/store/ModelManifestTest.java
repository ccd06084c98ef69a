package io.metastream.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelManifestTest {
    private static final String SHA = Sha256.hex(new byte[] {1});

    private static ModelManifest.Builder complete() {
        return LocalDirectoryModelStoreTest.draft().setName("m").setVersion("1").setCreatedAt(Instant.EPOCH)
                .setFiles(Map.of("w.bin", SHA));
    }

    @Test
    void shouldDefaultDtypeAndFormatWhenBuiltFromDraft() {
        ModelManifest m = complete().build();

        assertThat(m.dtype()).isEqualTo("float32");
        assertThat(m.formatVersion()).isEqualTo(ModelManifest.CURRENT_FORMAT_VERSION);
        assertThat(m.ref()).isEqualTo("m@1");
    }

    @Test
    void shouldNameBadValueWhenInputShapeHasNonPositiveDimension() {
        assertThatThrownBy(() -> complete().setInputShape(3, 0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("input_shape").hasMessageContaining("[3, 0]");
    }

    @Test
    void shouldNameBadValueWhenRequiredFieldMissingOrMalformed() {
        assertThatThrownBy(() -> complete().setArchitecture(" ").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("architecture");
        assertThatThrownBy(() -> complete().setVersion("01").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'01'");
        assertThatThrownBy(() -> complete().setFiles(Map.of("w.bin", "ABC")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ABC");
        assertThatThrownBy(() -> complete().setCreatedAt(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("created_at");
    }

    @Test
    void shouldBeDeeplyImmutableWhenCallerMutatesInputs() {
        List<Object> hidden = new ArrayList<>(List.of(40, 40));
        Map<String, Object> arch = new HashMap<>(Map.of("hidden", hidden));
        ModelManifest m = complete().optArchitectureParams(arch).build();

        hidden.add(99);
        arch.put("extra", true);

        assertThat(m.architectureParams()).isEqualTo(Map.of("hidden", List.of(40, 40)));
        assertThatThrownBy(() -> m.architectureParams().put("x", 1)).isInstanceOf(UnsupportedOperationException.class);
        @SuppressWarnings("unchecked")
        List<Object> frozenHidden = (List<Object>) m.architectureParams().get("hidden");
        assertThatThrownBy(() -> frozenHidden.add(1)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void shouldKeepPublisherFieldsWhenDraftedFromManifest() {
        ModelManifest m = complete().build();

        ModelManifest sibling = m.toDraft().setName("m").setVersion("2").setCreatedAt(Instant.EPOCH)
                .setFiles(m.files()).build();

        assertThat(sibling).isEqualTo(m.withVersion("2"));
    }

    @Test
    void shouldRefuseAStoredManifestWithANumberBeyondTheRangeOfADouble() {
        // Found with ManifestFuzzTarget's write-back property (its Inputs hold the file): 1e400 was
        // read as Infinity and written back as the string "Infinity", another manifest.
        String json = complete().optProvenance(Map.of()).build().toJson().replace("\"provenance\" : { }",
                "\"provenance\" : { \"metrics\" : { \"mse\" : [ 0.5, 1e400 ] } }");
        assertThat(json).contains("1e400");

        assertThatThrownBy(() -> ArtifactVerifier.manifest("m", "1", json.getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                .isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("the number at /provenance/metrics/mse/1 is beyond the range of a double");
        String small = json.replace("1e400", "1e-400");
        assertThat(ArtifactVerifier.manifest("m", "1", small.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .provenance()).isEqualTo(Map.of("metrics", Map.of("mse", List.of(0.5, 0.0))));
    }
}

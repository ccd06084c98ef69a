package io.metastream.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Golden artifacts from test resources: old formats must keep loading, the writer must not drift. */
class ManifestFormatTest {
    @TempDir
    Path root;

    @Test
    void shouldLoadFormatOneGoldenArtifactWhenReadByCurrentCode() throws Exception {
        copyGolden("format-1");

        LoadedArtifact loaded = new LocalDirectoryModelStore(root).load("sine-mlp", "1");

        ModelManifest m = loaded.manifest();
        assertThat(m.formatVersion()).isEqualTo(1);
        assertThat(m.ref()).isEqualTo("sine-mlp@1");
        assertThat(m.learner()).isEqualTo("reptile");
        assertThat(m.architecture()).isEqualTo("mlp");
        assertThat(m.architectureParams()).containsEntry("hidden", List.of(40, 40)).containsEntry("activation", "relu");
        assertThat(m.inputShape()).containsExactly(1);
        assertThat(m.dtype()).isEqualTo("float32");
        assertThat(m.adaptation()).containsEntry("inner_steps", 5).containsEntry("step_size", 0.01);
        assertThat(m.provenance()).containsEntry("seed", 42).containsEntry("metrics", Map.of("meta_test_mse", 0.12));
        assertThat(m.createdAt()).isEqualTo(Instant.parse("2025-06-01T12:00:00Z"));
        ByteBuffer weights = ByteBuffer.wrap(loaded.file("weights.bin")).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(new float[] {weights.getFloat(), weights.getFloat(), weights.getFloat(), weights.getFloat()})
                .containsExactly(0.5f, -1.25f, 2.0f, 0.0f);
    }

    @Test
    void shouldReproduceGoldenBytesWhenCurrentFormatIsWritten() throws Exception {
        copyGolden("format-" + ModelManifest.CURRENT_FORMAT_VERSION);
        Path manifestFile = root.resolve("sine-mlp/1/manifest.json");

        ModelManifest manifest = new LocalDirectoryModelStore(root).load("sine-mlp", "1").manifest();

        assertThat(new String(Json.write(manifest), java.nio.charset.StandardCharsets.UTF_8))
                .isEqualTo(Files.readString(manifestFile));
    }

    @Test
    void shouldUseSnakeCaseNamesWhenSerialised() throws IOException {
        ModelManifest manifest = LocalDirectoryModelStoreTest.draft().setName("m").setVersion("3")
                .setCreatedAt(Instant.EPOCH).setFiles(Map.of("w.bin", Sha256.hex(new byte[0]))).build();

        var tree = Json.MAPPER.readTree(Json.write(manifest));

        assertThat(tree.fieldNames()).toIterable().containsExactly("format_version", "name", "version", "learner",
                "architecture", "architecture_params", "input_shape", "dtype", "adaptation", "provenance",
                "created_at", "files");
        assertThat(tree.get("created_at").asText()).isEqualTo("1970-01-01T00:00:00Z");
        assertThat(Json.MAPPER.treeToValue(tree, ModelManifest.class)).isEqualTo(manifest);
    }

    private void copyGolden(String format) throws IOException, URISyntaxException {
        Path source = Path.of(getClass().getResource("/golden/" + format).toURI());
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path p : walk.toList()) {
                Path target = root.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals("README.md")) {
                    Files.copy(p, target);
                }
            }
        }
    }
}

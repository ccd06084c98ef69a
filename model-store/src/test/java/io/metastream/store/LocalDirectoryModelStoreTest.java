package io.metastream.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LocalDirectoryModelStoreTest {
    static final Instant NOW = Instant.parse("2025-06-01T12:00:00.123456Z");

    @TempDir
    Path root;

    private LocalDirectoryModelStore store() {
        return new LocalDirectoryModelStore(root, Clock.fixed(NOW, ZoneOffset.UTC));
    }

    static ModelManifest.Builder draft() {
        return ModelManifest.builder().setLearner("reptile").setArchitecture("mlp").setInputShape(1)
                .optArchitectureParams(Map.of("hidden", List.of(40, 40), "activation", "relu"))
                .optAdaptation(Map.of("inner_steps", 5, "step_size", 0.01))
                .optProvenance(Map.of("dataset", "sine-v1", "seed", 42, "git_commit", "abc123"));
    }

    static Map<String, byte[]> files() {
        return Map.of("weights.bin", new byte[] {1, 2, 3, 4, 5}, "optimizer.bin", new byte[] {9, 8, 7});
    }

    @Test
    void shouldReturnIdenticalBytesAndManifestWhenLoadingPublishedVersion() {
        LocalDirectoryModelStore store = store();
        ModelManifest published = store.publish("sine-mlp", draft(), files());

        LoadedArtifact loaded = store.load("sine-mlp", "1");

        assertThat(loaded.manifest()).isEqualTo(published);
        assertThat(loaded.file("weights.bin")).containsExactly(1, 2, 3, 4, 5);
        assertThat(loaded.file("optimizer.bin")).containsExactly(9, 8, 7);
        assertThat(published.ref()).isEqualTo("sine-mlp@1");
        assertThat(published.createdAt()).isEqualTo(NOW);
        assertThat(published.files()).containsEntry("weights.bin", Sha256.hex(new byte[] {1, 2, 3, 4, 5}));
        assertThat(published.adaptation()).containsEntry("step_size", 0.01).containsEntry("inner_steps", 5);
        assertThat(published.architectureParams()).containsEntry("hidden", List.of(40, 40));
        assertThatThrownBy(() -> loaded.file("absent.bin"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("absent.bin");
    }

    @Test
    void shouldIncrementVersionsWhenPublishingAgain() {
        LocalDirectoryModelStore store = store();
        List<String> assigned = IntStream.range(0, 3)
                .mapToObj(i -> store.publish("sine-mlp", draft(), files()).version()).toList();
        store.publish("other", draft(), files());

        assertThat(assigned).containsExactly("1", "2", "3");
        assertThat(store.versions("sine-mlp")).extracting(ModelManifest::version).containsExactly("1", "2", "3");
        assertThat(store.modelNames()).containsExactly("other", "sine-mlp");
    }

    @Test
    void shouldOrderVersionsNumericallyWhenPastNine() {
        LocalDirectoryModelStore store = store();
        IntStream.range(0, 11).forEach(i -> store.publish("m", draft(), files()));

        assertThat(store.versions("m")).extracting(ModelManifest::version).endsWith("9", "10", "11");
    }

    @Test
    void shouldNameFileAndDigestsWhenParameterByteFlipped() throws IOException {
        LocalDirectoryModelStore store = store();
        ModelManifest published = store.publish("m", draft(), files());
        Path weights = root.resolve("m/1/weights.bin");
        byte[] bytes = Files.readAllBytes(weights);
        bytes[2] ^= 0x01;
        Files.write(weights, bytes);

        assertThatThrownBy(() -> store.load("m", "1"))
                .isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("m@1").hasMessageContaining("weights.bin")
                .hasMessageContaining("expected " + published.files().get("weights.bin"))
                .hasMessageContaining("actual " + Sha256.hex(bytes))
                .extracting(e -> ((CorruptArtifactException) e).fileName()).isEqualTo("weights.bin");
    }

    @Test
    void shouldReportCorruptWhenManifestTruncated() throws IOException {
        LocalDirectoryModelStore store = store();
        store.publish("m", draft(), files());
        Path manifest = root.resolve("m/1/manifest.json");
        byte[] bytes = Files.readAllBytes(manifest);
        Files.write(manifest, Arrays.copyOf(bytes, bytes.length / 2));

        assertThatThrownBy(() -> store.load("m", "1"))
                .isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("m@1").hasMessageContaining("manifest.json")
                .hasMessageContaining("truncated/unparseable manifest");
        assertThatThrownBy(() -> store.versions("m")).isInstanceOf(CorruptArtifactException.class);
    }

    @Test
    void shouldReportMissingWhenListedFileDeleted() throws IOException {
        LocalDirectoryModelStore store = store();
        store.publish("m", draft(), files());
        Files.delete(root.resolve("m/1/optimizer.bin"));

        assertThatThrownBy(() -> store.load("m", "1"))
                .isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("m@1").hasMessageContaining("optimizer.bin").hasMessageContaining("missing");
    }

    @Test
    void shouldReportCorruptWhenManifestNamesAnotherVersion() throws IOException {
        LocalDirectoryModelStore store = store();
        store.publish("m", draft(), files());
        store.publish("m", draft(), files());
        Files.copy(root.resolve("m/1/manifest.json"), root.resolve("m/2/manifest.json"),
                StandardCopyOption.REPLACE_EXISTING);

        assertThatThrownBy(() -> store.load("m", "2"))
                .isInstanceOf(CorruptArtifactException.class).hasMessageContaining("names m@1");
    }

    @Test
    void shouldRefuseWhenManifestFormatVersionIsNewer() throws IOException {
        LocalDirectoryModelStore store = store();
        store.publish("m", draft(), files());
        Path manifest = root.resolve("m/1/manifest.json");
        String json = Files.readString(manifest);
        assertThat(json).contains("\"format_version\" : 1");
        Files.writeString(manifest, json.replace("\"format_version\" : 1", "\"format_version\" : 99"));

        assertThatThrownBy(() -> store.load("m", "1"))
                .isInstanceOf(IncompatibleArtifactException.class)
                .hasMessageContaining("m@1").hasMessageContaining("99")
                .extracting(e -> ((IncompatibleArtifactException) e).formatVersion()).isEqualTo(99);
    }

    @Test
    void shouldIgnoreLeftoverTempDirWhenListingAndCleanItWhenStale() throws IOException {
        LocalDirectoryModelStore store = store();
        store.publish("m", draft(), files());
        Path stale = Files.createDirectories(root.resolve("m/.tmp-xyz"));
        Files.write(stale.resolve("weights.bin"), new byte[] {1});
        Files.setLastModifiedTime(stale, FileTime.from(NOW.minus(LocalDirectoryModelStore.STALE_TMP_AGE).minusSeconds(1)));
        Path fresh = Files.createDirectories(root.resolve("m/.tmp-inflight"));
        Files.setLastModifiedTime(fresh, FileTime.from(NOW));

        assertThat(store.versions("m")).extracting(ModelManifest::version).containsExactly("1");
        assertThat(store.modelNames()).containsExactly("m");

        assertThat(store.publish("m", draft(), files()).version()).isEqualTo("2");
        assertThat(stale).doesNotExist();
        assertThat(fresh).exists();
    }

    @Test
    void shouldNotListModelWhenOnlyTempDirExists() throws IOException {
        LocalDirectoryModelStore store = store();
        Files.createDirectories(root.resolve("crashed/.tmp-abc"));

        assertThat(store.modelNames()).isEmpty();
        assertThatThrownBy(() -> store.versions("crashed")).isInstanceOf(ModelNotFoundException.class);
    }

    @Test
    void shouldSkipNumberWhenVersionTargetAlreadyTaken() throws IOException {
        LocalDirectoryModelStore store = store();
        Files.createDirectories(root.resolve("m"));
        Files.write(root.resolve("m/1"), new byte[] {0}); // not a version directory, but the name is taken

        ModelManifest published = store.publish("m", draft(), files());

        assertThat(published.version()).isEqualTo("2");
        assertThat(store.load("m", "2").file("weights.bin")).containsExactly(1, 2, 3, 4, 5);
        try (var entries = Files.list(root.resolve("m"))) {
            assertThat(entries.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("1", "2");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Sine", "../etc", "a/b", ".hidden", "-lead", "has space"})
    void shouldRejectModelNameWhenInvalid(String name) {
        LocalDirectoryModelStore store = store();

        assertThatThrownBy(() -> store.publish(name, draft(), files()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'" + name + "'");
        assertThat(store.modelNames()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"manifest.json", "../w.bin", "dir/w.bin", "a..b", ".tmp-w", ""})
    void shouldRejectFileNameWhenNotSimple(String fileName) {
        assertThatThrownBy(() -> store().publish("m", draft(), Map.of(fileName, new byte[] {1})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'" + fileName + "'");
        assertThat(root.resolve("m")).doesNotExist();
    }

    @Test
    void shouldWriteNothingWhenDraftInvalid() {
        ModelManifest.Builder noLearner = draft().setLearner(null);

        assertThatThrownBy(() -> store().publish("m", noLearner, files()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("learner");
        assertThat(root.resolve("m")).doesNotExist();
    }

    @Test
    void shouldThrowNotFoundWhenModelVersionOrAliasUnknown() {
        LocalDirectoryModelStore store = store();
        store.publish("m", draft(), files());

        assertThatThrownBy(() -> store.load("nope", "1")).isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("nope");
        assertThatThrownBy(() -> store.load("m", "2")).isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("m@2");
        assertThatThrownBy(() -> store.load("m", "production")).isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("production");
        assertThatThrownBy(() -> store.alias("nope", "production")).isInstanceOf(ModelNotFoundException.class);
    }

    @Test
    void shouldAssignDistinctVersionsWhenFourThreadsPublishConcurrently() throws Exception {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(root); // real clock: in-flight temps are fresh
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<ModelManifest>> futures = IntStream.range(0, 4).mapToObj(i -> pool.submit(
                    (Callable<ModelManifest>) () -> {
                        start.await();
                        return store.publish("m", draft(), Map.of("w.bin", ("thread-" + i).getBytes(StandardCharsets.UTF_8)));
                    })).toList();
            start.countDown();
            List<String> versions = futures.stream().map(f -> {
                try {
                    return f.get().version();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }).collect(Collectors.toList());

            assertThat(versions).containsExactlyInAnyOrder("1", "2", "3", "4");
            assertThat(IntStream.rangeClosed(1, 4)
                    .mapToObj(v -> new String(store.load("m", Integer.toString(v)).file("w.bin"), StandardCharsets.UTF_8)))
                    .containsExactlyInAnyOrder("thread-0", "thread-1", "thread-2", "thread-3");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void shouldPinAVersionByTheSha256OfItsManifestAndRefuseAnotherArtifactUnderThatVersion() throws IOException {
        LocalDirectoryModelStore store = store();
        store.publish("sine-mlp", draft(), files());
        Path manifest = root.resolve("sine-mlp").resolve("1").resolve("manifest.json");
        String digest = store.digest("sine-mlp", "1");
        assertThat(digest).isEqualTo(Sha256.hex(Files.readAllBytes(manifest)));
        assertThat(store.load("sine-mlp", "1").requireDigest(digest).digest()).isEqualTo(digest);
        assertThat(store.load("sine-mlp", "1").requireDigest(null).digest()).as("no digest announced").isEqualTo(digest);

        // Another store's version 1: same files, other settings.
        Path other = root.resolveSibling(root.getFileName() + "-other");
        LocalDirectoryModelStore elsewhere = new LocalDirectoryModelStore(other, Clock.fixed(NOW, ZoneOffset.UTC));
        elsewhere.publish("sine-mlp", draft().optAdaptation(Map.of("inner_steps", 1, "step_size", 0.5)), files());
        assertThatThrownBy(() -> elsewhere.load("sine-mlp", "1").requireDigest(digest))
                .isInstanceOf(ArtifactMismatchException.class).hasMessageContaining("sine-mlp@1")
                .hasMessageContaining(digest).hasMessageContaining(elsewhere.digest("sine-mlp", "1"));
    }

    @Test
    void shouldInstallAnotherStoresVersionUnderItsNumberWithItsDigest() throws IOException {
        LocalDirectoryModelStore source = store();
        source.publish("sine-mlp", draft(), files());
        source.publish("sine-mlp", draft(), Map.of("weights.bin", new byte[] {7}));
        byte[] manifest = source.manifestBytes("sine-mlp", "2");
        assertThat(Sha256.hex(manifest)).isEqualTo(source.digest("sine-mlp", "2"));

        LocalDirectoryModelStore cache = new LocalDirectoryModelStore(root.resolve("cache"));
        assertThat(cache.install("sine-mlp", "2", manifest, Map.of("weights.bin", new byte[] {7}))).isTrue();

        assertThat(cache.digest("sine-mlp", "2")).isEqualTo(source.digest("sine-mlp", "2"));
        assertThat(cache.load("sine-mlp", "2")).isEqualTo(source.load("sine-mlp", "2"));
        assertThat(cache.alias("sine-mlp", "production")).as("aliases untouched").isEmpty();
        assertThat(cache.install("sine-mlp", "2", manifest, Map.of("weights.bin", new byte[] {7})))
                .as("the same artifact again").isFalse();
        assertThat(cache.publish("sine-mlp", draft(), files()).version()).as("publish goes past it").isEqualTo("3");
    }

    @Test
    void shouldRefuseToInstallWhatDoesNotCheckOutAndLeaveNothingBehind() throws IOException {
        LocalDirectoryModelStore source = store();
        source.publish("sine-mlp", draft(), files());
        source.publish("sine-mlp", draft(), Map.of("weights.bin", new byte[] {7}));
        byte[] one = source.manifestBytes("sine-mlp", "1");
        LocalDirectoryModelStore cache = new LocalDirectoryModelStore(root.resolve("cache"));

        Map<String, byte[]> tampered = Map.of("weights.bin", new byte[] {1, 2, 3, 4, 6}, "optimizer.bin",
                new byte[] {9, 8, 7});
        assertThatThrownBy(() -> cache.install("sine-mlp", "1", one, tampered))
                .isInstanceOf(CorruptArtifactException.class).hasMessageContaining("weights.bin")
                .hasMessageContaining("sha256 mismatch");
        assertThatThrownBy(() -> cache.install("sine-mlp", "1", one, Map.of("weights.bin", new byte[] {1, 2, 3, 4, 5})))
                .as("a listed file missing").isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("optimizer.bin");
        assertThatThrownBy(() -> cache.install("sine-mlp", "3", one, files()))
                .as("a manifest that names another version").isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("sine-mlp@1");
        assertThat(cache.modelNames()).as("nothing visible").isEmpty();

        // A different artifact already under that number is a mismatch, not an overwrite.
        cache.install("sine-mlp", "2", source.manifestBytes("sine-mlp", "2"), Map.of("weights.bin", new byte[] {7}));
        LocalDirectoryModelStore other = new LocalDirectoryModelStore(root.resolve("other"));
        other.publish("sine-mlp", draft(), files());
        other.publish("sine-mlp", draft().optProvenance(Map.of("seed", 7)), Map.of("weights.bin", new byte[] {8}));
        assertThatThrownBy(() -> cache.install("sine-mlp", "2", other.manifestBytes("sine-mlp", "2"),
                Map.of("weights.bin", new byte[] {8}))).isInstanceOf(ArtifactMismatchException.class);
        assertThat(cache.load("sine-mlp", "2").file("weights.bin")).containsExactly(7);
    }
}

package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.schemas.ArtifactChunk;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.server.MetastreamApp;
import io.metastream.server.ModelPromotion;
import io.metastream.store.CorruptArtifactException;
import io.metastream.store.LoadedArtifact;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelNotFoundException;
import io.metastream.store.ModelStore;
import io.metastream.store.Sha256;
import io.metastream.streams.ModelArtifacts;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base-model versions travel through Kafka: an instance whose model store starts empty serves the
 * announced version, follows promotions into its own store (a cache), and refuses a version whose
 * chunks on the model-artifacts topic are missing or corrupt while the current base keeps serving.
 */
@Tag("embedded-broker")
class ModelArtifactsTest {
    private static final Duration SWAP_BOUND = Duration.ofSeconds(20);
    private static final Duration FETCH = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void shouldServeFromAnEmptyStoreFollowPromotionsAndRefuseACorruptChunk() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            String v3 = f.publishVersion(3).version();
            ModelPromotion.promote(f.store, MODEL, "production", v1, true, client(f), f.topics);

            LocalDirectoryModelStore cache = new LocalDirectoryModelStore(dir.resolve("cache-a"));
            MetastreamApp app = f.startInstance("a", Map.of(), cache);
            MetastreamApp other = f.startInstance("b", Map.of(), new LocalDirectoryModelStore(dir.resolve("cache-b")));
            assertThat(app.model().base().version()).as("served from an empty store").isEqualTo(MODEL + "@" + v1);
            assertThat(other.model().base().version()).isEqualTo(MODEL + "@" + v1);
            assertThat(cache.digest(MODEL, v1)).as("the same artifact, byte for byte")
                    .isEqualTo(f.store.digest(MODEL, v1));
            assertThat(cache.alias(MODEL, "production")).as("a cache's aliases are not moved").isEmpty();

            ModelPromotion.promote(f.store, MODEL, "production", v2, true, client(f), f.topics);
            for (String instance : new String[] {"a", "b"}) {
                await(SWAP_BOUND, instance + "'s swap to v2", () -> event(f, instance, MODEL + "@" + v2, "SWAPPED") != null);
                assertThat(event(f, instance, MODEL + "@" + v2, "SWAPPED").getReason())
                        .contains("fetched from model-artifacts");
            }
            assertThat(app.model().base().version()).isEqualTo(MODEL + "@" + v2);
            assertThat(other.model().base().version()).isEqualTo(MODEL + "@" + v2);
            assertThat(cache.load(MODEL, v2)).isEqualTo(f.store.load(MODEL, v2));

            // v3's files go out in small chunks; then one chunk of its parameters is overwritten
            // (same key, so compaction keeps the bad one) with bytes that do not match.
            ModelArtifacts small = new ModelArtifacts(client(f), f.topics.modelArtifacts().name(), 1024, 1 << 20);
            String digest = small.publish(f.store, MODEL, v3);
            LoadedArtifact artifact = f.store.load(MODEL, v3);
            String file = artifact.files().keySet().iterator().next();
            byte[] bytes = artifact.file(file);
            assertThat(bytes.length).as("several chunks").isGreaterThan(2 * 1024);
            byte[] bad = Arrays.copyOfRange(bytes, 1024, 2048);
            bad[7] ^= 0x40;
            sendChunk(f, ArtifactChunk.newBuilder().setModelName(MODEL).setVersion(v3).setManifestDigest(digest)
                    .setFile(file).setFileSha256(Sha256.hex(bytes)).setFileSize(bytes.length).setChunkIndex(1)
                    .setChunkCount((bytes.length + 1023) / 1024).setData(ByteBuffer.wrap(bad)).build());
            ModelPromotion.announce(change(v3, v2, digest), client(f), f.topics);
            for (String instance : new String[] {"a", "b"}) {
                await(SWAP_BOUND, instance + "'s refusal of v3", () -> event(f, instance, MODEL + "@" + v3, "REFUSED") != null);
                assertThat(event(f, instance, MODEL + "@" + v3, "REFUSED").getReason())
                        .contains("CorruptArtifactException").contains(file).contains("sha256 mismatch");
            }
            assertThat(app.model().base().version()).as("still serving").isEqualTo(MODEL + "@" + v2);
            assertThat(other.model().base().version()).as("still serving").isEqualTo(MODEL + "@" + v2);
            assertThatThrownBy(() -> cache.digest(MODEL, v3)).as("nothing of v3 written")
                    .isInstanceOf(ModelNotFoundException.class);
        }
    }

    @Test
    void shouldRefuseMissingChunksForeignDigestsAndOversizedArtifacts() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String topic = f.topics.modelArtifacts().name();
            ModelArtifacts small = new ModelArtifacts(client(f), topic, 1024, 1 << 20);
            String digest = small.publish(f.store, MODEL, v1);
            ModelStore empty = new LocalDirectoryModelStore(dir.resolve("empty"));

            // Another store's artifact under the same version: nothing of it on the topic.
            assertThatThrownBy(() -> small.fetch(empty, MODEL, v1, "ab".repeat(32), FETCH))
                    .isInstanceOf(ModelNotFoundException.class).hasMessageContaining("no chunk of " + MODEL + "@" + v1);
            // Bigger than the reader allows.
            assertThatThrownBy(() -> new ModelArtifacts(client(f), topic, 1024, 2048).fetch(empty, MODEL, v1, digest,
                    FETCH)).isInstanceOf(CorruptArtifactException.class).hasMessageContaining("model.artifacts.max.bytes");

            // A chunk deleted (a tombstone) is named in the refusal, and nothing is installed.
            String file = f.store.load(MODEL, v1).files().keySet().iterator().next();
            f.producer.send(new ProducerRecord<>(topic, MODEL + "/" + v1 + "/" + digest + "/" + file + "/2", null)).get();
            assertThatThrownBy(() -> small.fetch(empty, MODEL, v1, digest, FETCH))
                    .isInstanceOf(CorruptArtifactException.class).hasMessageContaining("chunk 2 of")
                    .hasMessageContaining("missing");
            assertThat(empty.modelNames()).isEmpty();

            // Garbage, and a chunk that lies about its count, under the artifact's keys replace the
            // good chunks there (as compaction will), whether or not the broker has compacted yet;
            // writing the version again repairs it.
            f.producer.send(new ProducerRecord<>(topic, MODEL + "/" + v1 + "/" + digest + "/" + file + "/0",
                    new byte[] {(byte) 0xC3, 1, 2, 3})).get();
            byte[] bytes = f.store.load(MODEL, v1).file(file);
            sendChunk(f, ArtifactChunk.newBuilder().setModelName(MODEL).setVersion(v1).setManifestDigest(digest)
                    .setFile(file).setFileSha256(Sha256.hex(bytes)).setFileSize(bytes.length).setChunkIndex(1)
                    .setChunkCount(Integer.MAX_VALUE).setData(ByteBuffer.wrap(bytes, 1024, 1024)).build());
            assertThatThrownBy(() -> small.fetch(empty, MODEL, v1, digest, FETCH))
                    .isInstanceOf(CorruptArtifactException.class).hasMessageContaining("chunk 0 of")
                    .hasMessageContaining("missing");
            assertThat(empty.modelNames()).isEmpty();
            small.publish(f.store, MODEL, v1);
            assertThat(small.fetch(empty, MODEL, v1, digest, FETCH)).isTrue();
            assertThat(empty.load(MODEL, v1)).isEqualTo(f.store.load(MODEL, v1));
            assertThat(small.fetch(empty, MODEL, v1, digest, FETCH)).as("held already").isFalse();
        }
    }

    private static void sendChunk(StreamingFixture f, ArtifactChunk chunk) throws Exception {
        String topic = f.topics.modelArtifacts().name();
        String key = chunk.getModelName() + "/" + chunk.getVersion() + "/" + chunk.getManifestDigest() + "/"
                + chunk.getFile() + "/" + chunk.getChunkIndex();
        f.producer.send(new ProducerRecord<>(topic, key,
                f.topics.modelArtifacts().valueSerde().serializer().serialize(topic, chunk))).get();
    }

    private static ModelChange change(String version, String previous, String digest) {
        return ModelChange.newBuilder().setModelName(MODEL).setAlias("production").setVersion(version)
                .setPreviousVersion(previous).setAction("promote").setChangedAt(Instant.now())
                .setArtifactDigest(digest).build();
    }

    private static Map<String, Object> client(StreamingFixture f) {
        return Map.of("bootstrap.servers", f.broker.bootstrapServers());
    }

    private static ModelSwapEvent event(StreamingFixture f, String instance, String ref, String status) {
        return f.swaps.stream().filter(e -> e.getInstanceId().equals(instance) && e.getToVersion().equals(ref)
                && e.getStatus().equals(status)).findFirst().orElse(null);
    }
}

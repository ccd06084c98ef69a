package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.schemas.serde.SchemaHistory;
import io.metastream.server.MetastreamApp;
import io.metastream.server.ModelPromotion;
import io.metastream.streams.Topics;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an instance trusts when the models topic announces a version: the announced digest pins the
 * artifact (a manifest edited after promotion passes the store's file checksums but is refused,
 * counted, and the current base keeps serving); a change from before digests is still served; and
 * the store's alias, moved before any announcement, wins over an older announcement.
 */
@Tag("embedded-broker")
class PromotionTrustTest {
    private static final Duration SWAP_BOUND = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void shouldRefuseAVersionWhoseManifestIsNotTheAnnouncedOneAndServeAChangeWithoutDigest() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            String v3 = f.publishVersion(3).version();
            f.store.setAlias(MODEL, "production", v1);
            MetastreamApp app = f.startInstance("a");

            // v2 was vetted and its digest taken; then its manifest was edited: its files still match
            // their checksums, so the store alone would serve it with settings nobody promoted.
            String announced = f.store.digest(MODEL, v2);
            Path manifest = dir.resolve("models").resolve(MODEL).resolve(v2).resolve("manifest.json");
            String edited = Files.readString(manifest, StandardCharsets.UTF_8)
                    .replaceFirst("(\"step_size\"\\s*:\\s*)[0-9.eE-]+", "$10.9");
            assertThat(edited).contains("0.9");
            Files.writeString(manifest, edited, StandardCharsets.UTF_8);
            assertThat(BaseModelArtifacts.load(f.store, MODEL, v2).adaptation().stepSize()).isEqualTo(0.9f);

            f.store.compareAndSetAlias(MODEL, "production", v1, v2);
            ModelPromotion.announce(ModelChange.newBuilder().setModelName(MODEL).setAlias("production")
                    .setVersion(v2).setPreviousVersion(v1).setAction("promote").setChangedAt(Instant.now())
                    .setArtifactDigest(announced).build(), client(f), f.topics);
            await(SWAP_BOUND, "the refusal", () -> event(f, MODEL + "@" + v2, "REFUSED") != null);
            ModelSwapEvent refusal = event(f, MODEL + "@" + v2, "REFUSED");
            assertThat(refusal.getReason()).contains("ArtifactMismatchException").contains(announced)
                    .contains(f.store.digest(MODEL, v2));
            assertThat(refusal.getFromVersion()).isEqualTo(MODEL + "@" + v1);
            assertThat(app.model().base().version()).as("still serving").isEqualTo(MODEL + "@" + v1);
            assertThat(app.registry().find("metastream.model.swaps").tag("outcome", "REFUSED").counter())
                    .as("the refusal is counted").isNotNull()
                    .satisfies(c -> assertThat(c.count()).isGreaterThanOrEqualTo(1));

            // A change as written before digests: the first ModelChange schema, real bytes.
            f.store.compareAndSetAlias(MODEL, "production", v2, v3);
            f.producer.send(new ProducerRecord<>(f.topics.models().name(), Topics.modelKey(MODEL, "production"),
                    oldChange(v3, v2))).get();
            await(SWAP_BOUND, "the swap to " + v3, () -> event(f, MODEL + "@" + v3, "SWAPPED") != null);
            assertThat(app.model().base().version()).isEqualTo(MODEL + "@" + v3);
        }
    }

    /**
     * A promotion that moved the store and died before it announced: the topic still says v1. An
     * instance that starts serves the store's v2 and does not go back to v1; running the same
     * promotion again moves nothing and announces v2, with its digest.
     */
    @Test
    void shouldKeepTheStoresAliasOverAnOlderAnnouncementAndAnnounceOnARepeatedPromotion() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            f.store.setAlias(MODEL, "production", v1);
            ModelPromotion.promote(f.store, MODEL, "production", v1, true, f.broker.bootstrapServers(), f.topics);
            ModelPromotion.promote(f.store, MODEL, "production", v2, true, (String) null, f.topics);

            MetastreamApp app = f.startInstance("a");
            await(SWAP_BOUND, "the watcher's reconciliation", () -> event(f, MODEL + "@" + v2, "UNCHANGED") != null);
            assertThat(event(f, MODEL + "@" + v2, "UNCHANGED").getReason()).contains("the store's production is "
                    + v2);
            assertThat(app.model().base().version()).isEqualTo(MODEL + "@" + v2);

            int lines = f.store.aliasHistory(MODEL).size();
            ModelChange again = ModelPromotion.promote(f.store, MODEL, "production", v2, true,
                    f.broker.bootstrapServers(), f.topics);
            assertThat(again.getArtifactDigest()).isEqualTo(f.store.digest(MODEL, v2));
            assertThat(f.store.aliasHistory(MODEL)).as("nothing moved").hasSize(lines);
            await(SWAP_BOUND, "the announcement of " + v2, () -> f.swaps.stream().filter(e ->
                    e.getToVersion().equals(MODEL + "@" + v2) && e.getStatus().equals("UNCHANGED")).count() == 2);
            assertThat(app.model().base().version()).isEqualTo(MODEL + "@" + v2);
        }
    }

    private static Map<String, Object> client(StreamingFixture f) {
        return Map.of("bootstrap.servers", f.broker.bootstrapServers());
    }

    private static ModelSwapEvent event(StreamingFixture f, String ref, String status) {
        return f.swaps.stream().filter(e -> e.getInstanceId().equals("a") && e.getToVersion().equals(ref)
                && e.getStatus().equals(status)).findFirst().orElse(null);
    }

    private static byte[] oldChange(String version, String previous) throws java.io.IOException {
        Schema v1 = SchemaHistory.of("ModelChange").get(0);
        GenericRecord r = new GenericData.Record(v1);
        r.put("model_name", MODEL);
        r.put("alias", "production");
        r.put("version", version);
        r.put("previous_version", previous);
        r.put("action", "promote");
        r.put("changed_at", System.currentTimeMillis());
        ByteBuffer b = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(r);
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }
}

package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.schemas.Prediction;
import io.metastream.server.ModelPromotion;
import io.metastream.store.CorruptArtifactException;
import io.metastream.streams.ModelWatcher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Promotion, rollback and refusal of base models while the pipeline runs, on a real broker. */
@Tag("embedded-broker")
class ModelLifecycleTest {
    private static final Duration SWAP_BOUND = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void shouldSwitchOnPromotionAndBackOnRollbackWhileTrafficFlows() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            f.store.setAlias(MODEL, "production", v1);
            f.startInstance("a");

            List<String> queries = new ArrayList<>();
            CompletableFuture<Void> traffic = CompletableFuture.runAsync(() -> {
                for (int round = 0; round < 30; round++) {
                    queries.addAll(f.sendTasks("r" + round + "-", 10, 4, 2));
                    sleep(100);
                }
            });
            await(Duration.ofSeconds(30), "predictions under " + v1, () -> f.predictions.stream()
                    .anyMatch(p -> p.getModelVersion().equals(MODEL + "@" + v1)));
            ModelChange promoted = ModelPromotion.promote(f.store, MODEL, "production", v2, true,
                    f.broker.bootstrapServers(), f.topics);
            await(SWAP_BOUND, "the swap to " + v2, () -> swapped(f, "a", MODEL + "@" + v2));
            await(Duration.ofSeconds(30), "predictions under " + v2, () -> f.predictions.stream()
                    .anyMatch(p -> p.getModelVersion().equals(MODEL + "@" + v2)));
            ModelChange rolledBack = ModelPromotion.rollback(f.store, MODEL, "production",
                    f.broker.bootstrapServers(), f.topics);
            assertThat(rolledBack.getVersion()).isEqualTo(v1);
            await(SWAP_BOUND, "the rollback to " + v1, () -> swapped(f, "a", MODEL + "@" + v1));
            traffic.get();
            await(Duration.ofSeconds(60), "every query answered", () -> f.answered(queries));

            List<String> ids = f.predictions.stream().map(Prediction::getQueryId).toList();
            assertThat(ids).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(queries);
            // In each partition the versions run v1, then v2, then v1 again: never back and forth.
            Map<Integer, List<String>> runs = new HashMap<>();
            for (Map.Entry<Integer, Prediction> e : f.predictionsByPartition) {
                List<String> run = runs.computeIfAbsent(e.getKey(), p -> new ArrayList<>());
                String version = e.getValue().getModelVersion();
                if (run.isEmpty() || !run.get(run.size() - 1).equals(version)) {
                    run.add(version);
                }
            }
            List<String> order = List.of(MODEL + "@" + v1, MODEL + "@" + v2, MODEL + "@" + v1);
            runs.values().forEach(run -> assertThat(order).containsSubsequence(run));
            assertThat(runs.values()).anySatisfy(run -> assertThat(run).contains(MODEL + "@" + v2));
            assertThat(f.predictions.get(f.predictions.size() - 1).getModelVersion()).isEqualTo(MODEL + "@" + v1);
            assertThat(promoted.getPreviousVersion()).isEqualTo(v1);
        }
    }

    @Test
    void shouldRefuseACorruptArtifactKeepServingAndAcceptALaterGoodOne() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            f.store.setAlias(MODEL, "production", v1);
            f.startInstance("a");
            Path params = dir.resolve("models").resolve(MODEL).resolve(v2).resolve(BaseModelArtifacts.PARAMETERS_FILE);
            byte[] bytes = Files.readAllBytes(params);
            bytes[bytes.length - 1] ^= 0x55;
            Files.write(params, bytes);

            // A promoter with a cluster writes only verified files to model-artifacts, so even
            // unverified it refuses, and moves nothing.
            assertThatThrownBy(() -> ModelPromotion.promote(f.store, MODEL, "production", v2, false,
                    f.broker.bootstrapServers(), f.topics)).isInstanceOf(CorruptArtifactException.class);
            assertThat(f.store.alias(MODEL, "production")).contains(v1);
            // The artifact went bad after it was vetted: announce it as if it had been fine.
            f.store.compareAndSetAlias(MODEL, "production", v1, v2);
            ModelPromotion.announce(ModelChange.newBuilder().setModelName(MODEL).setAlias("production")
                    .setVersion(v2).setPreviousVersion(v1).setAction("promote").setChangedAt(Instant.now())
                    .setArtifactDigest(f.store.digest(MODEL, v2)).build(),
                    Map.of("bootstrap.servers", f.broker.bootstrapServers()), f.topics);
            await(SWAP_BOUND, "the refusal", () -> event(f, "a", MODEL + "@" + v2, "REFUSED") != null);
            ModelSwapEvent refusal = event(f, "a", MODEL + "@" + v2, "REFUSED");
            assertThat(refusal.getReason()).contains(BaseModelArtifacts.PARAMETERS_FILE).contains("sha256");
            assertThat(refusal.getFromVersion()).isEqualTo(MODEL + "@" + v1);

            List<String> during = f.sendTasks("after-refusal-", 8, 3, 1);
            await(Duration.ofSeconds(30), "queries after the refusal", () -> f.answered(during));
            assertThat(versionsOf(f, during)).containsOnly(MODEL + "@" + v1);

            String v3 = f.publishVersion(3).version();
            ModelPromotion.promote(f.store, MODEL, "production", v3, true, f.broker.bootstrapServers(), f.topics);
            await(SWAP_BOUND, "the swap to " + v3, () -> swapped(f, "a", MODEL + "@" + v3));
            List<String> later = f.sendTasks("after-good-", 8, 3, 1);
            await(Duration.ofSeconds(30), "queries after the good promotion", () -> f.answered(later));
            assertThat(versionsOf(f, later)).containsOnly(MODEL + "@" + v3);
        }
    }

    @Test
    void shouldConvergeEveryInstanceOfTheGroupOnThePromotedVersion() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            f.store.setAlias(MODEL, "production", v1);
            f.startInstance("a");
            f.startInstance("b");
            List<String> before = f.sendTasks("before-", 16, 3, 1);
            await(Duration.ofSeconds(60), "queries before the promotion", () -> f.answered(before));

            ModelPromotion.promote(f.store, MODEL, "production", v2, true, f.broker.bootstrapServers(), f.topics);
            await(SWAP_BOUND, "both instances to swap",
                    () -> swapped(f, "a", MODEL + "@" + v2) && swapped(f, "b", MODEL + "@" + v2));
            List<String> after = f.sendTasks("after-", 32, 3, 1);
            await(Duration.ofSeconds(60), "queries after the promotion", () -> f.answered(after));
            assertThat(versionsOf(f, before)).containsOnly(MODEL + "@" + v1);
            assertThat(versionsOf(f, after)).containsOnly(MODEL + "@" + v2);
        }
    }

    /** A watcher whose consumer breaks restarts, says so on model-events, and a later promotion lands. */
    @Test
    void shouldRestartAFailedWatcherAndLandALaterPromotion() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            f.store.setAlias(MODEL, "production", v1);
            ModelWatcher watcher = f.startInstance("a").watcher().orElseThrow();
            await(SWAP_BOUND, "the watcher to follow", watcher::isFollowing);

            watcher.simulateConsumerFailure(new org.apache.kafka.common.KafkaException("simulated: consumer broken"));
            await(SWAP_BOUND, "the failure on model-events",
                    () -> event(f, "a", MODEL + "@" + v1, "WATCHER_FAILED") != null);
            assertThat(event(f, "a", MODEL + "@" + v1, "WATCHER_FAILED").getReason())
                    .contains("simulated: consumer broken").contains("restarting in 200 ms");
            await(SWAP_BOUND, "the restart on model-events",
                    () -> event(f, "a", MODEL + "@" + v1, "WATCHER_RESTARTED") != null);
            assertThat(watcher.isFollowing()).isTrue();
            assertThat(watcher.restarts()).isEqualTo(1);

            ModelPromotion.promote(f.store, MODEL, "production", v2, true, f.broker.bootstrapServers(), f.topics);
            await(SWAP_BOUND, "the swap to " + v2 + " after the restart", () -> swapped(f, "a", MODEL + "@" + v2));
            List<String> after = f.sendTasks("after-restart-", 8, 3, 1);
            await(Duration.ofSeconds(30), "queries after the promotion", () -> f.answered(after));
            assertThat(versionsOf(f, after)).containsOnly(MODEL + "@" + v2);
        }
    }

    private static boolean swapped(StreamingFixture f, String instance, String ref) {
        return event(f, instance, ref, "SWAPPED") != null;
    }

    private static ModelSwapEvent event(StreamingFixture f, String instance, String ref, String status) {
        return f.swaps.stream().filter(e -> e.getInstanceId().equals(instance) && e.getToVersion().equals(ref)
                && e.getStatus().equals(status)).findFirst().orElse(null);
    }

    private static List<String> versionsOf(StreamingFixture f, List<String> queryIds) {
        return f.predictions.stream().filter(p -> queryIds.contains(p.getQueryId()))
                .map(Prediction::getModelVersion).distinct().toList();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Instances in their own JVMs, killed with SIGKILL: exactly-once output and state that survives,
 * whether the local RocksDB files survive or only the changelogs do; redelivered samples change
 * nothing.
 */
@Tag("embedded-broker")
class CrashRecoveryTest {
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);

    @TempDir
    Path dir;

    private Map<String, String> settings(StreamingFixture f, String instance, Path stateDir) {
        Map<String, String> s = new HashMap<>();
        s.put("bootstrap.servers", f.broker.bootstrapServers());
        s.put("application.id", "crash");
        s.put("state.dir", stateDir.toString());
        s.put("model.store.dir", dir.resolve("models").toString());
        s.put("model.name", StreamingFixture.MODEL);
        s.put("instance.id", instance);
        // A dead member is noticed after the session timeout; keep it short for the fail-over.
        s.put("streams.consumer.session.timeout.ms", "6000");
        s.put("streams.consumer.heartbeat.interval.ms", "1000");
        // The answers are compared on support size: on a loaded machine a query must not give up
        // waiting for the samples produced before it (1 s by default) and answer without them.
        s.put("query.sample.wait.ms", "5000");
        return s;
    }

    /**
     * {@link #settings} plus the interceptor that holds a transaction open once a marker query is
     * answered: only for the instance to be killed, never for one that restarts from its state
     * (it would read the uncommitted marker again and hold again) or must survive.
     */
    private Map<String, String> heldSettings(StreamingFixture f, String instance, Path stateDir) {
        Map<String, String> s = settings(f, instance, stateDir);
        s.put("streams.producer.interceptor.classes", HoldTransactionOpen.class.getName());
        return s;
    }

    @Test
    void shouldAnswerExactlyOnceAndRestoreStateAfterAKillWithAndWithoutLocalState() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(StreamingFixture.MODEL, "production", f.publishVersion(1).version());
            Path state = dir.resolve("state");
            ChildInstance a = f.startChild("a", heldSettings(f, "a", state));
            List<String> first = f.sendTasks("p1-", 20, 6, 1);
            await(Duration.ofSeconds(60), "phase 1 answered", () -> f.answered(first));
            // Redelivered samples must leave the support sets (and so the answers below) unchanged.
            first.forEach(id -> f.redeliverSamples(f.prediction(id).getTaskId()));

            List<String> all = new ArrayList<>(first);
            Thread traffic = new Thread(() -> {
                for (int round = 0; round < 20; round++) {
                    all.addAll(f.sendTasks("p2-" + round + "-", 5, 4, 1));
                    sleepQuietly(50); // traffic before, during and after the hold and the kill
                }
            });
            traffic.start();
            killInsideAnOpenTransaction(f, a);
            traffic.join();
            ChildInstance restarted = f.startChild("a-restarted", settings(f, "a", state));
            await(Duration.ofSeconds(90), "every query answered after the restart", () -> f.answered(all));
            assertExactlyOnce(f, all);
            assertStateAsBefore(f, first, "again");

            restarted.kill();
            deleteTree(state);
            ChildInstance rebuilt = f.startChild("a-rebuilt", settings(f, "a", state));
            assertStateAsBefore(f, first, "restored");
            assertThat(rebuilt.terminate(Duration.ofSeconds(60))).as("exit on SIGTERM").isIn(0, 143);
            assertThat(rebuilt.output()).contains("stopped cleanly");
        }
    }

    @Test
    void shouldLetTheSurvivorTakeOverWhenOneOfTwoInstancesDies() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(StreamingFixture.MODEL, "production", f.publishVersion(1).version());
            ChildInstance a = f.startChild("a", heldSettings(f, "a", dir.resolve("state-a")));
            ChildInstance b = f.startChild("b", settings(f, "b", dir.resolve("state-b")));
            List<String> warm = f.sendTasks("warm-", 16, 3, 1);
            await(Duration.ofSeconds(60), "both instances answering", () -> f.answered(warm));

            List<String> all = new ArrayList<>(warm);
            Thread traffic = new Thread(() -> {
                for (int round = 0; round < 30; round++) {
                    all.addAll(f.sendTasks("t" + round + "-", 4, 3, 1));
                    sleepQuietly(100);
                }
            });
            traffic.start();
            killInsideAnOpenTransaction(f, a);
            traffic.join();
            await(Duration.ofSeconds(120), "every query answered by the survivor", () -> f.answered(all));
            assertExactlyOnce(f, all);
            assertThat(b.isAlive()).isTrue();
            b.terminate(Duration.ofSeconds(60));
        }
    }

    /**
     * Kills {@code child} inside a transaction the broker holds open, for certain rather than by
     * timing: a marker query goes to every partition (so to one of the child's, whichever it owns),
     * the child's {@link HoldTransactionOpen} interceptor blocks its producer once the answer is
     * on its way, and the test waits for the broker to report that transaction Ongoing, kills, and
     * checks that it is still Ongoing. A dead producer can neither commit nor abort, so that proves
     * the kill landed inside it; the survivor or the restarted instance must fence and abort it.
     * The markers are no query of the test's: another instance answers them as any other query.
     */
    private static void killInsideAnOpenTransaction(StreamingFixture f, ChildInstance child) throws Exception {
        String topic = f.topics.queries().name();
        int partitions = f.producer.partitionsFor(topic).size();
        for (int p = 0; p < partitions; p++) {
            String task = HoldTransactionOpen.KEY_PREFIX + p;
            f.producer.send(new ProducerRecord<>(topic, p, task, QUERIES.encode(PredictionRequest.newBuilder()
                    .setQueryId(task + "-marker").setTaskId(task).setFeatures(List.of(0f))
                    .setEventTime(Instant.now()).build())));
        }
        f.producer.flush();
        String[] held = new String[1];
        await(Duration.ofSeconds(60), "the child to hold a transaction open", () -> {
            held[0] = HoldTransactionOpen.heldTransaction(child.output());
            return held[0] != null || !child.isAlive();
        });
        assertThat(child.isAlive()).as("child alive while holding: %s", child.output()).isTrue();
        List<String> id = List.of(held[0]);
        await(Duration.ofSeconds(5), id + " Ongoing on the broker",
                () -> f.transactionStates(id).get(held[0]) == TransactionState.ONGOING);
        child.kill();
        assertThat(f.transactionStates(id)).as("the held transaction, as the broker sees it after the kill")
                .containsEntry(held[0], TransactionState.ONGOING);
    }

    private static void assertExactlyOnce(StreamingFixture f, List<String> queries) {
        List<String> ids = f.predictions.stream().map(Prediction::getQueryId).filter(queries::contains).toList();
        assertThat(ids).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(queries);
    }

    /**
     * Asks each earlier query again, with no new sample: the answer can only equal the earlier one
     * if the task's support set and adapted state are exactly what they were.
     */
    private static void assertStateAsBefore(StreamingFixture f, List<String> earlier, String suffix) {
        List<String> again = new ArrayList<>();
        for (String id : earlier) {
            String task = f.prediction(id).getTaskId();
            again.add(id + "-" + suffix);
            f.sendQuery(task, id + "-" + suffix, f.queryFeatures.get(id));
        }
        f.producer.flush();
        await(Duration.ofSeconds(90), "repeated queries (" + suffix + ")", () -> f.answered(again));
        for (String id : earlier) {
            Prediction before = f.prediction(id);
            Prediction now = f.prediction(id + "-" + suffix);
            assertThat(now.getSupportSize()).as(id).isEqualTo(before.getSupportSize()).isEqualTo(6);
            assertThat(now.getAdapted()).isTrue();
            assertThat(now.getValue()).as("%s answered from the same adapted state", id).isEqualTo(before.getValue());
        }
    }

    private static void deleteTree(Path root) throws java.io.IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        assertThat(root).doesNotExist();
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

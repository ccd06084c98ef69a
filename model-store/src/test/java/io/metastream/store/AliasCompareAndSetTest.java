package io.metastream.store;

import static io.metastream.store.LocalDirectoryModelStoreTest.draft;
import static io.metastream.store.LocalDirectoryModelStoreTest.files;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every decided alias move is a compare-and-set: a caller that saw a stale version is refused, with
 * both versions named, and leaves no trace; concurrent movers in threads and in separate processes
 * serialise on the store's lock, so the history stays one unbroken chain.
 */
class AliasCompareAndSetTest {
    private static final String MODEL = "m";

    @TempDir
    Path root;

    private LocalDirectoryModelStore store() {
        return new LocalDirectoryModelStore(root);
    }

    private void publish(int versions) {
        for (int i = 0; i < versions; i++) {
            store().publish(MODEL, draft(), files());
        }
    }

    @Test
    void shouldMoveOnlyFromTheExpectedVersionAndNameBothVersionsWhenRefused() throws IOException {
        publish(3);
        LocalDirectoryModelStore store = store();
        assertThat(store.compareAndSetAlias(MODEL, "production", null, "1")).isTrue();
        assertThat(store.compareAndSetAlias(MODEL, "production", "1", "2")).isTrue();
        assertThat(store.compareAndSetAlias(MODEL, "production", "2", "2")).as("already there").isFalse();

        assertThatThrownBy(() -> store.compareAndSetAlias(MODEL, "production", "1", "3"))
                .isInstanceOfSatisfying(AliasConflictException.class, e -> {
                    assertThat(e.expected()).isEqualTo("1");
                    assertThat(e.actual()).isEqualTo("2");
                })
                .hasMessageContaining("expected 1, actual 2").hasMessageContaining("move to 3 was not made");
        assertThatThrownBy(() -> store.compareAndSetAlias(MODEL, "candidate", "1", "3"))
                .isInstanceOf(AliasConflictException.class).hasMessageContaining("actual (not set)");
        assertThat(store.alias(MODEL, "production")).contains("2");
        assertThat(store.aliasHistory(MODEL)).extracting(AliasMove::to).containsExactly("1", "2");
        assertThat(Files.readString(root.resolve(MODEL).resolve(AliasBook.HISTORY_FILE), StandardCharsets.UTF_8)
                .lines()).hasSize(2);
    }

    /**
     * The case at the store: versions 1, 2, 3; 3 was promoted from 2; an operator rolled
     * back 3 to 2. A rollback decided on having seen 3 must be refused, not walk on to 1.
     */
    @Test
    void shouldRefuseARollbackDecidedOnAVersionSomeoneAlreadyRolledBack() {
        publish(3);
        LocalDirectoryModelStore store = store();
        store.setAlias(MODEL, "production", "1");
        store.compareAndSetAlias(MODEL, "production", "1", "2");
        store.compareAndSetAlias(MODEL, "production", "2", "3");

        assertThat(store.rollback(MODEL, "production", "3")).as("the operator's rollback").isEqualTo("2");
        assertThatThrownBy(() -> store.rollbackTo(MODEL, "production", "3", "2"))
                .isInstanceOf(AliasConflictException.class).hasMessageContaining("expected 3, actual 2");
        assertThatThrownBy(() -> store.rollback(MODEL, "production", "3"))
                .isInstanceOf(AliasConflictException.class).hasMessageContaining("expected 3, actual 2");
        assertThat(store.alias(MODEL, "production")).contains("2");
        assertThat(store.aliasHistory(MODEL)).extracting(AliasMove::to).containsExactly("1", "2", "3", "2");

        store.rollbackTo(MODEL, "production", "2", "3");
        assertThat(store.aliasHistory(MODEL)).last().extracting(AliasMove::action).isEqualTo("rollback");
    }

    /** Two movers per round, each with its own store instance (as two processes would have): one wins. */
    @Test
    void shouldLetExactlyOneOfTwoConcurrentMoversWinEveryRound() throws Exception {
        publish(3);
        store().setAlias(MODEL, "production", "1");
        int rounds = 100;
        CyclicBarrier barrier = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<int[]>> movers = new ArrayList<>();
            for (String target : List.of("2", "3")) {
                LocalDirectoryModelStore own = store();
                movers.add(pool.submit(() -> {
                    int won = 0;
                    int lost = 0;
                    for (int r = 0; r < rounds; r++) {
                        // Both read the alias before either moves it, then race from what they read.
                        String seen = own.alias(MODEL, "production").orElseThrow();
                        barrier.await(30, TimeUnit.SECONDS);
                        String to = seen.equals(target) ? "1" : target;
                        try {
                            own.compareAndSetAlias(MODEL, "production", seen, to);
                            won++;
                        } catch (AliasConflictException e) {
                            assertThat(e.expected()).isEqualTo(seen);
                            assertThat(e.actual()).isNotEqualTo(seen);
                            lost++;
                        }
                        barrier.await(30, TimeUnit.SECONDS);
                    }
                    return new int[] {won, lost};
                }));
            }
            int won = 0;
            int lost = 0;
            for (Future<int[]> f : movers) {
                int[] outcome = f.get(120, TimeUnit.SECONDS);
                won += outcome[0];
                lost += outcome[1];
            }
            assertThat(won).as("one winner a round").isEqualTo(rounds);
            assertThat(lost).as("one clean loser a round").isEqualTo(rounds);
        } finally {
            pool.shutdownNow();
        }
        assertUnbrokenChain(rounds + 1);
    }

    /** A mover in another JVM and one in this one, each reading and moving in a loop: nothing interleaves. */
    @Test
    void shouldSerialiseMovesFromTwoProcesses() throws Exception {
        publish(3);
        store().setAlias(MODEL, "production", "1");
        int moves = 150;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = root.resolve("child.log");
        Process child = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                AliasMoverMain.class.getName(), root.toString(), MODEL, "3", String.valueOf(moves)))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        int[] here;
        try {
            here = AliasMoverMain.moveRepeatedly(store(), MODEL, "2", moves);
        } finally {
            assertThat(child.waitFor(120, TimeUnit.SECONDS)).as("the child mover finished").isTrue();
        }
        String childOutput = Files.readString(log);
        assertThat(child.exitValue()).as(childOutput).isZero();
        String[] counts = childOutput.lines().filter(l -> l.startsWith("moved ")).findFirst().orElseThrow()
                .split(" ");
        int childWon = Integer.parseInt(counts[1]);
        assertThat(here[0]).isEqualTo(moves);
        assertThat(childWon).isEqualTo(moves);
        assertUnbrokenChain(1 + here[0] + childWon);
    }

    /** Every line starts where the one before ended, and aliases.json says where the last one ended. */
    private void assertUnbrokenChain(int lines) {
        List<AliasMove> history = store().aliasHistory(MODEL);
        assertThat(history).hasSize(lines);
        for (int i = 1; i < history.size(); i++) {
            assertThat(history.get(i).from()).as("line %d starts where line %d ended", i + 1, i)
                    .isEqualTo(history.get(i - 1).to());
        }
        assertThat(store().alias(MODEL, "production")).contains(history.get(history.size() - 1).to());
    }
}

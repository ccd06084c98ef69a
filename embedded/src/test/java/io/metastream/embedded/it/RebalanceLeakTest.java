package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.server.MetastreamApp;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Instances started and stopped in a loop, two at a time so that their stream tasks move between
 * them: the dead-letter side producer is one per instance and closed with it, so no producer
 * thread outlives the loop (before, every stream task made one and none was closed).
 */
@Tag("embedded-broker")
class RebalanceLeakTest {
    private static final String SIDE_THREAD = "kafka-producer-network-thread | metastream-dead-letters";

    @TempDir
    Path dir;

    @Test
    void shouldLeaveNoDeadLetterProducerBehindAfterARebalanceLoop() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(StreamingFixture.MODEL, "production", f.publishVersion(1).version());
            List<String> queries = new ArrayList<>();
            MetastreamApp steady = f.startInstance("steady");
            for (int round = 0; round < 3; round++) {
                MetastreamApp visitor = f.startInstance("visitor-" + round);
                queries.addAll(f.sendTasks("r" + round + "-", 6, 2, 1));
                await(Duration.ofSeconds(60), "round " + round + " answered", () -> f.answered(queries));
                assertThat(sideThreads()).as("at most one side producer per running instance").isLessThanOrEqualTo(2);
                visitor.close();
            }
            assertThat(sideThreads()).as("only the running instance's").isLessThanOrEqualTo(1);
            steady.close();
            await(Duration.ofSeconds(10), "no side producer thread left", () -> sideThreads() == 0);
        }
    }

    private static long sideThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                .filter(t -> t.getName().startsWith(SIDE_THREAD)).count();
    }
}

package io.metastream.training.continual;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class TaskBufferTest {
    private static float[] x(float v) {
        return new float[] {v};
    }

    private static List<String> ids(List<TaskBuffer.BufferedTask> tasks) {
        return tasks.stream().map(TaskBuffer.BufferedTask::taskId).toList();
    }

    @Test
    void shouldKeepTheNewestSamplesOfATaskAndEvictTheTaskUpdatedLeastRecently() {
        TaskBuffer b = new TaskBuffer(2, 2);
        b.add("a", x(1), 1);
        b.add("b", x(2), 2);
        b.add("a", x(3), 3);
        b.add("a", x(4), 4); // a keeps 3 and 4
        b.add("c", x(5), 5); // b was updated least recently
        List<TaskBuffer.BufferedTask> s = b.snapshot(1);
        assertThat(ids(s)).containsExactly("a", "c");
        assertThat(s.get(0).samples().targets()).containsExactly(3f, 4f);
        assertThat(b.tasksSeen()).isEqualTo(3);
        assertThat(ids(b.snapshot(2))).containsExactly("a");
    }

    @Test
    void shouldForgetSamplesOlderThanTheWindowAndTasksLeftEmpty() {
        TaskBuffer b = new TaskBuffer(10, 5);
        b.add("old", x(1), 1, 1_000);
        b.add("mixed", x(2), 2, 1_500);
        b.add("mixed", x(3), 3, 5_000);
        b.add("mixed", x(4), 4, 900); // late, out of order: still goes by its own time
        b.add("new", x(5), 5, 6_000);
        b.add("untimed", x(6), 6);
        assertThat(b.expireBefore(2_000)).isEqualTo(3);
        List<TaskBuffer.BufferedTask> s = b.snapshot(1);
        assertThat(ids(s)).containsExactly("mixed", "new", "untimed");
        assertThat(s.get(0).samples().targets()).containsExactly(3f);
        assertThat(b.size()).isEqualTo(3);
        assertThat(b.tasksSeen()).as("expiry does not change what was seen").isEqualTo(4);
        assertThat(b.expireBefore(2_000)).isZero();
    }

    @Test
    void shouldCapTheTasksOfARoundPreferringTasksWithMoreSamplesOverAFloodOfNewIds() {
        TaskBuffer b = new TaskBuffer(100, 5);
        for (int u = 0; u < 10; u++) {
            for (int i = 0; i < 5; i++) {
                b.add("user-" + u, x(i), i);
            }
        }
        for (int f = 0; f < 50; f++) { // arrive last: without the cap they would be the held-out users
            b.add("flood-" + f, x(0), 0);
            b.add("flood-" + f, x(1), 1);
        }
        List<TaskBuffer.BufferedTask> capped = b.snapshot(2, 12, 7L);
        assertThat(capped).hasSize(12);
        assertThat(ids(capped).subList(0, 10)).as("every user with a history, in first-seen order")
                .containsExactly("user-0", "user-1", "user-2", "user-3", "user-4", "user-5", "user-6", "user-7",
                        "user-8", "user-9");
        assertThat(ids(capped).subList(10, 12)).allSatisfy(id -> assertThat(id).startsWith("flood-"));
        assertThat(ids(b.snapshot(2, 12, 7L))).as("the same seed draws the same ties").isEqualTo(ids(capped));
        assertThat(ids(b.snapshot(2, 12, 8L))).as("another seed, other ties").isNotEqualTo(ids(capped));
        assertThat(b.snapshot(2, 1000, 7L)).as("under the cap: all of them").hasSize(60);
    }

    @Test
    void shouldRefuseABufferTooSmallToTrainAndJudgeOn() {
        assertThatThrownBy(() -> new TaskBuffer(1, 5)).hasMessageContaining("at least 2 tasks");
    }
}

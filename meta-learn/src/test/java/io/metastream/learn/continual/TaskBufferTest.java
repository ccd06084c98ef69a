package io.metastream.learn.continual;

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
    void shouldRefuseABufferTooSmallToTrainAndJudgeOn() {
        assertThatThrownBy(() -> new TaskBuffer(1, 5)).hasMessageContaining("at least 2 tasks");
    }
}

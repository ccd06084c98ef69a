package io.metastream.training.continual;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.SampleSet;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ContinualRoundTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-4-1");

    /** Refused before any training, so no learner is needed to judge. */
    @Test
    void shouldRefuseALearnerItCannotContinueNamingTheOnesItCan() {
        List<TaskBuffer.BufferedTask> tasks = IntStream.range(0, 10).mapToObj(i -> new TaskBuffer.BufferedTask(
                "t" + i, i, new SampleSet(new float[][] {{0f}}, new float[] {0f}))).toList();
        ContinualRound.Settings settings = new ContinualRound.Settings(4, 1, 2, 1, 0.001f, 1, 0.1, 2);
        for (String learner : List.of("maml", "anil-ridge", "task-encoder", "an-application-s-own")) {
            BaseModel champion = new BaseModel("m@1", learner, ARCH, new float[ARCH.parameterCount()],
                    new AdaptationSettings(1, 0.01f));
            assertThatThrownBy(() -> ContinualRound.run(champion, tasks, settings, 1L, null))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("supports [reptile, fomaml, metasgd, anil, pretrain]")
                    .hasMessageEndingWith(" is " + learner);
        }
    }
}

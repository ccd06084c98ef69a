package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class MetaTrainerTest {
    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
    }

    @ParameterizedTest
    @EnumSource(MetaTrainer.Algorithm.class)
    void shouldMetaLearnAnInitialisationThatAdaptsFarBetterThanTheBase(MetaTrainer.Algorithm algorithm) {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(800);
        int[] calls = {0};
        MetaTrainer.Result result = new MetaTrainer(algorithm, Device.cpu())
                .train(new SinusoidTasks(), plan, (done, total, loss) -> calls[0]++);
        assertThat(calls[0]).isEqualTo(800);
        assertThat(result.curve()).hasSize(800);
        BaseModel base = new BaseModel("sine@t", algorithm.id(), plan.architecture(), result.parameters(),
                plan.adaptation());
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            Evaluation.Report report = Evaluation.evaluate(learner, base, new SinusoidTasks(), 200, 10, 50, 99, 100);
            assertThat(report.adapted().mean()).isLessThan(0.5 * report.base().mean());
        }
        double early = mean(result.curve(), 0, 50);
        double late = mean(result.curve(), 750, 800);
        assertThat(late).isLessThan(early);
    }

    @ParameterizedTest
    @EnumSource(MetaTrainer.Algorithm.class)
    void shouldBeReproducibleForAFixedSeed(MetaTrainer.Algorithm algorithm) {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(20);
        float[] a = new MetaTrainer(algorithm, Device.cpu()).train(new SinusoidTasks(), plan, (d, t, l) -> {}).parameters();
        float[] b = new MetaTrainer(algorithm, Device.cpu()).train(new SinusoidTasks(), plan, (d, t, l) -> {}).parameters();
        assertThat(a).containsExactly(b);
    }

    private static double mean(float[] v, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += v[i];
        }
        return s / (to - from);
    }
}

package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class MetaTrainerTest {
    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
    }

    @ParameterizedTest
    @EnumSource(value = MetaTrainer.Algorithm.class, names = {"REPTILE", "FOMAML"})
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

    @ParameterizedTest
    @EnumSource(value = MetaTrainer.Algorithm.class, names = {"MAML", "METASGD", "ANIL"})
    void shouldMetaLearnWithSecondOrderGradientsInAFewHundredIterations(MetaTrainer.Algorithm algorithm) {
        // One inner step of 0.01 as in Finn et al. 2017 (0.1 for ANIL, whose single layer needs a
        // larger step to move in one go); a smaller meta-batch keeps the test short.
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault();
        MetaTrainingPlan plan = new MetaTrainingPlan(d.architecture(), new AdaptationSettings(1, algorithm == MetaTrainer.Algorithm.ANIL ? 0.1f : 0.01f), 300, 10,
                10, 10, 0.003f, 42L);
        MetaTrainer.Result result = new MetaTrainer(algorithm, Device.cpu()).train(new SinusoidTasks(), plan,
                (done, total, loss) -> { });
        assertThat(result.stepSizes() != null).isEqualTo(algorithm.hasStepSizes());
        BaseModel base = new BaseModel("sine@t", algorithm.id(), plan.architecture(), result.parameters(),
                plan.adaptation(), result.stepSizes());
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            Evaluation.Report report = Evaluation.evaluate(learner, base, new SinusoidTasks(), 200, 10, 50, 99, 100);
            assertThat(report.adapted().mean()).isLessThan(0.7 * report.base().mean());
        }
        assertThat(mean(result.curve(), 250, 300)).isLessThan(mean(result.curve(), 0, 50));
        if (algorithm == MetaTrainer.Algorithm.ANIL) {
            // The body never moves in the inner loop; the head's step sizes are learned.
            float[] alpha = result.stepSizes();
            int head = MetaTrainer.headOffset(plan.architecture());
            for (int i = 0; i < head; i++) {
                assertThat(alpha[i]).as("body step size %d", i).isZero();
            }
            assertThat(java.util.stream.IntStream.range(head, alpha.length).filter(i -> alpha[i] != 0.1f).count())
                    .as("head step sizes moved from 0.1").isGreaterThan((alpha.length - head) / 2);
        }
    }

    @ParameterizedTest
    @EnumSource(MetaTrainer.Algorithm.class)
    void shouldLowerTheSupportLossOfEveryTaskWithEveryLearner(MetaTrainer.Algorithm algorithm) {
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault();
        MetaTrainingPlan plan = new MetaTrainingPlan(d.architecture(), new AdaptationSettings(2, 0.01f), 30, 5, 10,
                10, 0.002f, 11L);
        MetaTrainer.Result result = new MetaTrainer(algorithm, Device.cpu()).train(new SinusoidTasks(), plan,
                (done, total, loss) -> { });
        BaseModel base = new BaseModel("sine@t", algorithm.id(), plan.architecture(), result.parameters(),
                plan.adaptation(), result.stepSizes());
        java.util.Random r = new java.util.Random(5);
        java.util.List<SampleSet> supports = new java.util.ArrayList<>();
        for (int t = 0; t < 20; t++) {
            supports.add(new SinusoidTasks().sample(r, 10, 1).support());
        }
        try (DispatchingLearner learner = new DispatchingLearner(Device.cpu())) {
            for (TaskAdaptation task : learner.adapt(base, supports).tasks()) {
                assertThat(task.fellBack()).isFalse();
                assertThat(task.lossAfter()).isLessThan(task.lossBefore());
            }
        }
    }

    @Test
    void shouldKeepNativeMemoryFlatOverManySecondOrderMetaSteps() {
        // A leaked autograd graph would cost about a megabyte a step here. Native memory is
        // approximated as resident size minus the Java heap the JVM has committed, because the
        // heap itself grows during the first few thousand steps. The CLI logs the resident size
        // every 100 steps of its 20,000-step runs (RESULTS.md).
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault();
        MetaTrainingPlan plan = new MetaTrainingPlan(d.architecture(), new AdaptationSettings(2, 0.01f), 2000, 5,
                10, 10, 0.001f, 7L);
        long[] nativeKb = new long[plan.iterations() + 1];
        new MetaTrainer(MetaTrainer.Algorithm.METASGD, Device.cpu()).train(new SinusoidTasks(), plan,
                (done, total, loss) -> {
                    if (done == 500 || done == total) {
                        nativeKb[done] = residentKb() - Runtime.getRuntime().totalMemory() / 1024;
                    }
                });
        assertThat(nativeKb[2000] - nativeKb[500]).as("native kB growth from step 500 to 2000").isLessThan(40_000);
    }

    static long residentKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    private static double mean(float[] v, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += v[i];
        }
        return s / (to - from);
    }
}

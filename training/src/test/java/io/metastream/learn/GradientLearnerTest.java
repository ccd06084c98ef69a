package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.metastream.data.sinusoid.SinusoidTasks;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GradientLearnerTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-40-40-1");
    private static final SinusoidTasks SINE = new SinusoidTasks();
    private static GradientLearner learner;
    private static BaseModel base;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        learner = new GradientLearner(Device.cpu());
        base = new BaseModel("sine@0", "reptile", ARCH, MetaTrainer.initialParameters(ARCH, new Random(1)),
                new AdaptationSettings(5, 0.02f));
    }

    @AfterAll
    static void stop() {
        learner.close();
    }

    private static List<SampleSet> supports(int tasks, long seed, boolean ragged) {
        Random r = new Random(seed);
        List<SampleSet> out = new ArrayList<>();
        for (int t = 0; t < tasks; t++) {
            out.add(SINE.sampleTask(r).sample(r, ragged ? 1 + t % 10 : 10));
        }
        return out;
    }

    /**
     * With a support prior of p, one SGD step on n samples is the mean-loss step scaled by
     * n / (n + p): a one-sample task moves a fraction of the way, a large one almost all of it.
     */
    @Test
    void shouldDampTheUpdateOfSmallSupportSetsByThePrior() {
        SampleSet one = supports(1, 11, false).get(0);
        SampleSet single = new SampleSet(new float[][] {one.features()[0]}, new float[] {one.targets()[0]});
        AdaptationSettings plain = new AdaptationSettings(1, 0.02f);
        AdaptationSettings prior = new AdaptationSettings(1, 0.02f, 9f);
        float[] theta = base.parameters();
        for (SampleSet s : List.of(single, one)) {
            float[] meanStep = learner.adapt(base, List.of(s), plain).tasks().get(0).state();
            float[] damped = learner.adapt(base, List.of(s), prior).tasks().get(0).state();
            float scale = s.size() / (s.size() + 9f);
            for (int i = 0; i < theta.length; i++) {
                assertThat(damped[i] - theta[i]).as("size %d param %d", s.size(), i)
                        .isCloseTo(scale * (meanStep[i] - theta[i]), within(1e-6f));
            }
        }
    }

    @Test
    void shouldMatchOneByOneAdaptationWhenBatchedWithRaggedSupportSets() {
        List<SampleSet> sets = supports(37, 3, true);
        AdaptedBatch batched = learner.adapt(base, sets);
        assertThat(batched.tasks()).hasSize(37);
        for (int t = 0; t < sets.size(); t++) {
            TaskAdaptation alone = learner.adapt(base, List.of(sets.get(t))).tasks().get(0);
            TaskAdaptation inBatch = batched.tasks().get(t);
            assertThat(inBatch.supportSize()).isEqualTo(sets.get(t).size());
            assertThat(inBatch.lossAfter()).isCloseTo(alone.lossAfter(), within(1e-4f));
            for (int i = 0; i < alone.state().length; i++) {
                assertThat(inBatch.state()[i]).as("task %d param %d", t, i).isCloseTo(alone.state()[i], within(1e-5f));
            }
        }
    }

    @Test
    void shouldMatchOneByOneAdaptationWithPerParameterStepSizes() {
        Random r = new Random(17);
        float[] alpha = new float[ARCH.parameterCount()];
        for (int i = 0; i < alpha.length; i++) {
            alpha[i] = 0.005f + 0.05f * r.nextFloat();
        }
        BaseModel metaSgd = new BaseModel("sine@1", "metasgd", ARCH, base.parameters(), new AdaptationSettings(2, 0.01f),
                alpha);
        List<SampleSet> sets = supports(13, 19, true);
        AdaptedBatch batched = learner.adapt(metaSgd, sets);
        for (int t = 0; t < sets.size(); t++) {
            TaskAdaptation alone = learner.adapt(metaSgd, List.of(sets.get(t))).tasks().get(0);
            assertThat(batched.tasks().get(t).state()).containsExactly(alone.state(), within(1e-5f));
        }
        // The vector really is used per parameter: plain-Java steps with it agree.
        SampleSet s = sets.get(9);
        PlainMlp plain = new PlainMlp(ARCH);
        double[] expected = plain.adapt(PlainMlp.toDouble(base.parameters()), PlainMlp.toDouble(alpha), s, 2);
        float[] actual = batched.tasks().get(9).state();
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) actual[i]).as("param %d", i).isCloseTo(expected[i], within(1e-4));
        }
    }

    @Test
    void shouldLeaveTheBodyUntouchedWhenOnlyTheHeadHasAStepSize() {
        float[] alpha = new float[ARCH.parameterCount()];
        int head = MetaTrainer.headOffset(ARCH);
        java.util.Arrays.fill(alpha, head, alpha.length, 0.05f);
        BaseModel anil = new BaseModel("sine@1", "anil", ARCH, base.parameters(), new AdaptationSettings(3, 0.05f),
                alpha);
        TaskAdaptation t = learner.adapt(anil, supports(1, 23, false)).tasks().get(0);
        assertThat(java.util.Arrays.copyOf(t.state(), head)).containsExactly(java.util.Arrays.copyOf(base.parameters(), head));
        assertThat(t.lossAfter()).isLessThan(t.lossBefore());
        assertThat(head).isEqualTo(ARCH.parameterCount() - 41);
    }

    @Test
    void shouldLowerSupportLossOfEveryTask() {
        for (TaskAdaptation task : learner.adapt(base, supports(20, 5, false)).tasks()) {
            assertThat(task.lossAfter()).isLessThan(task.lossBefore());
        }
    }

    @Test
    void shouldFallBackToTheBaseWhenTheInnerStepsDiverge() {
        SampleSet onePoint = new SampleSet(new float[][] {{4.9f}}, new float[] {4.8f});
        AdaptationSettings huge = new AdaptationSettings(5, 5f);
        TaskAdaptation diverged = learner.adapt(base, List.of(onePoint), huge).tasks().get(0);
        assertThat(diverged.fellBack()).isTrue();
        assertThat(diverged.state()).containsExactly(base.parameters());
        assertThat(diverged.lossAfter()).isEqualTo(diverged.lossBefore());
        TaskAdaptation fine = learner.adapt(base, List.of(onePoint)).tasks().get(0);
        assertThat(fine.fellBack()).isFalse();
        assertThat(fine.lossAfter()).isLessThan(fine.lossBefore());
    }

    @Test
    void shouldKeepBaseParametersForEmptySupportOrZeroSteps() {
        TaskAdaptation empty = learner.adapt(base, List.of(new SampleSet(new float[0][], new float[0]))).tasks().get(0);
        assertThat(empty.state()).containsExactly(base.parameters());
        AdaptedBatch none = learner.adapt(base, supports(3, 9, false), base.adaptation().withSteps(0));
        assertThat(none.tasks()).allSatisfy(t -> assertThat(t.state()).containsExactly(base.parameters()));
    }

    @Test
    void shouldPredictWithBaseWhenStateIsNullAndWithAdaptedStateOtherwise() {
        SampleSet s = supports(1, 11, false).get(0);
        TaskAdaptation adapted = learner.adapt(base, List.of(s)).tasks().get(0);
        float[][] q = {{0.5f}, {-1.5f}};
        float[][] out = learner.predict(base, java.util.Arrays.asList(adapted.state(), null), List.of(q, q));
        float[] byHand = {plainForward(adapted.state(), 0.5f), plainForward(adapted.state(), -1.5f)};
        float[] baseByHand = {plainForward(base.parameters(), 0.5f), plainForward(base.parameters(), -1.5f)};
        assertThat(out[0]).containsExactly(byHand, within(1e-5f));
        assertThat(out[1]).containsExactly(baseByHand, within(1e-5f));
        assertThat(out[0][0]).isNotCloseTo(out[1][0], within(1e-6f));
    }

    @Test
    void shouldRejectWrongFeatureDimension() {
        SampleSet bad = new SampleSet(new float[][] {{1f, 2f}}, new float[] {0f});
        assertThatThrownBy(() -> learner.adapt(base, List.of(bad)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("2 features");
    }

    @Test
    void shouldMatchFiniteDifferencesForInnerLoopGradient() {
        SampleSet s = supports(1, 13, false).get(0);
        float[] theta = base.parameters();
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            TaskBatch b = TaskBatch.of(m, List.of(s), 1);
            List<NDArray> params = MlpMath.unpack(m.create(theta, new Shape(1, theta.length)), ARCH);
            float[] analytic = MlpMath.pack(MlpMath.gradients(params, b.x, b.y, b.w)).toFloatArray();
            // Central differences in double precision with a step small enough not to cross a
            // ReLU kink; every coordinate is checked.
            for (int i = 0; i < theta.length; i++) {
                double eps = 1e-6;
                double numeric = (plainLoss(theta, i, eps, s) - plainLoss(theta, i, -eps, s)) / (2 * eps);
                assertThat(analytic[i]).as("d loss / d param %d", i)
                        .isCloseTo((float) numeric, within((float) (1e-4 + 1e-3 * Math.abs(numeric))));
            }
        }
    }

    /**
     * The logistic and absolute-error gradients against central differences of the same losses in
     * double precision, on 0/1 targets (logistic) and the sine's targets (absolute error, away
     * from its kink at zero error).
     */
    @Test
    void shouldMatchFiniteDifferencesForLogisticAndAbsoluteLosses() {
        SampleSet sine = supports(1, 17, false).get(0);
        float[] binary = new float[sine.size()];
        for (int k = 0; k < binary.length; k++) {
            binary[k] = sine.targets()[k] > 0 ? 1f : 0f;
        }
        SampleSet clicks = new SampleSet(sine.features(), binary);
        float[] theta = base.parameters();
        for (Loss loss : List.of(Loss.LOGISTIC, Loss.ABSOLUTE)) {
            SampleSet s = loss == Loss.LOGISTIC ? clicks : sine;
            try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
                TaskBatch b = TaskBatch.of(m, List.of(s), 1);
                List<NDArray> params = MlpMath.unpack(m.create(theta, new Shape(1, theta.length)), ARCH);
                float[] analytic = MlpMath.pack(MlpMath.gradients(params, b.x, b.y, b.w, loss)).toFloatArray();
                for (int i = 0; i < theta.length; i++) {
                    double eps = 1e-6;
                    double numeric = (plainLoss(theta, i, eps, s, loss) - plainLoss(theta, i, -eps, s, loss))
                            / (2 * eps);
                    assertThat(analytic[i]).as("%s: d loss / d param %d", loss, i)
                            .isCloseTo((float) numeric, within((float) (1e-4 + 1e-3 * Math.abs(numeric))));
                }
            }
        }
    }

    /** A logistic base's predictions are the sigmoid of its output, and adaptation lowers its log-loss. */
    @Test
    void shouldServeProbabilitiesAndAdaptALogisticBase() {
        BaseModel logistic = new BaseModel("logistic@1", "reptile", ARCH, base.parameters(),
                new AdaptationSettings(20, 0.5f, 0f, Loss.LOGISTIC));
        float[][] xs = {{-3f}, {-1f}, {1f}, {3f}};
        SampleSet clicks = new SampleSet(xs, new float[] {0f, 0f, 1f, 1f});
        float[] raw = learner.predict(base, java.util.Collections.singletonList(null), List.<float[][]>of(xs))[0];
        float[] p = learner.predict(logistic, java.util.Collections.singletonList(null), List.<float[][]>of(xs))[0];
        for (int k = 0; k < xs.length; k++) {
            assertThat(p[k]).isCloseTo((float) (1 / (1 + Math.exp(-raw[k]))), within(1e-6f));
        }
        TaskAdaptation t = learner.adapt(logistic, List.of(clicks)).tasks().get(0);
        assertThat(t.lossAfter()).isLessThan(t.lossBefore() * 0.8f);
        float[] adapted = learner.predict(logistic, List.<float[]>of(t.state()), List.<float[][]>of(xs))[0];
        assertThat(adapted[3]).isGreaterThan(adapted[0]);
        assertThat(adapted[3]).isGreaterThan(0.5f);
        assertThat(adapted[0]).isLessThan(0.5f);
    }

    /**
     * Every task of one large batch, each layer of each row, against plain-Java SGD: the per-layer
     * copy of the adapted rows ({@link MlpMath#rows}) must give each task its own parameters, in
     * {@link MlpMath#pack}'s layout.
     */
    @Test
    void shouldMatchPlainJavaStepsForEveryTaskOfALargeBatch() {
        List<SampleSet> sets = supports(300, 29, true);
        AdaptedBatch batched = learner.adapt(base, sets);
        double[] alpha = new double[ARCH.parameterCount()];
        java.util.Arrays.fill(alpha, base.adaptation().stepSize());
        int compared = 0;
        for (int t = 0; t < sets.size(); t++) {
            TaskAdaptation task = batched.tasks().get(t);
            if (task.fellBack()) {
                assertThat(task.state()).containsExactly(base.parameters());
                continue;
            }
            double[] expected = PLAIN.adapt(PlainMlp.toDouble(base.parameters()), alpha, sets.get(t),
                    base.adaptation().steps());
            for (int i = 0; i < expected.length; i++) {
                assertThat((double) task.state()[i]).as("task %d param %d", t, i).isCloseTo(expected[i], within(1e-4));
            }
            compared++;
        }
        assertThat(compared).isGreaterThan(sets.size() * 9 / 10);
    }

    /**
     * Two threads adapting at once, each with its own learner (two stream threads, or JMH -t 2),
     * get what one thread gets: nothing native is shared between them.
     */
    @Test
    void shouldGiveTwoThreadsAdaptingAtOnceWhatOneThreadGets() throws Exception {
        List<SampleSet> sets = supports(256, 31, false);
        List<TaskAdaptation> alone = learner.adapt(base, sets).tasks();
        ExecutorService two = Executors.newFixedThreadPool(2);
        try {
            Callable<List<TaskAdaptation>> work = () -> {
                try (GradientLearner own = new GradientLearner(Device.cpu())) {
                    List<TaskAdaptation> last = null;
                    for (int round = 0; round < 5; round++) {
                        last = own.adapt(base, sets).tasks();
                    }
                    return last;
                }
            };
            List<Future<List<TaskAdaptation>>> results = two.invokeAll(List.of(work, work));
            for (Future<List<TaskAdaptation>> result : results) {
                List<TaskAdaptation> tasks = result.get();
                for (int t = 0; t < sets.size(); t++) {
                    assertThat(tasks.get(t).fellBack()).isEqualTo(alone.get(t).fellBack());
                    assertThat(tasks.get(t).state()).as("task %d", t).containsExactly(alone.get(t).state(), within(1e-6f));
                }
            }
        } finally {
            two.shutdownNow();
        }
    }

    /**
     * Small predictions run as Java loops, large ones as batched libtorch calls
     * ({@link GradientLearner#PLAIN_JAVA_MAX_MULTIPLY_ADDS}): the same task and rows answer alike
     * either way, for the sinusoid network and for a wider one with several inputs and a link.
     */
    @Test
    void shouldPredictTheSameInJavaLoopsAsInBatchedCalls() {
        Random r = new Random(41);
        for (String layers : List.of("1-40-40-1", "3-16-8-1")) {
            MlpArchitecture arch = MlpArchitecture.parse(layers);
            for (Loss loss : List.of(Loss.MSE, Loss.LOGISTIC)) {
                BaseModel model = new BaseModel("net@1", "reptile", arch, MetaTrainer.initialParameters(arch, r),
                        new AdaptationSettings(5, 0.02f).withLoss(loss));
                int tasks = 30;
                int rowsEach = 30;
                List<float[]> states = new ArrayList<>();
                List<float[][]> queries = new ArrayList<>();
                for (int t = 0; t < tasks; t++) {
                    float[] state = model.parameters();
                    for (int i = 0; i < state.length; i++) {
                        state[i] += 0.05f * (float) r.nextGaussian();
                    }
                    states.add(t % 7 == 0 ? null : state); // null: the base answers
                    float[][] q = new float[rowsEach][arch.inputDim()];
                    for (float[] row : q) {
                        for (int d = 0; d < row.length; d++) {
                            row[d] = 10 * r.nextFloat() - 5;
                        }
                    }
                    queries.add(q);
                }
                long weights = 0;
                for (int l = 0; l < arch.depth(); l++) {
                    weights += (long) arch.fanIn(l) * arch.fanOut(l);
                }
                long perTask = rowsEach * weights;
                assertThat(perTask).as("one task alone takes the Java loops")
                        .isLessThanOrEqualTo(GradientLearner.PLAIN_JAVA_MAX_MULTIPLY_ADDS);
                assertThat(perTask * tasks).as("all tasks at once take the batched call")
                        .isGreaterThan(GradientLearner.PLAIN_JAVA_MAX_MULTIPLY_ADDS);
                float[][] batched = learner.predict(model, states, queries);
                for (int t = 0; t < tasks; t++) {
                    List<float[]> one = new ArrayList<>();
                    one.add(states.get(t));
                    float[][] alone = learner.predict(model, one, Collections.singletonList(queries.get(t)));
                    assertThat(alone[0]).as("%s %s task %d", layers, loss, t).containsExactly(batched[t], within(1e-5f));
                }
            }
        }
        List<float[]> noState = new ArrayList<>();
        noState.add(null);
        assertThatThrownBy(() -> learner.predict(base, noState, List.<float[][]>of(new float[][] {{1f, 2f}})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 features");
    }

    private static double plainLoss(float[] theta, int i, double delta, SampleSet s, Loss loss) {
        double[] p = PlainMlp.toDouble(theta);
        p[i] += delta;
        double sum = 0;
        for (int k = 0; k < s.size(); k++) {
            double z = PLAIN.forward(p, s.features()[k]);
            double y = s.targets()[k];
            sum += loss == Loss.LOGISTIC ? Math.log1p(Math.exp(z)) - y * z : Math.abs(z - y);
        }
        return sum / s.size();
    }

    private static final PlainMlp PLAIN = new PlainMlp(ARCH);

    /** Support MSE in double precision with parameter i moved by delta: the reference for gradients. */
    private static double plainLoss(float[] theta, int i, double delta, SampleSet s) {
        double[] p = PlainMlp.toDouble(theta);
        p[i] += delta;
        return PLAIN.loss(p, s);
    }

    private static float plainForward(float[] theta, float x) {
        return (float) PLAIN.forward(PlainMlp.toDouble(theta), new float[] {x});
    }
}

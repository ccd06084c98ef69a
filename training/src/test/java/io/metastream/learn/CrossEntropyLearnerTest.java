package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A softmax head trained with {@link Loss#CROSS_ENTROPY} in the {@link GradientLearner}: the
 * loss and its gradient against a double-precision reference, adaptation by plain, per-parameter
 * and bounded steps, and {@link GradientLearner#classify}.
 */
class CrossEntropyLearnerTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("2-16-3");
    private static final PlainMlp PLAIN = new PlainMlp(ARCH);
    private static GradientLearner learner;
    private static BaseModel base;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        learner = new GradientLearner(Device.cpu());
        base = new BaseModel("ce@1", "maml", ARCH, MetaTrainer.initialParameters(ARCH, new Random(5)),
                new AdaptationSettings(30, 0.5f, 0f, Loss.CROSS_ENTROPY));
    }

    @AfterAll
    static void stop() {
        learner.close();
    }

    /**
     * Three separable clusters in the plane, at 0, 120 and 240 degrees around {@code center}, with
     * {@code perClass} points each; the class of a cluster is its index.
     */
    private static SampleSet clusters(Random r, int perClass, float[] center) {
        float[][] x = new float[3 * perClass][];
        float[] y = new float[3 * perClass];
        for (int c = 0; c < 3; c++) {
            double angle = 2 * Math.PI * c / 3;
            for (int k = 0; k < perClass; k++) {
                int i = c * perClass + k;
                x[i] = new float[] {center[0] + (float) (2 * Math.cos(angle) + 0.3 * r.nextGaussian()),
                        center[1] + (float) (2 * Math.sin(angle) + 0.3 * r.nextGaussian())};
                y[i] = c;
            }
        }
        return new SampleSet(x, y);
    }

    private static List<float[]> nulls(int n) {
        return new ArrayList<>(Collections.nCopies(n, null));
    }

    @Test
    void shouldComputeTheCrossEntropyOfOneRowAsWrittenByHand() {
        // Logits (1, 2, 3) for class 0: -log(e^1 / (e^1 + e^2 + e^3)) = log(1 + e + e^2) = 2.4076.
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            NDArray out = m.create(new float[] {1f, 2f, 3f, 1f, 2f, 3f}, new Shape(1, 2, 3));
            NDArray y = m.create(new float[] {0f, 2f}, new Shape(1, 2, 1));
            float[] rows = Loss.CROSS_ENTROPY.rows(out, y).toFloatArray();
            assertThat(rows[0]).isCloseTo((float) Math.log(1 + Math.E + Math.E * Math.E), within(1e-5f));
            assertThat(rows[1]).isCloseTo((float) Math.log(Math.exp(-2) + Math.exp(-1) + 1), within(1e-5f));
            float[] d = Loss.CROSS_ENTROPY.derivative(out, y).toFloatArray();
            double sum = Math.exp(1) + Math.exp(2) + Math.exp(3);
            assertThat(d[0]).isCloseTo((float) (Math.exp(1) / sum - 1), within(1e-6f));
            assertThat(d[1]).isCloseTo((float) (Math.exp(2) / sum), within(1e-6f));
            assertThat(d[5]).isCloseTo((float) (Math.exp(3) / sum - 1), within(1e-6f));
        }
    }

    /** Loss and backpropagated gradient of a two-layer softmax network against central differences in double. */
    @Test
    void shouldMatchFiniteDifferencesForTheCrossEntropyGradient() {
        SampleSet s = clusters(new Random(7), 4, new float[] {0.5f, -0.5f});
        float[] theta = base.parameters();
        float[] analytic;
        float loss;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            TaskBatch b = TaskBatch.of(m, List.of(s), 2);
            List<NDArray> params = MlpMath.unpack(m.create(theta, new Shape(1, theta.length)), ARCH);
            analytic = MlpMath.pack(MlpMath.gradients(params, b.x, b.y, b.w, Loss.CROSS_ENTROPY)).toFloatArray();
            loss = MlpMath.loss(params, b.x, b.y, b.w, Loss.CROSS_ENTROPY).getFloat();
        }
        double[] p = PlainMlp.toDouble(theta);
        assertThat((double) loss).isCloseTo(PLAIN.loss(p, s, Loss.CROSS_ENTROPY), within(1e-5));
        assertThat(loss).as("an untrained head is near log 3, not 0").isGreaterThan(0.5f);
        double[] reference = PLAIN.gradient(p, s, Loss.CROSS_ENTROPY);
        double largest = 0;
        for (int i = 0; i < theta.length; i++) {
            double eps = 1e-6;
            double[] up = p.clone();
            double[] down = p.clone();
            up[i] += eps;
            down[i] -= eps;
            double numeric = (PLAIN.loss(up, s, Loss.CROSS_ENTROPY) - PLAIN.loss(down, s, Loss.CROSS_ENTROPY)) / (2 * eps);
            assertThat((double) analytic[i]).as("d loss / d param %d", i)
                    .isCloseTo(numeric, within(1e-4 + 1e-3 * Math.abs(numeric)));
            assertThat(reference[i]).isCloseTo(numeric, within(1e-6 + 1e-4 * Math.abs(numeric)));
            largest = Math.max(largest, Math.abs(numeric));
        }
        assertThat(largest).as("the gradient is not trivially zero").isGreaterThan(0.05);
    }

    /** The online path's plain steps (MlpMath.descend) against plain-Java SGD in double. */
    @Test
    void shouldAdaptByPlainStepsAsPlainJavaSgdDoes() {
        SampleSet s = clusters(new Random(8), 2, new float[] {0f, 0f});
        AdaptationSettings three = new AdaptationSettings(3, 0.3f, 0f, Loss.CROSS_ENTROPY);
        TaskAdaptation t = learner.adapt(base, List.of(s), three).tasks().get(0);
        assertThat(t.fellBack()).isFalse();
        double[] alpha = new double[ARCH.parameterCount()];
        Arrays.fill(alpha, 0.3);
        double[] expected = PLAIN.adapt(PlainMlp.toDouble(base.parameters()), alpha, s, 3, Loss.CROSS_ENTROPY);
        for (int i = 0; i < expected.length; i++) {
            assertThat((double) t.state()[i]).as("param %d", i).isCloseTo(expected[i], within(1e-4));
        }
        assertThat((double) t.lossBefore()).isCloseTo(PLAIN.loss(PlainMlp.toDouble(base.parameters()), s,
                Loss.CROSS_ENTROPY), within(1e-5));
        assertThat(t.lossAfter()).isLessThan(t.lossBefore());
    }

    /**
     * Per-parameter step sizes (Meta-SGD, and ANIL's: 0 on the body) take the other inner-loop
     * path ({@link MlpMath#sgd}): the body of an ANIL-style base stays put, its head moves as
     * plain-Java SGD with the same sizes.
     */
    @Test
    void shouldAdaptOnlyTheHeadWithAnilStepSizes() {
        float[] alphas = new float[ARCH.parameterCount()];
        int head = MetaTrainer.headOffset(ARCH);
        Arrays.fill(alphas, head, alphas.length, 0.4f);
        BaseModel anil = new BaseModel("anil@1", "anil", ARCH, base.parameters(),
                new AdaptationSettings(4, 0.4f, 0f, Loss.CROSS_ENTROPY), alphas);
        SampleSet s = clusters(new Random(9), 3, new float[] {1f, 1f});
        TaskAdaptation t = learner.adapt(anil, List.of(s)).tasks().get(0);
        float[] theta = anil.parameters();
        double[] expected = PLAIN.adapt(PlainMlp.toDouble(theta), PlainMlp.toDouble(alphas), s, 4, Loss.CROSS_ENTROPY);
        for (int i = 0; i < theta.length; i++) {
            assertThat((double) t.state()[i]).as("param %d", i).isCloseTo(expected[i], within(1e-4));
            if (i < head) {
                assertThat(t.state()[i]).as("body param %d", i).isEqualTo(theta[i]);
            }
        }
        assertThat(Arrays.copyOfRange(t.state(), head, theta.length)).isNotEqualTo(Arrays.copyOfRange(theta, head,
                theta.length));
        assertThat(t.lossAfter()).isLessThan(t.lossBefore());
    }

    /**
     * A linear softmax model (one layer) with a step far too large: the plain step overshoots and
     * raises the support loss, so the learner falls back to the base; the bounded step is
     * shortened to the minimum of a quadratic that lies above the loss (curvature 1/2), so it
     * lowers it.
     */
    @Test
    void shouldShortenAnOvershootingCrossEntropyStepWhenBounded() {
        MlpArchitecture linear = MlpArchitecture.parse("2-3");
        BaseModel flat = new BaseModel("linear@1", "maml", linear, MetaTrainer.initialParameters(linear, new Random(3)),
                new AdaptationSettings(1, 1f, 0f, Loss.CROSS_ENTROPY));
        SampleSet s = clusters(new Random(10), 2, new float[] {8f, 8f});
        AdaptationSettings huge = new AdaptationSettings(1, 200f, 0f, Loss.CROSS_ENTROPY);
        TaskAdaptation plain = learner.adapt(flat, List.of(s), huge).tasks().get(0);
        TaskAdaptation bounded = learner.adapt(flat, List.of(s), huge.withInnerStep(AdaptationSettings.InnerStep.BOUNDED))
                .tasks().get(0);
        assertThat(plain.fellBack()).as("the plain step raised the loss").isTrue();
        assertThat(bounded.fellBack()).isFalse();
        assertThat(bounded.lossAfter()).isLessThan(bounded.lossBefore());
        // Per-parameter sizes take the other path (MlpMath.sgd); the same bound applies there.
        float[] alphas = new float[linear.parameterCount()];
        Arrays.fill(alphas, 200f);
        BaseModel sized = new BaseModel("linear@2", "metasgd", linear, flat.parameters(),
                new AdaptationSettings(1, 200f, 0f, Loss.CROSS_ENTROPY), alphas);
        assertThat(learner.adapt(sized, List.of(s)).tasks().get(0).fellBack()).isTrue();
        TaskAdaptation sizedBounded = learner.adapt(sized, List.of(s),
                sized.adaptation().withInnerStep(AdaptationSettings.InnerStep.BOUNDED)).tasks().get(0);
        assertThat(sizedBounded.fellBack()).isFalse();
        assertThat(sizedBounded.lossAfter()).isEqualTo(bounded.lossAfter(), within(1e-4f));
    }

    @Test
    void shouldClassifyWithProbabilitiesThatSumToOneOverTheTasksClasses() {
        Random r = new Random(11);
        int[] counts = {3, 2, 1, 3};
        List<float[]> states = nulls(counts.length);
        List<float[][]> queries = new ArrayList<>();
        for (int t = 0; t < counts.length; t++) {
            queries.add(clusters(r, 10, new float[] {t, -t}).features());
        }
        float[] state = base.parameters();
        for (int i = 0; i < state.length; i++) {
            state[i] += 0.3f * (float) r.nextGaussian();
        }
        states.set(3, state);
        float[][][] p = learner.classify(base, states, queries, counts);
        int classTwoWouldWin = 0;
        for (int t = 0; t < counts.length; t++) {
            double[] theta = PlainMlp.toDouble(states.get(t) == null ? base.parameters() : states.get(t));
            assertThat(p[t].length).isEqualTo(queries.get(t).length);
            for (int k = 0; k < p[t].length; k++) {
                assertThat(p[t][k]).as("task %d query %d", t, k).hasSize(counts[t]);
                double sum = 0;
                for (float v : p[t][k]) {
                    assertThat(v).isBetween(0f, 1f);
                    sum += v;
                }
                assertThat(sum).isCloseTo(1.0, within(1e-5));
                double[] z = PLAIN.outputs(theta, PlainMlp.toDouble(queries.get(t)[k]));
                double[] expected = PlainMlp.logSoftmax(Arrays.copyOf(z, counts[t]));
                for (int c = 0; c < counts[t]; c++) {
                    assertThat((double) p[t][k][c]).isCloseTo(Math.exp(expected[c]), within(1e-5));
                }
                if (counts[t] == 2 && z[2] > Math.max(z[0], z[1])) {
                    classTwoWouldWin++;
                    assertThat(ClassProbabilities.top(p[t][k])).isLessThan(2);
                }
            }
        }
        assertThat(classTwoWouldWin).as("a query whose best output is a class the task lacks").isPositive();
    }

    @Test
    void shouldAnswerANullStateWithTheBaseParametersAndPredictTheTopProbability() {
        float[][] q = clusters(new Random(12), 5, new float[] {0f, 0f}).features();
        List<float[]> states = nulls(2);
        states.set(1, base.parameters());
        float[][][] p = learner.classify(base, states, List.of(q, q), new int[] {3, 3});
        float[][] top = learner.predict(base, states, List.of(q, q));
        for (int k = 0; k < q.length; k++) {
            assertThat(p[0][k]).containsExactly(p[1][k]);
            float best = Math.max(p[0][k][0], Math.max(p[0][k][1], p[0][k][2]));
            assertThat(top[0][k]).isEqualTo(best);
            assertThat(top[1][k]).isEqualTo(best);
            assertThat(best).isGreaterThanOrEqualTo(1f / 3);
        }
    }

    @Test
    void shouldRefuseClassCountsAndTargetsBeyondTheHead() {
        float[][] q = {{0f, 0f}};
        assertThatThrownBy(() -> learner.classify(base, nulls(1), List.<float[][]>of(q), new int[] {4}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4 classes");
        BaseModel regression = new BaseModel("mse@1", "maml", ARCH, base.parameters(), new AdaptationSettings(1, 0.1f));
        assertThatThrownBy(() -> learner.classify(regression, nulls(1), List.<float[][]>of(q), new int[] {2}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not classify");
        SampleSet outOfRange = new SampleSet(new float[][] {{0f, 0f}, {1f, 1f}}, new float[] {0f, 3f});
        assertThatThrownBy(() -> learner.adapt(base, List.of(outOfRange)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("target 3.0");
        SampleSet fraction = new SampleSet(new float[][] {{0f, 0f}}, new float[] {0.5f});
        assertThatThrownBy(() -> learner.adapt(base, List.of(fraction)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a class index");
    }

    /** Adaptation on a separable 3-way support set takes its accuracy from chance to every point right. */
    @Test
    void shouldRaiseSupportAccuracyByAdaptingOnASeparableThreeWayTask() {
        List<SampleSet> supports = new ArrayList<>();
        List<float[][]> inputs = new ArrayList<>();
        Random r = new Random(13);
        for (int t = 0; t < 8; t++) {
            // Each task its own place in the plane, so the base cannot know the classes in advance.
            SampleSet s = clusters(r, 5, new float[] {4 * r.nextFloat() - 2, 4 * r.nextFloat() - 2});
            supports.add(s);
            inputs.add(s.features());
        }
        AdaptedBatch adapted = learner.adapt(base, supports);
        List<float[]> states = new ArrayList<>();
        for (TaskAdaptation t : adapted.tasks()) {
            assertThat(t.fellBack()).isFalse();
            assertThat(t.lossAfter()).isLessThan(t.lossBefore() * 0.5f);
            states.add(t.state());
        }
        int[] three = new int[supports.size()];
        Arrays.fill(three, 3);
        float[][][] before = learner.classify(base, nulls(supports.size()), inputs, three);
        float[][][] after = learner.classify(base, states, inputs, three);
        double meanBefore = 0;
        for (int t = 0; t < supports.size(); t++) {
            meanBefore += Evaluation.accuracy(before[t], supports.get(t).targets()) / supports.size();
            assertThat(Evaluation.accuracy(after[t], supports.get(t).targets())).as("task %d", t).isEqualTo(1.0);
        }
        assertThat(meanBefore).isLessThan(0.7);
    }
}

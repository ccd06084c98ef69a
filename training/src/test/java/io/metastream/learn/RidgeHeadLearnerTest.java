package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.metastream.data.sinusoid.SinusoidTasks;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class RidgeHeadLearnerTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-40-40-1");
    private static final SinusoidTasks SINE = new SinusoidTasks();
    private static RidgeHeadLearner learner;
    private static BaseModel base;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        learner = new RidgeHeadLearner(Device.cpu());
        base = new BaseModel("ridge@0", LearnerKind.ANIL_RIDGE.id(), ARCH,
                MetaTrainer.initialParameters(ARCH, new Random(4)), AdaptationSettings.NONE);
    }

    @AfterAll
    static void stop() {
        learner.close();
    }

    private static List<SampleSet> supports(int tasks, long seed, int... sizes) {
        Random r = new Random(seed);
        List<SampleSet> out = new ArrayList<>();
        for (int t = 0; t < tasks; t++) {
            out.add(SINE.sampleTask(r).sample(r, sizes[t % sizes.length]));
        }
        return out;
    }

    @Test
    void shouldMatchADirectSolveOfTheRidgeNormalEquations() {
        for (SampleSet s : supports(3, 11, 1, 7, 20)) {
            float[] head = learner.adapt(base, List.of(s)).tasks().get(0).state();
            double[] direct = directHead(PlainMlp.toDouble(base.parameters()), ARCH, s);
            assertThat(head).hasSize(41);
            for (int i = 0; i < direct.length; i++) {
                assertThat((double) head[i]).as("K=%d, head %d", s.size(), i)
                        .isCloseTo(direct[i], within(1e-4 + 1e-3 * Math.abs(direct[i])));
            }
        }
    }

    /**
     * A base with a support prior solves with that lambda: the same normal equations, and a head
     * shrunk closer to the base's own than with lambda 1.
     */
    @Test
    void shouldSolveWithTheSupportPriorAsLambda() {
        BaseModel shrunk = new BaseModel("ridge@5", LearnerKind.ANIL_RIDGE.id(), ARCH, base.parameters(),
                new AdaptationSettings(0, 1f, 5f));
        assertThat(RidgeHeadLearner.lambda(shrunk.adaptation())).isEqualTo(5f);
        assertThat(RidgeHeadLearner.lambda(AdaptationSettings.NONE)).isEqualTo(RidgeHeadLearner.LAMBDA);
        float[] params = base.parameters();
        for (SampleSet s : supports(2, 12, 2, 10)) {
            float[] head = learner.adapt(shrunk, List.of(s)).tasks().get(0).state();
            double[] direct = directHead(PlainMlp.toDouble(params), ARCH, s, 5);
            for (int i = 0; i < direct.length; i++) {
                assertThat((double) head[i]).as("K=%d, head %d", s.size(), i)
                        .isCloseTo(direct[i], within(1e-4 + 1e-3 * Math.abs(direct[i])));
            }
            float[] loose = learner.adapt(base, List.of(s)).tasks().get(0).state();
            assertThat(distance(head, params)).isLessThan(distance(loose, params));
        }
    }

    /** Distance of a head from the base's own head, the last floats of {@code params}. */
    private static double distance(float[] head, float[] params) {
        double sum = 0;
        for (int i = 0; i < head.length; i++) {
            double d = head[i] - params[params.length - head.length + i];
            sum += d * d;
        }
        return Math.sqrt(sum);
    }

    @Test
    void shouldKeepTheBaseHeadForAnEmptySupportSetAndPredictLikeTheBase() {
        float[] head = learner.adapt(base, List.of(new SampleSet(new float[0][], new float[0]))).tasks().get(0).state();
        float[] p = base.parameters();
        assertThat(head).containsExactly(Arrays.copyOfRange(p, p.length - 41, p.length), within(1e-6f));
        float[][] q = {{-4f}, {0f}, {2.5f}};
        float[][] ridge = learner.predict(base, Arrays.asList(null, head), List.of(q, q));
        try (GradientLearner plain = new GradientLearner(Device.cpu())) {
            float[][] mlp = plain.predict(base, Arrays.asList((float[]) null), List.<float[][]>of(q));
            assertThat(ridge[0]).containsExactly(mlp[0], within(1e-5f));
            assertThat(ridge[1]).containsExactly(mlp[0], within(1e-5f));
        }
    }

    @Test
    void shouldAgreeBatchedAndOneByOne() {
        List<SampleSet> sets = supports(9, 6, 0, 1, 3, 10, 20);
        AdaptedBatch batched = learner.adapt(base, sets);
        for (int t = 0; t < sets.size(); t++) {
            TaskAdaptation alone = learner.adapt(base, List.of(sets.get(t))).tasks().get(0);
            assertThat(batched.tasks().get(t).state()).as("task %d", t)
                    .containsExactly(alone.state(), within(1e-4f));
            if (sets.get(t).size() > 0) {
                assertThat(alone.lossAfter()).isLessThan(alone.lossBefore());
            }
        }
    }

    @Test
    void shouldMatchFiniteDifferencesOfTheMetaObjectiveThroughTheSolve() {
        MlpArchitecture arch = MlpArchitecture.parse("1-8-8-1");
        float[] theta = MetaTrainer.initialParameters(arch, new Random(8));
        List<SampleSet> support = supports(3, 2, 2, 5, 9);
        List<SampleSet> query = supports(3, 2, 6);
        Autograd.Result g;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            TaskBatch s = TaskBatch.of(m, support, 1);
            TaskBatch q = TaskBatch.of(m, query, 1);
            g = Autograd.gradient(m, theta, row -> RidgeHeadLearner.queryLoss(MlpMath.unpack(row, arch), s, q, AdaptationSettings.NONE));
        }
        double[] p = PlainMlp.toDouble(theta);
        assertThat((double) g.loss()).isCloseTo(objective(p, arch, support, query), within(1e-4));
        double eps = 1e-6;
        double largest = 0;
        for (int i = 0; i < p.length; i++) {
            double[] up = p.clone();
            double[] down = p.clone();
            up[i] += eps;
            down[i] -= eps;
            double numeric = (objective(up, arch, support, query) - objective(down, arch, support, query)) / (2 * eps);
            assertThat((double) g.gradient()[i]).as("coordinate %d", i)
                    .isCloseTo(numeric, within(5e-4 + 5e-3 * Math.abs(numeric)));
            largest = Math.max(largest, Math.abs(numeric));
        }
        assertThat(largest).isGreaterThan(1e-2);
    }

    @Test
    void shouldMetaTrainABodyWhoseRidgeHeadBeatsTheBase() {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(800);
        MetaTrainer.Result r = new MetaTrainer(MetaTrainer.Algorithm.ANIL_RIDGE, Device.cpu())
                .train(SINE, plan, (d, t, l) -> { });
        assertThat(r.stepSizes()).isNull();
        BaseModel trained = new BaseModel("ridge@1", LearnerKind.ANIL_RIDGE.id(), ARCH, r.parameters(),
                AdaptationSettings.NONE);
        Evaluation.Report report = Evaluation.evaluate(learner, trained, SINE, 200, 10, 50, 43L, 100);
        assertThat(report.adapted().mean()).isLessThan(0.5 * report.base().mean());
    }

    /** The query loss may be the absolute error (the solve stays least squares); a logit never. */
    @Test
    void shouldMetaTrainWithAnAbsoluteQueryLossAndRefuseTheLogistic() {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(200)
                .withAdaptation(new AdaptationSettings(0, 1f, 2f, Loss.ABSOLUTE));
        MetaTrainer.Result r = new MetaTrainer(MetaTrainer.Algorithm.ANIL_RIDGE, Device.cpu())
                .train(SINE, plan, (d, t, l) -> { });
        float[] c = r.curve();
        assertThat(c[c.length - 1] + c[c.length - 2] + c[c.length - 3]).isLessThan(c[0] + c[1] + c[2]);
        assertThatThrownBy(() -> new MetaTrainer(MetaTrainer.Algorithm.ANIL_RIDGE, Device.cpu()).train(SINE,
                plan.withAdaptation(new AdaptationSettings(0, 1f, 0f, Loss.LOGISTIC)), (d, t, l) -> { }))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("logistic");
    }

    /** Mean over tasks of the query MSE after the direct solve, in double precision. */
    private static double objective(double[] p, MlpArchitecture arch, List<SampleSet> support, List<SampleSet> query) {
        double total = 0;
        for (int t = 0; t < support.size(); t++) {
            double[] head = directHead(p, arch, support.get(t));
            SampleSet q = query.get(t);
            double sum = 0;
            for (int k = 0; k < q.size(); k++) {
                double[] f = features(p, arch, q.features()[k]);
                double d = dot(f, head) - q.targets()[k];
                sum += d * d;
            }
            total += sum / q.size();
        }
        return total / support.size();
    }

    /** {@code [h, 1]}: the body's last hidden activations and a constant for the bias. */
    private static double[] features(double[] p, MlpArchitecture arch, float[] x) {
        int[] layers = arch.layers();
        MlpArchitecture body = new MlpArchitecture(Arrays.copyOf(layers, layers.length - 1));
        double[] h = new PlainMlp(body).outputs(Arrays.copyOf(p, body.parameterCount()), PlainMlp.toDouble(x));
        double[] f = Arrays.copyOf(h, h.length + 1);
        for (int i = 0; i < h.length; i++) {
            f[i] = Math.max(0, h[i]);
        }
        f[h.length] = 1;
        return f;
    }

    /** (Phi'Phi + I) W = Phi'y + W0 by Gaussian elimination with partial pivoting. */
    private static double[] directHead(double[] p, MlpArchitecture arch, SampleSet s) {
        return directHead(p, arch, s, 1);
    }

    /** (Phi'Phi + lambda I) W = Phi'y + lambda W0. */
    private static double[] directHead(double[] p, MlpArchitecture arch, SampleSet s, double lambda) {
        int n = arch.fanIn(arch.depth() - 1) + 1;
        double[][] a = new double[n][n + 1];
        for (int i = 0; i < n; i++) {
            a[i][i] = lambda;
            a[i][n] = lambda * p[p.length - n + i];
        }
        for (int k = 0; k < s.size(); k++) {
            double[] f = features(p, arch, s.features()[k]);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    a[i][j] += f[i] * f[j];
                }
                a[i][n] += f[i] * s.targets()[k];
            }
        }
        for (int c = 0; c < n; c++) {
            int pivot = c;
            for (int r = c + 1; r < n; r++) {
                if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) {
                    pivot = r;
                }
            }
            double[] tmp = a[c];
            a[c] = a[pivot];
            a[pivot] = tmp;
            for (int r = 0; r < n; r++) {
                if (r != c) {
                    double factor = a[r][c] / a[c][c];
                    for (int j = c; j <= n; j++) {
                        a[r][j] -= factor * a[c][j];
                    }
                }
            }
        }
        double[] w = new double[n];
        for (int i = 0; i < n; i++) {
            w[i] = a[i][n] / a[i][i];
        }
        return w;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}

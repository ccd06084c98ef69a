package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.metastream.data.sinusoid.SinusoidTasks;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Meta-gradients against central finite differences of the meta-objective, computed in double
 * precision by {@link PlainMlp}, on every coordinate. Two tasks and two inner steps with a large
 * step size, so the second-order terms are far from negligible.
 */
class MetaGradientTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-40-40-1");
    private static final PlainMlp PLAIN = new PlainMlp(ARCH);
    private static final int STEPS = 2;
    private static final double EPS = 1e-6;
    private static final List<SampleSet> SUPPORTS = new ArrayList<>();
    private static final List<SampleSet> QUERIES = new ArrayList<>();
    private static float[] theta;
    private static float[] alpha;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        Random r = new Random(21);
        theta = MetaTrainer.initialParameters(ARCH, r);
        alpha = new float[theta.length];
        for (int i = 0; i < alpha.length; i++) {
            alpha[i] = 0.02f + 0.08f * r.nextFloat();
        }
        SinusoidTasks sine = new SinusoidTasks();
        for (int t = 0; t < 2; t++) {
            TaskFamily.Episode e = sine.sample(r, 10, 10);
            SUPPORTS.add(e.support());
            QUERIES.add(e.query());
        }
    }

    private static SecondOrderGradient.Result autograd(boolean learnAlpha) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            return SecondOrderGradient.compute(m, ARCH, theta, alpha, learnAlpha, TaskBatch.of(m, SUPPORTS, 1),
                    TaskBatch.of(m, QUERIES, 1), STEPS, Loss.MSE);
        }
    }

    /** Mean over the tasks of the meta-objective with theta (or alpha) coordinate i moved by delta. */
    private static double metaLoss(int i, double delta, boolean moveAlpha) {
        double[] th = PlainMlp.toDouble(theta);
        double[] al = PlainMlp.toDouble(alpha);
        (moveAlpha ? al : th)[i] += delta;
        double sum = 0;
        for (int t = 0; t < SUPPORTS.size(); t++) {
            sum += PLAIN.metaLoss(th, al, SUPPORTS.get(t), QUERIES.get(t), STEPS);
        }
        return sum / SUPPORTS.size();
    }

    private static double[] numericGradient(boolean alphaAxis) {
        double[] g = new double[theta.length];
        for (int i = 0; i < g.length; i++) {
            g[i] = (metaLoss(i, EPS, alphaAxis) - metaLoss(i, -EPS, alphaAxis)) / (2 * EPS);
        }
        return g;
    }

    private static void assertClose(float[] analytic, double[] numeric, String what) {
        for (int i = 0; i < numeric.length; i++) {
            assertThat((double) analytic[i]).as("%s %d", what, i)
                    .isCloseTo(numeric[i], within(2e-4 + 2e-3 * Math.abs(numeric[i])));
        }
    }

    @Test
    void shouldMatchFiniteDifferencesForSecondOrderMetaGradient() {
        SecondOrderGradient.Result g = autograd(false);
        double[] numeric = numericGradient(false);
        assertClose(g.theta(), numeric, "d meta-loss / d theta");
        assertThat(g.alpha()).isNull();
        assertThat((double) g.queryLoss()).isCloseTo(metaLoss(0, 0, false), within(1e-4));
        // The check has teeth: the first-order gradient is measurably different.
        double[] firstOrder = firstOrderGradient();
        double gap = 0;
        for (int i = 0; i < numeric.length; i++) {
            gap = Math.max(gap, Math.abs(firstOrder[i] - numeric[i]));
        }
        assertThat(gap).isGreaterThan(0.05);
    }

    @Test
    void shouldMatchFiniteDifferencesForLearnedStepSizeGradient() {
        SecondOrderGradient.Result g = autograd(true);
        assertClose(g.alpha(), numericGradient(true), "d meta-loss / d alpha");
    }

    @Test
    void shouldMatchFiniteDifferencesForFirstOrderMetaGradient() {
        // First-order MAML: the query-loss gradient at the adapted weights, batched in MlpMath,
        // against finite differences of the query loss around the plain-Java adapted weights.
        float[] batched;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            TaskBatch s = TaskBatch.of(m, SUPPORTS, 1);
            TaskBatch q = TaskBatch.of(m, QUERIES, 1);
            List<NDArray> params = MlpMath.unpack(m.create(theta, new Shape(1, theta.length)), ARCH);
            List<NDArray> alphas = MlpMath.unpack(m.create(alpha, new Shape(1, alpha.length)), ARCH);
            List<NDArray> phi = MlpMath.sgd(params, alphas, s.x, s.y, s.w, STEPS, Loss.MSE, AdaptationSettings.InnerStep.SGD);
            batched = MlpMath.pack(MlpMath.gradients(phi, q.x, q.y, q.w)).mean(new int[] {0}, true).toFloatArray();
        }
        double[] numeric = new double[theta.length];
        for (int t = 0; t < SUPPORTS.size(); t++) {
            double[] phi = PLAIN.adapt(PlainMlp.toDouble(theta), PlainMlp.toDouble(alpha), SUPPORTS.get(t), STEPS);
            for (int i = 0; i < phi.length; i++) {
                double[] up = phi.clone();
                double[] down = phi.clone();
                up[i] += EPS;
                down[i] -= EPS;
                numeric[i] += (PLAIN.loss(up, QUERIES.get(t)) - PLAIN.loss(down, QUERIES.get(t))) / (2 * EPS)
                        / SUPPORTS.size();
            }
        }
        assertClose(batched, numeric, "first-order direction");
        assertThat(firstOrderGradient()).containsExactly(numeric, within(1e-6));
    }

    /** The plain-Java first-order MAML direction: query gradient at the adapted weights. */
    private static double[] firstOrderGradient() {
        double[] sum = new double[theta.length];
        for (int t = 0; t < SUPPORTS.size(); t++) {
            double[] phi = PLAIN.adapt(PlainMlp.toDouble(theta), PlainMlp.toDouble(alpha), SUPPORTS.get(t), STEPS);
            double[] g = PLAIN.gradient(phi, QUERIES.get(t));
            for (int i = 0; i < sum.length; i++) {
                sum[i] += g[i] / SUPPORTS.size();
            }
        }
        return Arrays.copyOf(sum, sum.length);
    }
}

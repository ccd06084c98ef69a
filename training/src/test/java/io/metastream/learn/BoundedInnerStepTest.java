package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link AdaptationSettings.InnerStep#BOUNDED}: on a linear model the support loss is exactly
 * quadratic, so its Gauss-Newton model is the loss itself and a bounded step is an exact line
 * search along the step; on a network it removes the one-point blow-ups of plain steps and leaves
 * short steps alone.
 */
class BoundedInnerStepTest {
    private static final MlpArchitecture LINEAR = MlpArchitecture.parse("1-1");
    private static final MlpArchitecture NET = MlpArchitecture.parse("1-40-40-1");
    private static GradientLearner learner;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        learner = new GradientLearner(Device.cpu());
    }

    @AfterAll
    static void stop() {
        learner.close();
    }

    private static AdaptationSettings settings(int steps, float stepSize, Loss loss, AdaptationSettings.InnerStep rule) {
        return new AdaptationSettings(steps, stepSize, 0f, loss, rule);
    }

    private static float predict(BaseModel base, float[] state, float x) {
        return learner.predict(base, List.<float[]>of(state), List.<float[][]>of(new float[][] {{x}}))[0][0];
    }

    /**
     * One point, f = w x + b: the bounded step lands on the target in one step, with the smallest
     * change that does (along (x, 1)); the plain step of the same size overshoots and diverges.
     */
    @Test
    void shouldLandALinearModelOnASinglePointInOneStep() {
        BaseModel line = new BaseModel("line@1", "reptile", LINEAR, new float[] {0.5f, 0.1f},
                settings(1, 10f, Loss.MSE, AdaptationSettings.InnerStep.BOUNDED));
        SampleSet point = new SampleSet(new float[][] {{3f}}, new float[] {7f});
        TaskAdaptation t = learner.adapt(line, List.of(point)).tasks().get(0);
        assertThat(t.fellBack()).isFalse();
        assertThat(predict(line, t.state(), 3f)).isCloseTo(7f, within(1e-4f));
        float dw = t.state()[0] - 0.5f;
        float db = t.state()[1] - 0.1f;
        assertThat(dw / db).isCloseTo(3f, within(1e-4f));
        TaskAdaptation plain = learner.adapt(line, List.of(point),
                settings(1, 10f, Loss.MSE, AdaptationSettings.InnerStep.SGD)).tasks().get(0);
        assertThat(plain.fellBack()).as("a plain step of 10 overshoots").isTrue();
    }

    /**
     * Several points: each bounded step is the exact minimum of the quadratic loss along the
     * gradient, so the loss after one step is what a line search in double precision finds.
     */
    @Test
    void shouldTakeTheExactLineMinimumOnALinearLeastSquaresTask() {
        float[][] xs = {{-2f}, {0.5f}, {1f}, {4f}};
        float[] ys = {-3f, 1f, 0.2f, 6f};
        double w = -0.3;
        double b = 0.7;
        BaseModel line = new BaseModel("line@1", "reptile", LINEAR, new float[] {(float) w, (float) b},
                settings(1, 50f, Loss.MSE, AdaptationSettings.InnerStep.BOUNDED));
        // Gradient of the mean squared error and its curvature along it.
        double gw = 0;
        double gb = 0;
        for (int k = 0; k < xs.length; k++) {
            double e = w * xs[k][0] + b - ys[k];
            gw += 2 * e * xs[k][0] / xs.length;
            gb += 2 * e / xs.length;
        }
        double curvature = 0;
        for (float[] x : xs) {
            double along = gw * x[0] + gb;
            curvature += 2 * along * along / xs.length;
        }
        double t = (gw * gw + gb * gb) / curvature;
        double expectedLoss = 0;
        for (int k = 0; k < xs.length; k++) {
            double e = (w - t * gw) * xs[k][0] + (b - t * gb) - ys[k];
            expectedLoss += e * e / xs.length;
        }
        TaskAdaptation one = learner.adapt(line, List.of(new SampleSet(xs, ys))).tasks().get(0);
        assertThat((double) one.lossAfter()).isCloseTo(expectedLoss, within(1e-3 * expectedLoss + 1e-5));
        assertThat(one.lossAfter()).isLessThan(one.lossBefore() * 0.5f);
        // Many such steps keep going down; plain steps of 50 diverge.
        TaskAdaptation many = learner.adapt(line, List.of(new SampleSet(xs, ys)),
                settings(20, 50f, Loss.MSE, AdaptationSettings.InnerStep.BOUNDED)).tasks().get(0);
        assertThat(many.lossAfter()).isLessThan(one.lossAfter());
        assertThat(learner.adapt(line, List.of(new SampleSet(xs, ys)),
                settings(20, 50f, Loss.MSE, AdaptationSettings.InnerStep.SGD)).tasks().get(0).fellBack()).isTrue();
    }

    /** Per-parameter step sizes (Meta-SGD, ANIL) are bounded the same way along their own direction. */
    @Test
    void shouldBoundPerParameterStepSizesToo() {
        BaseModel line = new BaseModel("line@1", "metasgd", LINEAR, new float[] {0.5f, 0.1f},
                settings(1, 1f, Loss.MSE, AdaptationSettings.InnerStep.BOUNDED), new float[] {4f, 9f});
        TaskAdaptation t = learner.adapt(line, List.of(new SampleSet(new float[][] {{-2f}}, new float[] {3f}))).tasks()
                .get(0);
        assertThat(predict(line, t.state(), -2f)).isCloseTo(3f, within(1e-4f));
        // The direction is alpha * gradient: (4 * x, 9 * 1) with x = -2.
        assertThat((t.state()[0] - 0.5f) / (t.state()[1] - 0.1f)).isCloseTo(-8f / 9f, within(1e-4f));
    }

    /** Steps shorter than the model's minimum are left as they are: bounded equals plain. */
    @Test
    void shouldLeaveShortStepsUnchanged() {
        BaseModel net = new BaseModel("net@1", "reptile", NET, MetaTrainer.initialParameters(NET, new Random(1)),
                settings(5, 0.001f, Loss.MSE, AdaptationSettings.InnerStep.BOUNDED));
        BaseModel plain = new BaseModel("net@1", "reptile", NET, net.parameters(),
                settings(5, 0.001f, Loss.MSE, AdaptationSettings.InnerStep.SGD));
        List<SampleSet> sets = tasks(new SinusoidTasks(), 12, 10, new Random(3));
        List<TaskAdaptation> b = learner.adapt(net, sets).tasks();
        List<TaskAdaptation> p = learner.adapt(plain, sets).tasks();
        for (int t = 0; t < sets.size(); t++) {
            assertThat(b.get(t).state()).containsExactly(p.get(t).state(), within(1e-6f));
        }
        // And the absolute error, which has no curvature, is never shortened, however long the step.
        BaseModel mae = new BaseModel("net@1", "reptile", NET, net.parameters(),
                settings(3, 0.5f, Loss.ABSOLUTE, AdaptationSettings.InnerStep.BOUNDED));
        BaseModel maePlain = new BaseModel("net@1", "reptile", NET, net.parameters(),
                settings(3, 0.5f, Loss.ABSOLUTE, AdaptationSettings.InnerStep.SGD));
        assertThat(learner.adapt(mae, sets.subList(0, 1)).tasks().get(0).state())
                .containsExactly(learner.adapt(maePlain, sets.subList(0, 1)).tasks().get(0).state(), within(1e-6f));
    }

    /** The log-loss is bounded with its own curvature p(1 - p): a long step still lowers it. */
    @Test
    void shouldLowerTheLogLossWithAStepThatOvershootsPlainly() {
        BaseModel line = new BaseModel("line@1", "reptile", LINEAR, new float[] {2f, 1f},
                settings(1, 200f, Loss.LOGISTIC, AdaptationSettings.InnerStep.BOUNDED));
        // Not separable: a plain step of 200 flings the line to a saturated, worse fit.
        SampleSet clicks = new SampleSet(new float[][] {{-2f}, {-1f}, {1f}, {2f}}, new float[] {0f, 1f, 0f, 1f});
        TaskAdaptation t = learner.adapt(line, List.of(clicks)).tasks().get(0);
        assertThat(t.fellBack()).isFalse();
        assertThat(t.lossAfter()).isLessThan(t.lossBefore());
        TaskAdaptation plain = learner.adapt(line, List.of(clicks),
                settings(1, 200f, Loss.LOGISTIC, AdaptationSettings.InnerStep.SGD)).tasks().get(0);
        assertThat(plain.fellBack()).isTrue();
    }

    /**
     * The failure that made the rule: a meta-trained sinusoid base adapted to one point at the edge
     * of the input range. Plain steps of the base's own size (5 of 0.02) now and then move the
     * parameters by hundreds and predict other inputs off by thousands; bounded steps never do,
     * and on the same users they are no worse on average.
     */
    @Test
    void shouldRemoveOnePointBlowUpsOfAMetaTrainedSinusoidBase() {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(600).withSeed(7);
        float[] theta = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                .train(new SinusoidTasks(), plan, (d, t, l) -> { }).parameters();
        BaseModel plain = new BaseModel("sine@1", "reptile", NET, theta, plan.adaptation());
        BaseModel bounded = new BaseModel("sine@1", "reptile", NET, theta,
                plan.adaptation().withInnerStep(AdaptationSettings.InnerStep.BOUNDED));
        Random r = new Random(99);
        List<SampleSet> onePoint = new ArrayList<>();
        List<float[][]> queries = new ArrayList<>();
        List<Float> truth = new ArrayList<>();
        for (SampleSet s : tasks(new SinusoidTasks(), 400, 2, r)) {
            onePoint.add(new SampleSet(new float[][] {s.features()[0]}, new float[] {s.targets()[0]}));
            queries.add(new float[][] {s.features()[1]});
            truth.add(s.targets()[1]);
        }
        double[] plainErrors = errors(plain, onePoint, queries, truth);
        double[] boundedErrors = errors(bounded, onePoint, queries, truth);
        double plainWorst = max(plainErrors);
        double boundedWorst = max(boundedErrors);
        assertThat(plainWorst).as("plain steps blow up on some user").isGreaterThan(1000);
        // A sinusoid of amplitude 5 is never further than 10 from a prediction inside its range.
        assertThat(boundedWorst).as("bounded steps never do").isLessThan(200);
        assertThat(mean(boundedErrors)).isLessThan(mean(plainErrors));
    }

    private static double[] errors(BaseModel base, List<SampleSet> supports, List<float[][]> queries, List<Float> truth) {
        List<float[]> states = new ArrayList<>();
        learner.adapt(base, supports).tasks().forEach(t -> states.add(t.state()));
        float[][] predicted = learner.predict(base, states, queries);
        double[] out = new double[supports.size()];
        for (int t = 0; t < out.length; t++) {
            double e = predicted[t][0] - truth.get(t);
            out[t] = e * e;
        }
        return out;
    }

    private static List<SampleSet> tasks(SinusoidTasks family, int n, int size, Random r) {
        List<SampleSet> out = new ArrayList<>(n);
        for (int t = 0; t < n; t++) {
            out.add(family.sampleTask(r).sample(r, size));
        }
        return out;
    }

    private static double max(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            m = Math.max(m, x);
        }
        return m;
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }
}

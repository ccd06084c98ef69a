package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.metastream.data.sinusoid.SinusoidTasks;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TaskEncoderLearnerTest {
    private static final SinusoidTasks SINE = new SinusoidTasks();
    private static TaskEncoderLearner learner;
    /** Meta-trained briefly on a fixed seed: enough to beat the cold prediction clearly. */
    private static BaseModel trained;
    private static float[] curve;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        learner = new TaskEncoderLearner(Device.cpu());
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(1500).withShots(20);
        TaskEncoderTrainer.Result r = new TaskEncoderTrainer(Device.cpu(), 16).train(SINE, plan, (d, t, l) -> { });
        trained = r.base("te@test");
        curve = r.curve();
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
    void shouldGiveTheSameEmbeddingForEveryOrderOfTheSupportPoints() {
        SampleSet s = supports(1, 7, 10).get(0);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < s.size(); i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(3));
        float[][] f = new float[s.size()][];
        float[] y = new float[s.size()];
        for (int i = 0; i < s.size(); i++) {
            f[i] = s.features()[order.get(i)];
            y[i] = s.targets()[order.get(i)];
        }
        SampleSet shuffled = new SampleSet(f, y);
        assertThat(order).isNotEqualTo(order.stream().sorted().toList());
        float[] a = learner.adapt(trained, List.of(s)).tasks().get(0).state();
        float[] b = learner.adapt(trained, List.of(shuffled)).tasks().get(0).state();
        assertThat(a).hasSize(16).containsExactly(b, within(1e-5f));
        // and the embedding does depend on the points: a different task gets a different one
        float[] other = learner.adapt(trained, supports(1, 8, 10)).tasks().get(0).state();
        assertThat(maxAbsDiff(a, other)).isGreaterThan(1e-2);
    }

    @Test
    void shouldLowerTheQueryLossBelowTheColdPredictionOnAFixedSeed() {
        Evaluation.Report r = Evaluation.evaluate(learner, trained, SINE, 200, 10, 50, 43L, 100);
        assertThat(r.adapted().mean()).isLessThan(0.5 * r.base().mean());
        assertThat(curve[curve.length - 1] + curve[curve.length - 2]).isLessThan(curve[0] + curve[1]);
    }

    @Test
    void shouldAgreeBatchedAndOneByOneForEverySupportSizeIncludingEmpty() {
        List<SampleSet> sets = supports(12, 5, 0, 1, 2, 5, 10, 20);
        AdaptedBatch batched = learner.adapt(trained, sets);
        assertThat(batched.steps()).isZero();
        List<float[]> states = new ArrayList<>();
        List<float[][]> queries = new ArrayList<>();
        for (int t = 0; t < sets.size(); t++) {
            TaskAdaptation alone = learner.adapt(trained, List.of(sets.get(t))).tasks().get(0);
            TaskAdaptation together = batched.tasks().get(t);
            assertThat(together.state()).as("task %d", t).containsExactly(alone.state(), within(1e-5f));
            assertThat(together.supportSize()).isEqualTo(sets.get(t).size());
            assertThat(together.lossAfter()).isCloseTo(alone.lossAfter(), within(1e-4f));
            states.add(together.state());
            queries.add(new float[][] {{-2f}, {0.5f}, {4f}});
        }
        float[][] all = learner.predict(trained, states, queries);
        for (int t = 0; t < sets.size(); t++) {
            float[][] one = learner.predict(trained, List.of(states.get(t)), List.<float[][]>of(queries.get(t)));
            assertThat(all[t]).containsExactly(one[0], within(1e-5f));
        }
    }

    @Test
    void shouldGiveAnEmptySupportSetTheColdEmbeddingThatANullStateStandsFor() {
        SampleSet empty = new SampleSet(new float[0][], new float[0]);
        float[] state = learner.adapt(trained, List.of(empty)).tasks().get(0).state();
        assertThat(state).hasSize(16).containsOnly(0f);
        float[][] q = {{-1f}, {3f}};
        float[][] out = learner.predict(trained, Arrays.asList(state, null), List.of(q, q));
        assertThat(out[0]).containsExactly(out[1]);
    }

    /**
     * The support prior shrinks the embedding: the sum over {@code n + k} points is {@code n/(n+k)}
     * of the mean's; the base's loss gives the link of its predictions.
     */
    @Test
    void shouldShrinkTheEmbeddingByTheSupportPrior() {
        BaseModel shrunk = BaseModel.taskEncoder("te@prior", trained.encoderArchitecture(),
                trained.encoderParameters(), trained.architecture(), trained.parameters(),
                new AdaptationSettings(0, 1f, 5f));
        for (SampleSet s : supports(3, 21, 1, 5, 20)) {
            float[] mean = learner.adapt(trained, List.of(s)).tasks().get(0).state();
            float[] prior = learner.adapt(shrunk, List.of(s)).tasks().get(0).state();
            float factor = s.size() / (s.size() + 5f);
            for (int j = 0; j < mean.length; j++) {
                assertThat(prior[j]).as("K=%d, %d", s.size(), j).isCloseTo(mean[j] * factor, within(1e-5f));
            }
        }
        BaseModel logistic = BaseModel.taskEncoder("te@logistic", trained.encoderArchitecture(),
                trained.encoderParameters(), trained.architecture(), trained.parameters(),
                new AdaptationSettings(0, 1f, 0f, Loss.LOGISTIC));
        float[][] q = {{-1f}, {2f}};
        float[] raw = learner.predict(trained, Arrays.asList((float[]) null), List.<float[][]>of(q))[0];
        float[] linked = learner.predict(logistic, Arrays.asList((float[]) null), List.<float[][]>of(q))[0];
        for (int k = 0; k < q.length; k++) {
            assertThat(linked[k]).isCloseTo(Loss.LOGISTIC.link(raw[k]), within(1e-6f));
        }
        assertThatThrownBy(() -> BaseModel.taskEncoder("te@steps", trained.encoderArchitecture(),
                trained.encoderParameters(), trained.architecture(), trained.parameters(),
                new AdaptationSettings(3, 0.1f))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no inner steps");
    }

    /** Trained with the absolute error, the base fits the query's median rather than its mean. */
    @Test
    void shouldMetaTrainWithTheAbsoluteErrorAndAPrior() {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(300).withShots(20)
                .withAdaptation(new AdaptationSettings(0, 1f, 2f, Loss.ABSOLUTE));
        TaskEncoderTrainer.Result r = new TaskEncoderTrainer(Device.cpu(), 8).train(SINE, plan, (d, t, l) -> { });
        BaseModel base = r.base("te@mae");
        assertThat(base.adaptation().loss()).isEqualTo(Loss.ABSOLUTE);
        assertThat(base.adaptation().supportPrior()).isEqualTo(2f);
        float[] c = r.curve();
        double first = 0;
        double last = 0;
        for (int i = 0; i < 20; i++) {
            first += c[i];
            last += c[c.length - 1 - i];
        }
        assertThat(last).as("mean absolute query error falls").isLessThan(0.8 * first);
        BaseModel stepsIgnored = new TaskEncoderTrainer(Device.cpu(), 8).train(SINE, plan.withIterations(2)
                .withAdaptation(new AdaptationSettings(2, 0.1f)), (d, t, l) -> { }).base("te@steps");
        assertThat(stepsIgnored.adaptation()).isEqualTo(AdaptationSettings.NONE);
    }

    @Test
    void shouldRefuseAStateOfTheWrongLengthAndABaseWithoutEncoder() {
        assertThatThrownBy(() -> learner.predict(trained, List.of(new float[3]), List.<float[][]>of(new float[][] {{1f}})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("16");
        MlpArchitecture arch = MlpArchitecture.parse("1-40-40-1");
        BaseModel plain = new BaseModel("p@1", "maml", arch, new float[arch.parameterCount()],
                new AdaptationSettings(1, 0.01f));
        assertThatThrownBy(() -> learner.adapt(plain, supports(1, 1, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no task encoder");
    }

    @Test
    void shouldKeepNativeMemoryFlatOverManyTrainingSteps() {
        // As MetaTrainerTest: resident size minus the committed Java heap approximates native memory.
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault();
        MetaTrainingPlan plan = new MetaTrainingPlan(d.architecture(), AdaptationSettings.NONE, 2000, 5, 20, 10,
                0.001f, 7L);
        long[] nativeKb = new long[plan.iterations() + 1];
        new TaskEncoderTrainer(Device.cpu(), 16).train(SINE, plan, (done, total, loss) -> {
            if (done == 500 || done == total) {
                nativeKb[done] = MetaTrainerTest.residentKb() - Runtime.getRuntime().totalMemory() / 1024;
            }
        });
        assertThat(nativeKb[2000] - nativeKb[500]).as("native kB growth from step 500 to 2000").isLessThan(40_000);
    }

    @Test
    void shouldBeReproducibleForAFixedSeed() {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(20).withShots(20);
        float[] a = new TaskEncoderTrainer(Device.cpu(), 8).train(SINE, plan, (d, t, l) -> { }).encoderParameters();
        float[] b = new TaskEncoderTrainer(Device.cpu(), 8).train(SINE, plan, (d, t, l) -> { }).encoderParameters();
        assertThat(a).containsExactly(b);
    }

    @Test
    void shouldMatchFiniteDifferencesOfTheMetaObjective() {
        MlpArchitecture plan = MlpArchitecture.parse("1-8-8-1");
        MlpArchitecture enc = TaskEncoderTrainer.encoderArchitecture(plan, 4);
        MlpArchitecture dec = TaskEncoderTrainer.decoderArchitecture(plan, 4);
        Random r = new Random(9);
        float[] theta = concat(MetaTrainer.initialParameters(enc, r), MetaTrainer.initialParameters(dec, r));
        List<SampleSet> support = supports(3, 2, 0, 3, 6);
        List<SampleSet> query = supports(3, 4, 5);
        int split = enc.parameterCount();
        Autograd.Result g;
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            TaskBatch s = TaskBatch.of(m, support, 1);
            TaskBatch q = TaskBatch.of(m, query, 1);
            g = Autograd.gradient(m, theta, row -> TaskEncoderTrainer.queryLoss(row, split, enc, dec, s, q, Loss.MSE));
        }
        double[] p = PlainMlp.toDouble(theta);
        assertThat((double) g.loss()).isCloseTo(objective(p, split, enc, dec, support, query), within(1e-5));
        double eps = 1e-6;
        double gap = 0;
        for (int i = 0; i < p.length; i++) {
            double[] up = p.clone();
            double[] down = p.clone();
            up[i] += eps;
            down[i] -= eps;
            double numeric = (objective(up, split, enc, dec, support, query)
                    - objective(down, split, enc, dec, support, query)) / (2 * eps);
            assertThat((double) g.gradient()[i]).as("coordinate %d", i)
                    .isCloseTo(numeric, within(2e-4 + 2e-3 * Math.abs(numeric)));
            gap = Math.max(gap, Math.abs(numeric));
        }
        assertThat(gap).as("the gradient is not trivially zero").isGreaterThan(1e-2);
    }

    /** The meta-objective in double precision: mean over tasks of the query MSE given the embedding. */
    private static double objective(double[] p, int split, MlpArchitecture enc, MlpArchitecture dec,
            List<SampleSet> support, List<SampleSet> query) {
        PlainMlp encoder = new PlainMlp(enc);
        PlainMlp decoder = new PlainMlp(dec);
        double[] pe = Arrays.copyOfRange(p, 0, split);
        double[] pd = Arrays.copyOfRange(p, split, p.length);
        int dim = enc.outputDim();
        double total = 0;
        for (int t = 0; t < support.size(); t++) {
            SampleSet s = support.get(t);
            double[] z = new double[dim];
            for (int k = 0; k < s.size(); k++) {
                double[] rk = encoder.outputs(pe, new double[] {s.features()[k][0], s.targets()[k]});
                for (int j = 0; j < dim; j++) {
                    z[j] += rk[j] / s.size();
                }
            }
            SampleSet q = query.get(t);
            double sum = 0;
            for (int k = 0; k < q.size(); k++) {
                double[] in = new double[1 + dim];
                in[0] = q.features()[k][0];
                System.arraycopy(z, 0, in, 1, dim);
                double d = decoder.outputs(pd, in)[0] - q.targets()[k];
                sum += d * d;
            }
            total += sum / q.size();
        }
        return total / support.size();
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}

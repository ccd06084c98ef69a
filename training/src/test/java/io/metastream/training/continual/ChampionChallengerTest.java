package io.metastream.training.continual;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.BaseModel;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.SampleSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Continual meta-training on a drifted population, judged prequentially on held-out tasks: a base
 * warm-started on the drifted tasks wins by a margin; one trained on shuffled targets, and the
 * champion against itself, do not.
 */
class ChampionChallengerTest {
    private static final MetaTrainingPlan PLAN = MetaTrainingPlan.sinusoidDefault().withIterations(400).withSeed(3);
    /** After the shift: phases the original prior never draws. */
    private static final SinusoidTasks DRIFTED = new SinusoidTasks(1f, 5f, (float) Math.PI, (float) (2 * Math.PI));
    private static GradientLearner learner;
    private static BaseModel champion;

    @BeforeAll
    static void trainChampion() {
        learner = new GradientLearner(Device.cpu());
        champion = base("sine@1", new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                .train(new SinusoidTasks(), PLAN, (d, t, l) -> { }));
    }

    @AfterAll
    static void close() {
        learner.close();
    }

    private static BaseModel base(String version, MetaTrainer.Result r) {
        return new BaseModel(version, "reptile", PLAN.architecture(), r.parameters(), PLAN.adaptation());
    }

    /** {@code tasks} drifted users of {@code samples} samples each, as the stream would buffer them. */
    private static TaskBuffer stream(int tasks, int samples, long seed, boolean shuffleTargets) {
        return stream(DRIFTED, tasks, samples, seed, shuffleTargets);
    }

    private static TaskBuffer stream(SinusoidTasks population, int tasks, int samples, long seed,
            boolean shuffleTargets) {
        Random random = new Random(seed);
        TaskBuffer buffer = new TaskBuffer(1000, 20);
        for (int t = 0; t < tasks; t++) {
            SampleSet s = population.sampleTask(random).sample(random, samples);
            float[] y = s.targets().clone();
            if (shuffleTargets) {
                for (int i = y.length - 1; i > 0; i--) {
                    int j = random.nextInt(i + 1);
                    float tmp = y[i];
                    y[i] = y[j];
                    y[j] = tmp;
                }
            }
            for (int i = 0; i < samples; i++) {
                buffer.add("u" + t, s.features()[i], y[i]);
            }
        }
        return buffer;
    }

    private static BaseModel continueOn(List<TaskBuffer.BufferedTask> tasks, String version) {
        MetaTrainingPlan plan = PLAN.withIterations(300).withSeed(9);
        return base(version, new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                .train(new BufferedTaskFamily(tasks, 1, "buffer"), plan, (d, t, l) -> { }, champion));
    }

    private static List<TaskBuffer.BufferedTask> heldOut() {
        return stream(40, 12, 77, false).snapshot(2);
    }

    @Test
    void shouldPromoteABaseContinuedOnTheDriftedTasks() {
        BaseModel candidate = continueOn(stream(200, 12, 5, false).snapshot(2), "sine@2");
        ChampionChallenger.Verdict v = new ChampionChallenger(learner, 10, 0.05, 20).judge(champion, candidate,
                heldOut());
        assertThat(v.promote()).as(v.reason()).isTrue();
        assertThat(v.byShots().get(5)[1].mean()).as("5-shot MSE, candidate below champion")
                .isLessThan(v.byShots().get(5)[0].mean());
        assertThat(v.figures()).containsKeys("tasks", "difference", "difference_ci95", "champion_mse_5_shots");
    }

    @Test
    void shouldRefuseABaseTrainedOnShuffledTargets() {
        // The population has not moved; the candidate learnt from labels shuffled within each task.
        SinusoidTasks same = new SinusoidTasks();
        BaseModel candidate = continueOn(stream(same, 200, 12, 5, true).snapshot(2), "sine@bad");
        ChampionChallenger.Verdict v = new ChampionChallenger(learner, 10, 0.05, 20).judge(champion, candidate,
                stream(same, 40, 12, 77, false).snapshot(2));
        assertThat(v.promote()).as(v.reason()).isFalse();
        // Per-task prequential MSE is heavy-tailed (a few-shot adaptation that extrapolates badly),
        // so the shots are compared one by one: the shuffled candidate is worse at each.
        for (int k : new int[] {0, 1, 5}) {
            assertThat(v.byShots().get(k)[1].mean()).as("%d shots: %s", k, v.figures())
                    .isGreaterThan(v.byShots().get(k)[0].mean());
        }
    }

    @Test
    void shouldNotPromoteTheChampionOverItselfNorOnTooFewTasks() {
        ChampionChallenger judge = new ChampionChallenger(learner, 10, 0.0, 20);
        ChampionChallenger.Verdict self = judge.judge(champion, champion, heldOut());
        assertThat(self.promote()).as(self.reason()).isFalse();
        assertThat(self.difference().mean()).isZero();
        ChampionChallenger.Verdict few = judge.judge(champion, champion, heldOut().subList(0, 5));
        assertThat(few.promote()).isFalse();
        assertThat(few.reason()).contains("fewer than 20");
    }

    @Test
    void shouldRefuseAtFewTasksAnImprovementThatOnlyANormalIntervalWouldAccept() {
        // Five held-out tasks; the candidate is better by 1 on average (differences -2, 0, -2, 0, -1:
        // standard deviation 1, standard error 0.447). 1.96 standard errors (0.877) would clear the
        // margin 0; t(0.975, 4) = 2.776 standard errors (1.242) do not.
        double[] champion = {3, 3, 3, 3, 3};
        double[] candidate = {1, 3, 1, 3, 2};
        ChampionChallenger judge = new ChampionChallenger(learner, 10, 0.0, 3);
        ChampionChallenger.Verdict v = judge.decide(champion, candidate, java.util.Map.of());
        double standardError = 1 / Math.sqrt(5);
        assertThat(v.difference().mean()).isEqualTo(-1.0);
        assertThat(v.difference().mean() + 1.96 * standardError).as("what a 1.96 gate would have accepted")
                .isNegative();
        assertThat(v.difference().ci95()).isCloseTo(2.776 * standardError, org.assertj.core.api.Assertions.within(1e-3));
        assertThat(v.promote()).as(v.reason()).isFalse();
        assertThat(v.reason()).contains("does not clear", "95% t, 5 tasks");

        // The same evidence over 20 tasks is enough: t(0.975, 19) = 2.093, half-width 0.43.
        double[] champion20 = new double[20];
        double[] candidate20 = new double[20];
        for (int i = 0; i < 20; i++) {
            champion20[i] = 3;
            candidate20[i] = candidate[i % 5];
        }
        ChampionChallenger.Verdict more = judge.decide(champion20, candidate20, java.util.Map.of());
        assertThat(more.promote()).as(more.reason()).isTrue();
    }

    @Test
    void shouldKeepTheRecentTasksAndTheirNewestSamples() {
        TaskBuffer buffer = new TaskBuffer(3, 2);
        for (int t = 0; t < 5; t++) {
            for (int i = 0; i < 3; i++) {
                buffer.add("t" + t, new float[] {i}, t * 10 + i);
            }
        }
        List<TaskBuffer.BufferedTask> tasks = buffer.snapshot(1);
        assertThat(tasks).extracting(TaskBuffer.BufferedTask::taskId).containsExactly("t2", "t3", "t4");
        assertThat(tasks.get(2).samples().targets()).containsExactly(41f, 42f);
        assertThat(buffer.tasksSeen()).isEqualTo(5);
    }
}

package io.metastream.training.continual;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.SampleSet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The continual meta-training scenario, offline and in event order: users arrive in rounds; each
 * new user is scored prequentially by every arm's current base before anyone trains on it, then
 * joins the continual arm's buffer, and the continual arm runs a {@link ContinualRound} after
 * every round. Arms: the frozen base, the continual base (started from the frozen one), and an
 * oracle meta-trained on the post-shift family. In {@code drift} the population shifts abruptly
 * halfway (phases the original prior never draws) and then drifts slowly; in {@code stationary}
 * it never moves, the control that must promote nothing worse.
 */
public final class DriftScenario {
    /** The figures of one run. */
    public record Report(String scenario, Map<String, Map<Integer, Evaluation.Estimate>> postShiftByShots,
            int promotions, int firstPromotionRound, int shiftRound, Map<String, Evaluation.Estimate> forgetting,
            List<String> decisions) {
    }

    public record Settings(int rounds, int usersPerRound, int samplesPerUser, int baseIterations,
            ContinualRound.Settings round, long seed) {
        public static Settings defaults() {
            return new Settings(10, 60, 12, 1500,
                    new ContinualRound.Settings(40, 1000, 25, 10, 0.003f, 10, 0.05, 20), 7L);
        }
    }

    private static final int[] SHOTS = {0, 1, 5, 10};

    private DriftScenario() {
    }

    /** The population of round {@code r}: the paper's before the shift, then shifted phases drifting on. */
    public static SinusoidTasks population(boolean drift, int r, int shiftRound) {
        if (!drift || r < shiftRound) {
            return new SinusoidTasks();
        }
        float slow = 0.1f * (r - shiftRound); // radians of phase per round after the shift
        return new SinusoidTasks(1f, 5f, (float) Math.PI + slow, (float) (2 * Math.PI) + slow);
    }

    public static Report run(String scenario, Settings s, Learner learner) {
        boolean drift = scenario.equals("drift");
        if (!drift && !scenario.equals("stationary")) {
            throw new IllegalArgumentException("scenario is drift or stationary, not " + scenario);
        }
        int shiftRound = s.rounds() / 2;
        MetaTrainingPlan plan = plan(s.baseIterations(), s.seed());
        BaseModel frozen = train("frozen", new SinusoidTasks(), plan);
        BaseModel oracle = drift ? train("oracle", population(true, shiftRound, shiftRound), plan) : frozen;
        ContinualArm continual = new ContinualArm(frozen);

        Random users = new Random(s.seed() * 31 + 1);
        TaskBuffer buffer = new TaskBuffer(2000, s.samplesPerUser());
        Map<String, List<double[]>> postShift = new LinkedHashMap<>();
        for (String arm : List.of("frozen", "continual", "oracle")) {
            postShift.put(arm, new ArrayList<>());
        }
        long serial = 0;
        for (int r = 0; r < s.rounds(); r++) {
            SinusoidTasks population = population(drift, r, shiftRound);
            List<TaskBuffer.BufferedTask> arriving = new ArrayList<>();
            for (int u = 0; u < s.usersPerRound(); u++) {
                SampleSet samples = population.sampleTask(users).sample(users, s.samplesPerUser());
                arriving.add(new TaskBuffer.BufferedTask("r" + r + "u" + u, serial++, samples));
            }
            if (r >= shiftRound) {
                // Scored before anything trains on them: what a new user meets.
                postShift.get("frozen").addAll(List.of(Prequential.squaredErrors(learner, frozen, arriving, 11)));
                postShift.get("continual").addAll(List.of(Prequential.squaredErrors(learner, continual.base(), arriving, 11)));
                postShift.get("oracle").addAll(List.of(Prequential.squaredErrors(learner, oracle, arriving, 11)));
            }
            for (TaskBuffer.BufferedTask t : arriving) {
                for (int i = 0; i < t.samples().size(); i++) {
                    buffer.add(t.taskId(), t.samples().features()[i], t.samples().targets()[i]);
                }
            }
            continual.round(r, buffer, s.round(), s.seed() + r, learner, r >= shiftRound);
        }
        Map<String, Map<Integer, Evaluation.Estimate>> byShots = new LinkedHashMap<>();
        postShift.forEach((arm, rows) -> byShots.put(arm, Prequential.atShots(rows, SHOTS)));
        // Forgetting: fresh users of the original population, 5 shots, under each final base.
        Random pre = new Random(s.seed() * 17 + 3);
        List<TaskBuffer.BufferedTask> old = new ArrayList<>();
        for (int u = 0; u < 200; u++) {
            old.add(new TaskBuffer.BufferedTask("pre" + u, u,
                    new SinusoidTasks().sampleTask(pre).sample(pre, s.samplesPerUser())));
        }
        Map<String, Evaluation.Estimate> forgetting = new LinkedHashMap<>();
        forgetting.put("frozen", Prequential.atShots(Prequential.squaredErrors(learner, frozen, old, 11), 5));
        forgetting.put("continual", Prequential.atShots(Prequential.squaredErrors(learner, continual.base(), old, 11), 5));
        return new Report(scenario, byShots, continual.promotions(), continual.firstPromotion(), shiftRound, forgetting,
                continual.decisions());
    }

    /**
     * The plan of every arm's base: the paper's sinusoid plan, and the bases adapt with bounded
     * steps, without which a 1-shot adaptation now and then extrapolates by thousands in every
     * arm and the 1-shot figures are noise ({@link AdaptationSettings.InnerStep}).
     */
    public static MetaTrainingPlan plan(int iterations, long seed) {
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault().withIterations(iterations).withSeed(seed);
        return d.withAdaptation(d.adaptation().withInnerStep(AdaptationSettings.InnerStep.BOUNDED));
    }

    private static BaseModel train(String version, SinusoidTasks family, MetaTrainingPlan plan) {
        MetaTrainer.Algorithm reptile = MetaTrainer.Algorithm.REPTILE;
        MetaTrainer.Result r = new MetaTrainer(reptile, DjlRuntime.defaultDevice())
                .train(family, plan, (d, t, l) -> { });
        return new BaseModel(version, reptile.id(), plan.architecture(), r.parameters(), plan.adaptation());
    }
}

package io.metastream.training.continual;

import io.metastream.learn.BaseModel;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides whether a candidate base replaces the champion: both are scored prequentially on the
 * same held-out tasks (tasks the candidate did not train on) and compared task by task. The
 * candidate wins only if the upper end of the 95% confidence interval of the paired difference
 * (candidate minus champion, per-task prequential MSE, winsorised at 2.5% in each tail) lies below
 * {@code -margin} times the champion's error: better by the margin, and not by chance. The interval
 * is Student's t with n - 1 degrees of freedom over the n held-out tasks ({@link Evaluation.Estimate}):
 * the normal 1.96 would make it 13% too narrow at 10 tasks and 2.1 times too narrow at 3, and
 * promote a candidate on noise.
 */
public final class ChampionChallenger {
    private final Learner learner;
    private final int maxShots;
    private final double margin;
    private final int minTasks;

    /**
     * @param maxShots prequential shots scored per task (0 .. maxShots-1)
     * @param margin the relative improvement the candidate must show, e.g. 0.05 for 5%
     * @param minTasks fewer held-out tasks than this is no evidence: the candidate is refused
     */
    public ChampionChallenger(Learner learner, int maxShots, double margin, int minTasks) {
        if (maxShots < 1 || margin < 0 || minTasks < 2) {
            throw new IllegalArgumentException("maxShots >= 1, margin >= 0 and minTasks >= 2 needed");
        }
        this.learner = learner;
        this.maxShots = maxShots;
        this.margin = margin;
        this.minTasks = minTasks;
    }

    /** The figures of one comparison and its outcome. */
    public record Verdict(boolean promote, Evaluation.Estimate champion, Evaluation.Estimate challenger,
            Evaluation.Estimate difference, double margin, Map<Integer, Evaluation.Estimate[]> byShots,
            String reason) {
        /** The figures as plain values, for provenance and events. */
        public Map<String, Object> figures() {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("tasks", difference.tasks());
            out.put("champion_mse", champion.mean());
            out.put("champion_ci95", champion.ci95());
            out.put("challenger_mse", challenger.mean());
            out.put("challenger_ci95", challenger.ci95());
            out.put("difference", difference.mean());
            out.put("difference_ci95", difference.ci95());
            out.put("margin", margin);
            byShots.forEach((k, e) -> {
                out.put("champion_mse_" + k + "_shots", e[0].mean());
                out.put("challenger_mse_" + k + "_shots", e[1].mean());
            });
            return out;
        }
    }

    /**
     * {@code values} with those below the {@code tail} quantile raised to it and those above the
     * {@code 1 - tail} quantile lowered to it. A few-shot adaptation now and then extrapolates
     * wildly (squared errors of 1e4 and more among errors of 1, measured on the sinusoids); without
     * this one such task decides a round either way.
     */
    static double[] winsorised(double[] values, double tail) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int cut = (int) Math.floor(tail * sorted.length);
        double low = sorted[cut];
        double high = sorted[sorted.length - 1 - cut];
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Math.min(high, Math.max(low, values[i]));
        }
        return out;
    }

    public Verdict judge(BaseModel champion, BaseModel challenger, List<TaskBuffer.BufferedTask> heldOut) {
        double[][] a = Prequential.squaredErrors(learner, champion, heldOut, maxShots);
        double[][] b = Prequential.squaredErrors(learner, challenger, heldOut, maxShots);
        Map<Integer, Evaluation.Estimate[]> byShots = new LinkedHashMap<>();
        for (int k : new int[] {0, 1, 5, 10}) {
            if (k < maxShots) {
                byShots.put(k, new Evaluation.Estimate[] {Prequential.atShots(a, k), Prequential.atShots(b, k)});
            }
        }
        return decide(Prequential.perTask(a), Prequential.perTask(b), byShots);
    }

    /**
     * The decision on per-task errors of the champion ({@code perA}) and the candidate
     * ({@code perB}) over the same held-out tasks, in the same order.
     */
    Verdict decide(double[] perA, double[] perB, Map<Integer, Evaluation.Estimate[]> byShots) {
        double[] diff = new double[perA.length];
        for (int t = 0; t < diff.length; t++) {
            diff[t] = perB[t] - perA[t];
        }
        Evaluation.Estimate champ = Evaluation.Estimate.of(perA);
        Evaluation.Estimate chall = Evaluation.Estimate.of(perB);
        Evaluation.Estimate d = Evaluation.Estimate.of(winsorised(diff, 0.025));
        // Relative to the champion's winsorised mean, which one outlier cannot inflate.
        double bound = -margin * Evaluation.Estimate.of(winsorised(perA, 0.025)).mean();
        boolean enough = perA.length >= minTasks;
        boolean wins = enough && Double.isFinite(d.mean()) && d.mean() + d.ci95() < bound;
        String reason;
        if (!enough) {
            reason = "only " + perA.length + " held-out tasks, fewer than " + minTasks;
        } else if (wins) {
            reason = String.format("candidate MSE %.4f vs champion %.4f: difference %.4f +- %.4f (95%% t, %d tasks) "
                    + "is below -%.1f%% of the champion (%.4f)", chall.mean(), champ.mean(), d.mean(), d.ci95(),
                    d.tasks(), 100 * margin, bound);
        } else {
            reason = String.format("candidate MSE %.4f vs champion %.4f: difference %.4f +- %.4f (95%% t, %d tasks) "
                    + "does not clear -%.1f%% of the champion (%.4f)", chall.mean(), champ.mean(), d.mean(),
                    d.ci95(), d.tasks(), 100 * margin, bound);
        }
        return new Verdict(wins, champ, chall, d, margin, byShots, reason);
    }
}

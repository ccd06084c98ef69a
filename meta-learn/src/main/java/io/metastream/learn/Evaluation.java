package io.metastream.learn;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Scores a base on fresh tasks from a family: the query MSE of the unadapted base and of the base
 * adapted to each task's support set, as mean and 95% confidence half-width over tasks: the
 * Student-t interval with n - 1 degrees of freedom ({@link StudentT}). Finn et al. 2017 and Li et
 * al. 2017 report 1.96 standard errors, the normal approximation; over their 600 tasks the two
 * differ by 0.2%, but over the few held-out tasks of a continual round 1.96 is far too narrow
 * (13% at 10 tasks) and an automatic decision on it would accept noise.
 */
public final class Evaluation {
    private Evaluation() {
    }

    /**
     * A mean over tasks with its 95% confidence half-width.
     *
     * @param ci95 the half-width of the two-sided 95% Student-t interval, t(0.975, n - 1) standard
     *     errors; 0 for fewer than two values, whose spread is unknown (a decision must require more)
     */
    public record Estimate(double mean, double ci95, int tasks) {
        /** The mean of {@code values} and its Student-t interval. */
        public static Estimate of(double[] values) {
            int n = values.length;
            double sum = 0;
            for (double v : values) {
                sum += v;
            }
            double mean = sum / n;
            double sq = 0;
            for (double v : values) {
                sq += (v - mean) * (v - mean);
            }
            if (n < 2) {
                return new Estimate(mean, 0, n);
            }
            double sd = Math.sqrt(sq / (n - 1));
            return new Estimate(mean, StudentT.criticalValue(0.95, n) * sd / Math.sqrt(n), n);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%.4f ± %.4f (n=%d)", mean, ci95, tasks);
        }
    }

    /** The query metric (MSE, or accuracy for {@link #accuracy}) before and after adaptation. */
    public record Report(Estimate base, Estimate adapted) {
    }

    /**
     * Classification accuracy of {@code base} on {@code tasks} fresh N-way tasks of {@code family}
     * drawn with {@code seed}, whose targets are class indices: each task is adapted to its support
     * set and its queries classified ({@link Learner#classify}) over the classes its support set
     * shows (the largest index plus one); a query is right when its most likely class is its
     * target. Before adaptation the unadapted base answers ({@code null} states), or, for a learner
     * that has no answer without a support set (a protonet), the base estimate is NaN.
     *
     * @param shots and {@code querySize} as {@code family} reads them (per class, for an N-way family)
     */
    public static Report accuracy(Learner learner, BaseModel base, AdaptationSettings settings, TaskFamily family,
            int tasks, int shots, int querySize, long seed, int batchSize) {
        double[] baseAccuracy = new double[tasks];
        double[] adaptedAccuracy = new double[tasks];
        inBatches(learner, base, settings, family, tasks, shots, querySize, seed, batchSize, (from, batch) -> {
            int n = batch.supports().size();
            int[] classes = new int[n];
            for (int t = 0; t < n; t++) {
                for (float y : batch.supports().get(t).targets()) {
                    classes[t] = Math.max(classes[t], (int) y + 1);
                }
            }
            float[][][] after = learner.classify(base, batch.states(), batch.inputs(), classes);
            float[][][] before = learner.classify(base, batch.none(), batch.inputs(), classes);
            for (int t = 0; t < n; t++) {
                float[] targets = batch.queries().get(t).targets();
                adaptedAccuracy[from + t] = accuracy(after[t], targets);
                baseAccuracy[from + t] = before[t] == null ? Double.NaN : accuracy(before[t], targets);
            }
        });
        return new Report(Estimate.of(baseAccuracy), Estimate.of(adaptedAccuracy));
    }

    /** One batch of drawn tasks, adapted: their states, and as many null states (the base). */
    private record Batch(List<SampleSet> supports, List<SampleSet> queries, List<float[]> states, List<float[]> none,
            List<float[][]> inputs) {
    }

    /** Scores one adapted batch whose first task is task {@code from}. */
    private interface BatchScore {
        void score(int from, Batch batch);
    }

    /**
     * Draws {@code tasks} tasks with {@code seed} (the same seed, the same tasks), adapts them in
     * calls of {@code batchSize}, and hands each batch to {@code score}.
     */
    private static void inBatches(Learner learner, BaseModel base, AdaptationSettings settings, TaskFamily family,
            int tasks, int shots, int querySize, long seed, int batchSize, BatchScore score) {
        Random random = new Random(seed);
        for (int from = 0; from < tasks; from += batchSize) {
            int n = Math.min(batchSize, tasks - from);
            List<SampleSet> supports = new ArrayList<>(n);
            List<SampleSet> queries = new ArrayList<>(n);
            for (int t = 0; t < n; t++) {
                TaskFamily.Episode e = family.sample(random, shots, querySize);
                supports.add(e.support());
                queries.add(e.query());
            }
            AdaptedBatch adapted = learner.adapt(base, supports, settings);
            List<float[]> states = new ArrayList<>(n);
            List<float[]> none = new ArrayList<>(n);
            List<float[][]> inputs = new ArrayList<>(n);
            for (int t = 0; t < n; t++) {
                states.add(adapted.tasks().get(t).state());
                none.add(null);
                inputs.add(queries.get(t).features());
            }
            score.score(from, new Batch(supports, queries, states, none, inputs));
        }
    }

    /** The fraction of rows whose most likely class is the target. */
    static double accuracy(float[][] probabilities, float[] targets) {
        int right = 0;
        for (int i = 0; i < targets.length; i++) {
            if (ClassProbabilities.top(probabilities[i]) == (int) targets[i]) {
                right++;
            }
        }
        return (double) right / targets.length;
    }

    public static Report evaluate(Learner learner, BaseModel base, TaskFamily family, int tasks, int shots,
            int querySize, long seed, int batchSize) {
        return evaluate(learner, base, base.adaptation(), family, tasks, shots, querySize, seed, batchSize);
    }

    /**
     * Scores {@code base} adapted with {@code settings} (e.g. another number of inner steps) on
     * {@code tasks} fresh tasks drawn with {@code seed}; the same seed gives the same tasks.
     */
    public static Report evaluate(Learner learner, BaseModel base, AdaptationSettings settings, TaskFamily family,
            int tasks, int shots, int querySize, long seed, int batchSize) {
        double[] baseMse = new double[tasks];
        double[] adaptedMse = new double[tasks];
        inBatches(learner, base, settings, family, tasks, shots, querySize, seed, batchSize, (from, batch) -> {
            float[][] after = learner.predict(base, batch.states(), batch.inputs());
            float[][] before = learner.predict(base, batch.none(), batch.inputs());
            for (int t = 0; t < after.length; t++) {
                baseMse[from + t] = mse(before[t], batch.queries().get(t).targets());
                adaptedMse[from + t] = mse(after[t], batch.queries().get(t).targets());
            }
        });
        return new Report(Estimate.of(baseMse), Estimate.of(adaptedMse));
    }

    static double mse(float[] predicted, float[] targets) {
        double s = 0;
        for (int i = 0; i < targets.length; i++) {
            double d = predicted[i] - targets[i];
            s += d * d;
        }
        return s / targets.length;
    }
}

package io.metastream.data.records;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import io.metastream.learn.Loss;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskFamily.Episode;
import java.util.ArrayList;
import java.util.List;

/**
 * Held-out tasks scored the way the stream meets them: adapted on a task's first {@code k} rows,
 * predicting every row after. {@link Evaluation#evaluate} draws fresh episodes from a family and
 * scores squared error; held-out records are a fixed set of tasks, often with a logistic loss, so
 * they are scored here, with the same {@link Evaluation.Estimate}s.
 */
public final class HeldOutTasks {
    private HeldOutTasks() {
    }

    /**
     * For each task with more than {@code k} rows, in task order: its first {@code k} rows as the
     * support and all later rows as the query. Tasks with {@code k} rows or fewer are left out, so
     * a larger {@code k} may score fewer tasks.
     *
     * @throws IllegalArgumentException if {@code k < 1}
     */
    public static List<Episode> episodes(TaskRecords records, int k) {
        if (k < 1) {
            throw new IllegalArgumentException("k must be at least 1, got " + k);
        }
        List<Episode> out = new ArrayList<>();
        for (TaskRecords.Task t : records.tasks()) {
            if (t.size() > k) {
                out.add(new Episode(t.support(0, k), t.support(k, t.size())));
            }
        }
        return out;
    }

    /**
     * Each task's mean query loss, unadapted and adapted, in episode order: what {@link #score}
     * averages, kept per task so two bases can be compared on the same tasks.
     */
    public record TaskLosses(double[] base, double[] adapted) {
        /** Mean and 95% interval over tasks of both. */
        public Evaluation.Report report() {
            return new Evaluation.Report(Evaluation.Estimate.of(base), Evaluation.Estimate.of(adapted));
        }

        /**
         * The adapted loss minus {@code other}'s, paired by task: the interval for "is this base
         * better than that one on the same tasks", much narrower than two marginal intervals.
         *
         * @throws IllegalArgumentException if the two were scored on different numbers of tasks
         */
        public Evaluation.Estimate adaptedMinus(TaskLosses other) {
            if (other.adapted.length != adapted.length) {
                throw new IllegalArgumentException("scored on " + adapted.length + " and " + other.adapted.length
                        + " tasks");
            }
            double[] d = new double[adapted.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = adapted[i] - other.adapted[i];
            }
            return Evaluation.Estimate.of(d);
        }
    }

    /** {@link #losses} with the base's own adaptation settings, averaged over tasks. */
    public static Evaluation.Report score(Learner learner, BaseModel base, List<Episode> episodes, int batchSize) {
        return losses(learner, base, base.adaptation(), episodes, batchSize).report();
    }

    /** {@link #losses} averaged over tasks. */
    public static Evaluation.Report score(Learner learner, BaseModel base, AdaptationSettings settings,
            List<Episode> episodes, int batchSize) {
        return losses(learner, base, settings, episodes, batchSize).report();
    }

    /**
     * Each task's mean query loss (the base's loss on its linked prediction: log-loss for a
     * logistic base) with the unadapted base and with the base adapted with {@code settings} to the
     * task's support; adaptation in batches of {@code batchSize} tasks.
     *
     * @throws IllegalArgumentException if there are no episodes or {@code batchSize < 1}
     */
    public static TaskLosses losses(Learner learner, BaseModel base, AdaptationSettings settings,
            List<Episode> episodes, int batchSize) {
        if (episodes.isEmpty() || batchSize < 1) {
            throw new IllegalArgumentException("need episodes and a positive batch size, got " + episodes.size()
                    + " and " + batchSize);
        }
        Loss loss = base.adaptation().loss(); // the loss whose link the predictions went through
        double[] before = new double[episodes.size()];
        double[] after = new double[episodes.size()];
        for (int from = 0; from < episodes.size(); from += batchSize) {
            List<Episode> chunk = episodes.subList(from, Math.min(episodes.size(), from + batchSize));
            AdaptedBatch adapted = learner.adapt(base, chunk.stream().map(Episode::support).toList(), settings);
            List<float[]> states = new ArrayList<>(chunk.size());
            List<float[]> none = new ArrayList<>(chunk.size());
            List<float[][]> inputs = new ArrayList<>(chunk.size());
            for (int t = 0; t < chunk.size(); t++) {
                states.add(adapted.tasks().get(t).state());
                none.add(null);
                inputs.add(chunk.get(t).query().features());
            }
            float[][] adaptedPredictions = learner.predict(base, states, inputs);
            float[][] basePredictions = learner.predict(base, none, inputs);
            for (int t = 0; t < chunk.size(); t++) {
                SampleSet query = chunk.get(t).query();
                before[from + t] = meanLoss(loss, basePredictions[t], query.targets());
                after[from + t] = meanLoss(loss, adaptedPredictions[t], query.targets());
            }
        }
        return new TaskLosses(before, after);
    }

    private static double meanLoss(Loss loss, float[] predicted, float[] targets) {
        double s = 0;
        for (int i = 0; i < targets.length; i++) {
            s += loss.of(predicted[i], targets[i]);
        }
        return s / targets.length;
    }
}

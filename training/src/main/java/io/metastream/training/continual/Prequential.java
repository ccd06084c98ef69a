package io.metastream.training.continual;

import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import io.metastream.learn.SampleSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prequential (test-then-train) error of a base on whole tasks, as the stream meets a new user:
 * sample {@code k+1} of a task is predicted from the base adapted to its first {@code k} samples
 * (none for {@code k = 0}), for {@code k = 0 .. maxShots-1}, in the task's arrival order. Batched
 * over tasks for each {@code k}.
 */
public final class Prequential {
    private Prequential() {
    }

    /**
     * @return {@code errors[t][k]}: the squared error of task {@code t}'s sample {@code k+1} after
     *     {@code k} shots; {@code NaN} where the task has no such sample
     */
    public static double[][] squaredErrors(Learner learner, BaseModel base, List<TaskBuffer.BufferedTask> tasks,
            int maxShots) {
        double[][] errors = new double[tasks.size()][maxShots];
        for (double[] row : errors) {
            Arrays.fill(row, Double.NaN);
        }
        for (int k = 0; k < maxShots; k++) {
            List<Integer> index = new ArrayList<>();
            List<SampleSet> supports = new ArrayList<>();
            List<float[][]> next = new ArrayList<>();
            List<Float> truth = new ArrayList<>();
            for (int t = 0; t < tasks.size(); t++) {
                SampleSet all = tasks.get(t).samples();
                if (all.size() <= k) {
                    continue;
                }
                index.add(t);
                supports.add(new SampleSet(Arrays.copyOf(all.features(), k), Arrays.copyOf(all.targets(), k)));
                next.add(new float[][] {all.features()[k]});
                truth.add(all.targets()[k]);
            }
            if (index.isEmpty()) {
                break;
            }
            List<float[]> states = new ArrayList<>(index.size());
            if (k == 0) {
                index.forEach(i -> states.add(null));
            } else {
                AdaptedBatch adapted = learner.adapt(base, supports);
                adapted.tasks().forEach(a -> states.add(a.state()));
            }
            float[][] predicted = learner.predict(base, states, next);
            for (int j = 0; j < index.size(); j++) {
                double e = predicted[j][0] - truth.get(j);
                errors[index.get(j)][k] = e * e;
            }
        }
        return errors;
    }

    /** Each task's mean over the shots it has: the per-task score a paired comparison uses. */
    public static double[] perTask(double[][] errors) {
        double[] out = new double[errors.length];
        for (int t = 0; t < errors.length; t++) {
            double sum = 0;
            int n = 0;
            for (double e : errors[t]) {
                if (!Double.isNaN(e)) {
                    sum += e;
                    n++;
                }
            }
            out[t] = n == 0 ? Double.NaN : sum / n;
        }
        return out;
    }

    /** {@link #atShots(double[][], int)} for each of {@code shots}, in that order. */
    public static Map<Integer, Evaluation.Estimate> atShots(List<double[]> errors, int... shots) {
        double[][] rows = errors.toArray(new double[0][]);
        Map<Integer, Evaluation.Estimate> out = new LinkedHashMap<>();
        for (int k : shots) {
            out.put(k, atShots(rows, k));
        }
        return out;
    }

    /** The mean squared error after {@code k} shots over the tasks that have that sample, with its 95% CI. */
    public static Evaluation.Estimate atShots(double[][] errors, int k) {
        return Evaluation.Estimate.of(Arrays.stream(errors).mapToDouble(row -> row[k]).filter(e -> !Double.isNaN(e))
                .toArray());
    }
}

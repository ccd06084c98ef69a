package io.metastream.training.continual;

import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskFamily;
import java.util.List;
import java.util.Random;

/**
 * Meta-training episodes drawn from tasks seen on the stream: a random task, its samples shuffled,
 * the first {@code supportSize} (at most all but one) as support and up to {@code querySize} of
 * the rest as query. Tasks of different sizes give episodes of different sizes, which the
 * trainers' padded batches take as they are.
 */
public final class BufferedTaskFamily implements TaskFamily {
    private final List<TaskBuffer.BufferedTask> tasks;
    private final int inputDim;
    private final String id;

    public BufferedTaskFamily(List<TaskBuffer.BufferedTask> tasks, int inputDim, String id) {
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("no tasks to meta-train on");
        }
        for (TaskBuffer.BufferedTask t : tasks) {
            if (t.samples().size() < 2) {
                throw new IllegalArgumentException("task " + t.taskId() + " has fewer than 2 samples");
            }
            if (t.samples().features()[0].length != inputDim) {
                throw new IllegalArgumentException("task " + t.taskId() + " has " + t.samples().features()[0].length
                        + " features, not " + inputDim);
            }
        }
        this.tasks = List.copyOf(tasks);
        this.inputDim = inputDim;
        this.id = id;
    }

    @Override
    public Episode sample(Random random, int supportSize, int querySize) {
        SampleSet all = tasks.get(random.nextInt(tasks.size())).samples();
        int n = all.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int k = Math.min(supportSize, n - 1);
        int q = Math.min(querySize, n - k);
        return new Episode(pick(all, order, 0, k), pick(all, order, k, q));
    }

    private static SampleSet pick(SampleSet all, int[] order, int from, int count) {
        float[][] x = new float[count][];
        float[] y = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = all.features()[order[from + i]];
            y[i] = all.targets()[order[from + i]];
        }
        return new SampleSet(x, y);
    }

    @Override
    public int inputDim() {
        return inputDim;
    }

    @Override
    public String id() {
        return id;
    }
}

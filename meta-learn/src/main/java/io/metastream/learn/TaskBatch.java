package io.metastream.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/**
 * Support (or query) sets of many tasks padded to one block: {@code x [T, K, d]},
 * {@code y [T, K, 1]} and per-row weights {@code w [T, K, 1]} that are {@code 1/(n_t + prior)} on a
 * task's {@code n_t} real rows and 0 on padding, so tasks of different sizes share one batched
 * call and padding never moves a gradient ({@link AdaptationSettings#supportPrior()}).
 */
final class TaskBatch {
    final NDArray x;
    final NDArray y;
    final NDArray w;
    final int tasks;

    private TaskBatch(NDArray x, NDArray y, NDArray w, int tasks) {
        this.x = x;
        this.y = y;
        this.w = w;
        this.tasks = tasks;
    }

    /** Rows weighted by {@code 1/n_t}: each task's loss is its mean. */
    static TaskBatch of(NDManager manager, List<SampleSet> sets, int inputDim) {
        return of(manager, sets, inputDim, 0f);
    }

    /**
     * @throws IllegalArgumentException if a feature vector's length is not {@code inputDim}
     */
    static TaskBatch of(NDManager manager, List<SampleSet> sets, int inputDim, float prior) {
        int tasks = sets.size();
        int rows = 1;
        for (SampleSet s : sets) {
            rows = Math.max(rows, s.size());
        }
        float[] x = new float[tasks * rows * inputDim];
        float[] y = new float[tasks * rows];
        float[] w = new float[tasks * rows];
        for (int t = 0; t < tasks; t++) {
            SampleSet s = sets.get(t);
            int n = s.size();
            for (int k = 0; k < n; k++) {
                float[] f = s.features()[k];
                if (f.length != inputDim) {
                    throw new IllegalArgumentException("task " + t + " row " + k + " has " + f.length
                            + " features, the model expects " + inputDim);
                }
                System.arraycopy(f, 0, x, (t * rows + k) * inputDim, inputDim);
                y[t * rows + k] = s.targets()[k];
                w[t * rows + k] = 1f / (n + prior);
            }
        }
        return new TaskBatch(
                manager.create(x, new Shape(tasks, rows, inputDim)),
                manager.create(y, new Shape(tasks, rows, 1)),
                manager.create(w, new Shape(tasks, rows, 1)),
                tasks);
    }
}

package io.metastream.learn.omniglot;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * The prototypical-network rule of Snell, Swersky and Zemel 2017, batched over tasks: a class's
 * prototype is the mean of its support embeddings, and a query's logits are the negative squared
 * Euclidean distances to the prototypes (their equations 1 and 2). No scalar operands appear, so
 * every op is safe for autograd (see docs/ARCHITECTURE.md on scalar tensors).
 */
public final class PrototypeMath {
    private PrototypeMath() {
    }

    /**
     * @param support {@code [tasks, ways * shots, dim]}, class-major
     * @return {@code [tasks, ways, dim]}, the per-class means
     */
    public static NDArray prototypes(NDArray support, int ways, int shots) {
        Shape s = support.getShape();
        if (s.dimension() != 3 || s.get(1) != (long) ways * shots) {
            throw new IllegalArgumentException("support must be [tasks, " + ways + " * " + shots + ", dim], got " + s);
        }
        return support.reshape(s.get(0), ways, shots, s.get(2)).mean(new int[] {2});
    }

    /**
     * @param query {@code [tasks, m, dim]}
     * @param prototypes {@code [tasks, ways, dim]}
     * @return {@code [tasks, m, ways]}: minus the squared distance of each query to each prototype
     */
    public static NDArray logits(NDArray query, NDArray prototypes) {
        NDArray diff = query.expandDims(2).sub(prototypes.expandDims(1));
        return diff.mul(diff).sum(new int[] {3}).neg();
    }

    /**
     * Mean cross-entropy of the softmax over {@code logits} against class-major labels (query
     * {@code i} belongs to class {@code i / perClass}).
     *
     * @param oneHot {@code [tasks, m, ways]} one-hot labels
     */
    public static NDArray loss(NDArray logits, NDArray oneHot) {
        return logits.logSoftmax(2).mul(oneHot).sum(new int[] {2}).mean().neg();
    }

    /**
     * One-hot rows for class-major queries, the labels {@link #loss} takes: row {@code i} marks
     * class {@code i / perClass}.
     */
    public static float[] oneHot(int ways, int perClass) {
        float[] y = new float[ways * perClass * ways];
        for (int i = 0; i < ways * perClass; i++) {
            y[i * ways + i / perClass] = 1;
        }
        return y;
    }

    /** Per task, the fraction of queries whose nearest prototype is their own class. */
    public static float[] accuracy(NDArray logits, int perClass) {
        Shape s = logits.getShape();
        long[] predicted = logits.argMax(2).toLongArray();
        int m = (int) s.get(1);
        float[] acc = new float[(int) s.get(0)];
        for (int t = 0; t < acc.length; t++) {
            int hits = 0;
            for (int i = 0; i < m; i++) {
                hits += predicted[t * m + i] == i / perClass ? 1 : 0;
            }
            acc[t] = (float) hits / m;
        }
        return acc;
    }
}

package io.metastream.bench;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.Finite;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.SampleSet;
import java.util.Arrays;

/**
 * The plain-Java baseline: the adaptation {@code GradientLearner} runs (weighted-MSE loss before,
 * {@code steps} SGD steps with hand-written backpropagation through ReLU layers, loss after, keep
 * the base if the loss got worse or anything overflowed), one task at a time in float loops on the heap. Same parameter
 * layout as {@link MlpArchitecture}: per layer {@code W [in, out]} row-major, then {@code b [out]}.
 * Not thread-safe: it reuses its work arrays between calls.
 */
final class PlainJavaMlp {
    private final int[] layers;
    private final int depth;
    private final int[] weightOffset;
    private final int[] biasOffset;
    private final int parameterCount;
    private final int maxWidth;
    private int capacity;
    /** {@code acts[l]} is layer l's input (post-ReLU) {@code [K, layers[l]]}; {@code acts[depth]} the output. */
    private float[][] acts;
    private float[] delta;
    private float[] deltaPrev;
    private float[] grad;

    PlainJavaMlp(MlpArchitecture arch) {
        this.layers = arch.layers();
        this.depth = arch.depth();
        this.weightOffset = new int[depth];
        this.biasOffset = new int[depth];
        int offset = 0;
        int widest = 0;
        for (int l = 0; l < depth; l++) {
            weightOffset[l] = offset;
            offset += layers[l] * layers[l + 1];
            biasOffset[l] = offset;
            offset += layers[l + 1];
            widest = Math.max(widest, Math.max(layers[l], layers[l + 1]));
        }
        this.parameterCount = offset;
        this.maxWidth = widest;
        this.grad = new float[offset];
        ensureCapacity(1);
    }

    /** The result of one adaptation, as {@code GradientLearner} reports it. */
    record Adapted(float[] state, float lossBefore, float lossAfter, boolean fellBack) {
    }

    /** Adapts {@code base} to {@code support}; {@code base} is not modified. */
    Adapted adapt(float[] base, SampleSet support, AdaptationSettings settings) {
        if (base.length != parameterCount) {
            throw new IllegalArgumentException("expected " + parameterCount + " parameters, got " + base.length);
        }
        int k = support.size();
        ensureCapacity(k);
        loadInputs(support);
        float before = forward(base, k, support.targets());
        float[] phi = base.clone();
        for (int s = 0; s < settings.steps(); s++) {
            if (s > 0) {
                forward(phi, k, support.targets());
            }
            step(phi, k, support.targets(), settings.stepSize());
        }
        float after = settings.steps() == 0 ? before : forward(phi, k, support.targets());
        // GradientLearner's rule: also fall back when the loss or the weights overflowed.
        boolean worse = !(after <= before) || !Float.isFinite(after) || !Finite.all(phi);
        return new Adapted(worse ? base.clone() : phi, before, worse ? before : after, worse);
    }

    private void ensureCapacity(int rows) {
        if (rows <= capacity) {
            return;
        }
        capacity = rows;
        acts = new float[depth + 1][];
        for (int l = 0; l <= depth; l++) {
            acts[l] = new float[rows * layers[l]];
        }
        delta = new float[rows * maxWidth];
        deltaPrev = new float[rows * maxWidth];
    }

    private void loadInputs(SampleSet support) {
        int d = layers[0];
        float[][] features = support.features();
        for (int r = 0; r < features.length; r++) {
            if (features[r].length != d) {
                throw new IllegalArgumentException("row " + r + " has " + features[r].length + " features, expected " + d);
            }
            System.arraycopy(features[r], 0, acts[0], r * d, d);
        }
    }

    /** Forward pass over the {@code k} rows in {@code acts[0]}, filling {@code acts}; returns the mean squared error. */
    private float forward(float[] p, int k, float[] targets) {
        for (int l = 0; l < depth; l++) {
            int in = layers[l];
            int out = layers[l + 1];
            float[] a = acts[l];
            float[] z = acts[l + 1];
            int wo = weightOffset[l];
            int bo = biasOffset[l];
            boolean relu = l < depth - 1;
            for (int r = 0; r < k; r++) {
                int zr = r * out;
                System.arraycopy(p, bo, z, zr, out);
                for (int i = 0; i < in; i++) {
                    float ai = a[r * in + i];
                    int wi = wo + i * out;
                    for (int j = 0; j < out; j++) {
                        z[zr + j] += ai * p[wi + j];
                    }
                }
                if (relu) {
                    for (int j = 0; j < out; j++) {
                        z[zr + j] = Math.max(z[zr + j], 0f);
                    }
                }
            }
        }
        int out = layers[depth];
        float[] y = acts[depth];
        float loss = 0f;
        float w = 1f / k;
        for (int r = 0; r < k; r++) {
            for (int j = 0; j < out; j++) {
                float e = y[r * out + j] - targets[r];
                loss += w * e * e;
            }
        }
        return loss;
    }

    /** One SGD step on {@code p} in place, from the activations of the preceding {@link #forward}. */
    private void step(float[] p, int k, float[] targets, float stepSize) {
        int out = layers[depth];
        float[] y = acts[depth];
        float scale = 2f / k;
        for (int r = 0; r < k; r++) {
            for (int j = 0; j < out; j++) {
                delta[r * out + j] = scale * (y[r * out + j] - targets[r]);
            }
        }
        Arrays.fill(grad, 0f);
        for (int l = depth - 1; l >= 0; l--) {
            int in = layers[l];
            int o = layers[l + 1];
            float[] a = acts[l];
            int wo = weightOffset[l];
            int bo = biasOffset[l];
            for (int r = 0; r < k; r++) {
                int dr = r * o;
                for (int i = 0; i < in; i++) {
                    float ai = a[r * in + i];
                    int wi = wo + i * o;
                    for (int j = 0; j < o; j++) {
                        grad[wi + j] += ai * delta[dr + j];
                    }
                }
                for (int j = 0; j < o; j++) {
                    grad[bo + j] += delta[dr + j];
                }
            }
            if (l > 0) {
                // Back through W_l (before its update) and the ReLU that produced a = acts[l].
                for (int r = 0; r < k; r++) {
                    int dr = r * o;
                    for (int i = 0; i < in; i++) {
                        float s = 0f;
                        if (a[r * in + i] > 0f) {
                            int wi = wo + i * o;
                            for (int j = 0; j < o; j++) {
                                s += delta[dr + j] * p[wi + j];
                            }
                        }
                        deltaPrev[r * in + i] = s;
                    }
                }
                float[] t = delta;
                delta = deltaPrev;
                deltaPrev = t;
            }
        }
        for (int i = 0; i < parameterCount; i++) {
            p[i] -= stepSize * grad[i];
        }
    }
}

package io.metastream.learn;

/**
 * The reference for every gradient test: the MLP in double precision and plain Java loops,
 * following the {@link MlpArchitecture} layout, with its own backpropagation and inner loop.
 */
public final class PlainMlp {
    private final int[] layers;

    PlainMlp(MlpArchitecture arch) {
        this.layers = arch.layers();
    }

    public static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    double forward(double[] p, float[] x) {
        return forwardAll(p, toDouble(x))[layers.length - 1][0];
    }

    /** Every output of the network (the last layer is linear). */
    double[] outputs(double[] p, double[] x) {
        return forwardAll(p, x)[layers.length - 1];
    }

    /** Activations of every layer, the input first and the (linear) output last. */
    private double[][] forwardAll(double[] p, double[] x) {
        double[][] acts = new double[layers.length][];
        acts[0] = x.clone();
        int off = 0;
        for (int l = 0; l < layers.length - 1; l++) {
            int in = layers[l];
            int out = layers[l + 1];
            double[] z = new double[out];
            for (int j = 0; j < out; j++) {
                double s = p[off + in * out + j];
                for (int k = 0; k < in; k++) {
                    s += acts[l][k] * p[off + k * out + j];
                }
                z[j] = l < layers.length - 2 ? Math.max(0, s) : s;
            }
            off += in * out + out;
            acts[l + 1] = z;
        }
        return acts;
    }

    /** Mean squared error of {@code p} on a set. */
    double loss(double[] p, SampleSet s) {
        return loss(p, s, Loss.MSE);
    }

    /**
     * Mean loss of {@code p} on a set: squared error, or for {@link Loss#CROSS_ENTROPY} minus the
     * log of the softmax of the outputs at the target's class index.
     */
    double loss(double[] p, SampleSet s, Loss loss) {
        double sum = 0;
        for (int n = 0; n < s.size(); n++) {
            double[] z = outputs(p, toDouble(s.features()[n]));
            if (loss == Loss.CROSS_ENTROPY) {
                sum -= logSoftmax(z)[(int) s.targets()[n]];
            } else {
                double d = z[0] - s.targets()[n];
                sum += d * d;
            }
        }
        return sum / s.size();
    }

    /** {@code log(softmax(z))}, shifted by the maximum. */
    static double[] logSoftmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : z) {
            sum += Math.exp(v - max);
        }
        double[] out = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            out[i] = z[i] - max - Math.log(sum);
        }
        return out;
    }

    /** Gradient of {@link #loss} by backpropagation. */
    double[] gradient(double[] p, SampleSet s) {
        return gradient(p, s, Loss.MSE);
    }

    /**
     * Gradient of {@link #loss(double[], SampleSet, Loss)} by backpropagation: the output error is
     * {@code 2 (z - y)} for the squared error, {@code softmax(z) - onehot(y)} for cross-entropy.
     */
    double[] gradient(double[] p, SampleSet s, Loss loss) {
        double[] g = new double[p.length];
        int[] offsets = new int[layers.length - 1];
        for (int l = 1; l < offsets.length; l++) {
            offsets[l] = offsets[l - 1] + layers[l - 1] * layers[l] + layers[l];
        }
        for (int n = 0; n < s.size(); n++) {
            double[][] acts = forwardAll(p, toDouble(s.features()[n]));
            double[] z = acts[layers.length - 1];
            double[] delta;
            if (loss == Loss.CROSS_ENTROPY) {
                double[] logP = logSoftmax(z);
                delta = new double[z.length];
                for (int c = 0; c < z.length; c++) {
                    delta[c] = (Math.exp(logP[c]) - (c == (int) s.targets()[n] ? 1 : 0)) / s.size();
                }
            } else {
                delta = new double[] {2 * (z[0] - s.targets()[n]) / s.size()};
            }
            for (int l = layers.length - 2; l >= 0; l--) {
                int in = layers[l];
                int out = layers[l + 1];
                int off = offsets[l];
                double[] prev = new double[in];
                for (int j = 0; j < out; j++) {
                    g[off + in * out + j] += delta[j];
                    for (int k = 0; k < in; k++) {
                        g[off + k * out + j] += acts[l][k] * delta[j];
                        prev[k] += p[off + k * out + j] * delta[j];
                    }
                }
                if (l > 0) {
                    for (int k = 0; k < in; k++) {
                        prev[k] = acts[l][k] > 0 ? prev[k] : 0;
                    }
                }
                delta = prev;
            }
        }
        return g;
    }

    /** {@code steps} steps of {@code phi = phi - alpha * grad} on the support set. */
    double[] adapt(double[] theta, double[] alpha, SampleSet support, int steps) {
        return adapt(theta, alpha, support, steps, Loss.MSE);
    }

    /** {@code steps} steps of {@code phi = phi - alpha * grad} on the support set's {@code loss}. */
    double[] adapt(double[] theta, double[] alpha, SampleSet support, int steps, Loss loss) {
        double[] phi = theta.clone();
        for (int s = 0; s < steps; s++) {
            double[] g = gradient(phi, support, loss);
            for (int i = 0; i < phi.length; i++) {
                phi[i] -= alpha[i] * g[i];
            }
        }
        return phi;
    }

    /** The MAML objective of one task: query loss after adapting to the support set. */
    double metaLoss(double[] theta, double[] alpha, SampleSet support, SampleSet query, int steps) {
        return metaLoss(theta, alpha, support, query, steps, Loss.MSE);
    }

    /** The MAML objective of one task with {@code loss} in both loops. */
    double metaLoss(double[] theta, double[] alpha, SampleSet support, SampleSet query, int steps, Loss loss) {
        return loss(adapt(theta, alpha, support, steps, loss), query, loss);
    }
}

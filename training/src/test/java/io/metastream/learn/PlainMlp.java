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
        double sum = 0;
        for (int n = 0; n < s.size(); n++) {
            double d = forward(p, s.features()[n]) - s.targets()[n];
            sum += d * d;
        }
        return sum / s.size();
    }

    /** Gradient of {@link #loss} by backpropagation. */
    double[] gradient(double[] p, SampleSet s) {
        double[] g = new double[p.length];
        int[] offsets = new int[layers.length - 1];
        for (int l = 1; l < offsets.length; l++) {
            offsets[l] = offsets[l - 1] + layers[l - 1] * layers[l] + layers[l];
        }
        for (int n = 0; n < s.size(); n++) {
            double[][] acts = forwardAll(p, toDouble(s.features()[n]));
            double[] delta = {2 * (acts[layers.length - 1][0] - s.targets()[n]) / s.size()};
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
        double[] phi = theta.clone();
        for (int s = 0; s < steps; s++) {
            double[] g = gradient(phi, support);
            for (int i = 0; i < phi.length; i++) {
                phi[i] -= alpha[i] * g[i];
            }
        }
        return phi;
    }

    /** The MAML objective of one task: query loss after adapting to the support set. */
    double metaLoss(double[] theta, double[] alpha, SampleSet support, SampleSet query, int steps) {
        return loss(adapt(theta, alpha, support, steps), query);
    }
}

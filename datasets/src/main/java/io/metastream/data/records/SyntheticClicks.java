package io.metastream.data.records;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Click-through tasks for trying the records path and for its tests: users share a preference
 * vector up to noise but differ in their base rate (logit bias with standard deviation 3) and in
 * their weight along one hidden direction, so what a user's first clicks tell is their bias and
 * that one weight. Features are Gaussian with variance {@code 4 / dim}; targets are 0/1 clicks;
 * each user has 20 to 40 rows a minute apart. A {@link Population} is one draw of the shared
 * vectors, so training users and later users come from the same family.
 */
public final class SyntheticClicks {
    private SyntheticClicks() {
    }

    /** The shared part of a population: its preference vector and hidden direction. */
    public static final class Population {
        private final int dim;
        private final double[] w0;
        private final double[] direction;

        public Population(int dim, long seed) {
            Random r = new Random(seed);
            this.dim = dim;
            this.w0 = gaussian(r, dim, 1);
            this.direction = gaussian(r, dim, 1);
        }

        public int dim() {
            return dim;
        }

        /**
         * {@code tasks} users named {@code <prefix>0, <prefix>1, ...}, rows in time order from
         * {@code startMs}, one minute apart.
         */
        public List<TaskRecords.Row> users(String prefix, int tasks, long seed, long startMs) {
            Random r = new Random(seed);
            List<TaskRecords.Row> rows = new ArrayList<>();
            for (int t = 0; t < tasks; t++) {
                double[] w = gaussian(r, dim, 0.3);
                double along = r.nextGaussian();
                double b = 3 * r.nextGaussian();
                int n = 20 + r.nextInt(21);
                for (int i = 0; i < n; i++) {
                    float[] x = new float[dim];
                    double z = b;
                    for (int d = 0; d < dim; d++) {
                        x[d] = (float) (2 * r.nextGaussian() / Math.sqrt(dim));
                        z += (w0[d] + w[d] + along * direction[d]) * x[d];
                    }
                    float y = r.nextDouble() < 1 / (1 + Math.exp(-z)) ? 1f : 0f;
                    rows.add(new TaskRecords.Row(prefix + t, x, y, startMs + 60_000L * i));
                }
            }
            return rows;
        }
    }

    private static double[] gaussian(Random r, int n, double sd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * sd;
        }
        return v;
    }
}

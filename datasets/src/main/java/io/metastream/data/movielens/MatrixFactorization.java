package io.metastream.data.movielens;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The matrix-factorisation peer of the cold-start comparison: {@code y ~ mu + b_i + b_u + q_i . p_u}
 * fitted by alternating least squares on the meta-train users' targets (Koren, Bell and Volinsky,
 * "Matrix Factorization Techniques for Recommender Systems", IEEE Computer 2009), then, for a cold
 * user, the user's bias and vector fitted online to their support by Bayesian linear regression
 * with the item side fixed: the prior is the meta-train users' mean and per-dimension variance,
 * the noise the training residual variance. With no support the prediction is the mean user's.
 * It is the strongest simple peer of a meta-learned model: item features learned from all warm
 * users, and a user model fitted to a handful of ratings.
 */
public final class MatrixFactorization {
    /** Latent dimensions. */
    public static final int FACTORS = 10;
    /** Ridge on the parameters during ALS (per rating-weighted solve). */
    static final double REGULARISATION = 5;
    static final int ITERATIONS = 12;

    private final double mu;
    private final Map<Integer, double[]> items;
    private final double[] priorMean;
    private final double[] priorVariance;
    private final double noiseVariance;

    private MatrixFactorization(double mu, Map<Integer, double[]> items, double[] priorMean, double[] priorVariance,
            double noiseVariance) {
        this.mu = mu;
        this.items = items;
        this.priorMean = priorMean;
        this.priorVariance = priorVariance;
        this.noiseVariance = noiseVariance;
    }

    /** Fits on every rating of the meta-train users of {@code split}, as {@code target} values. */
    public static MatrixFactorization fit(ColdStartSplit split, RatingTarget target, long seed) {
        List<MovieLens.Rating> all = split.trainRatings();
        Map<Integer, Integer> userIndex = new HashMap<>();
        Map<Integer, Integer> itemIndex = new HashMap<>();
        for (MovieLens.Rating r : all) {
            userIndex.putIfAbsent(r.user(), userIndex.size());
            itemIndex.putIfAbsent(r.item(), itemIndex.size());
        }
        int n = all.size();
        int[] u = new int[n];
        int[] i = new int[n];
        double[] y = new double[n];
        double mu = 0;
        for (int k = 0; k < n; k++) {
            MovieLens.Rating r = all.get(k);
            u[k] = userIndex.get(r.user());
            i[k] = itemIndex.get(r.item());
            y[k] = target.of(r.rating());
            mu += y[k];
        }
        mu /= Math.max(1, n);
        List<List<Integer>> byUser = groups(u, userIndex.size());
        List<List<Integer>> byItem = groups(i, itemIndex.size());
        // Row layout: FACTORS latent values, then the bias.
        Random random = new Random(seed);
        double[][] users = init(userIndex.size(), random);
        double[][] itemRows = init(itemIndex.size(), random);
        for (int it = 0; it < ITERATIONS; it++) {
            solve(users, itemRows, byUser, i, y, mu);
            solve(itemRows, users, byItem, u, y, mu);
        }
        Map<Integer, double[]> items = new HashMap<>();
        itemIndex.forEach((item, k) -> items.put(item, itemRows[k]));
        double[] mean = new double[FACTORS + 1];
        double[] variance = new double[FACTORS + 1];
        for (double[] p : users) {
            for (int d = 0; d <= FACTORS; d++) {
                mean[d] += p[d] / users.length;
            }
        }
        for (double[] p : users) {
            for (int d = 0; d <= FACTORS; d++) {
                variance[d] += (p[d] - mean[d]) * (p[d] - mean[d]) / users.length;
            }
        }
        double sse = 0;
        for (int k = 0; k < n; k++) {
            double e = y[k] - dot(users[u[k]], itemRows[i[k]], mu);
            sse += e * e;
        }
        return new MatrixFactorization(mu, items, mean, variance, Math.max(1e-3, sse / Math.max(1, n)));
    }

    private static List<List<Integer>> groups(int[] index, int size) {
        List<List<Integer>> out = new ArrayList<>(size);
        for (int k = 0; k < size; k++) {
            out.add(new ArrayList<>());
        }
        for (int k = 0; k < index.length; k++) {
            out.get(index[k]).add(k);
        }
        return out;
    }

    private static double[][] init(int rows, Random random) {
        double[][] out = new double[rows][FACTORS + 1];
        for (double[] r : out) {
            for (int d = 0; d < FACTORS; d++) {
                r[d] = random.nextGaussian() * 0.1;
            }
        }
        return out;
    }

    /** {@code mu + b_i + b_u + q_i . p_u} for a user row and an item row. */
    private static double dot(double[] user, double[] item, double mu) {
        double s = mu + user[FACTORS] + item[FACTORS];
        for (int d = 0; d < FACTORS; d++) {
            s += user[d] * item[d];
        }
        return s;
    }

    /** One ALS half-step: each row of {@code rows} by ridge regression on the fixed {@code other}. */
    private static void solve(double[][] rows, double[][] other, List<List<Integer>> groups, int[] otherIndex,
            double[] y, double mu) {
        int dim = FACTORS + 1;
        for (int r = 0; r < rows.length; r++) {
            double[][] a = new double[dim][dim];
            double[] b = new double[dim];
            for (int k : groups.get(r)) {
                double[] o = other[otherIndex[k]];
                double[] x = features(o);
                double target = y[k] - mu - o[FACTORS];
                accumulate(a, b, x, target, 1);
            }
            for (int d = 0; d < dim; d++) {
                a[d][d] += REGULARISATION;
            }
            rows[r] = Linear.solve(a, b);
        }
    }

    /** The regression inputs a row is fitted on: the other side's factors, and 1 for the bias. */
    private static double[] features(double[] other) {
        double[] x = new double[FACTORS + 1];
        System.arraycopy(other, 0, x, 0, FACTORS);
        x[FACTORS] = 1;
        return x;
    }

    private static void accumulate(double[][] a, double[] b, double[] x, double target, double weight) {
        for (int p = 0; p < x.length; p++) {
            b[p] += weight * x[p] * target;
            for (int q = 0; q < x.length; q++) {
                a[p][q] += weight * x[p] * x[q];
            }
        }
    }

    /** The user's row fitted to {@code support} (posterior mean), the prior mean when it is empty. */
    public double[] fitUser(List<MovieLens.Rating> support, RatingTarget target) {
        int dim = FACTORS + 1;
        double[][] a = new double[dim][dim];
        double[] b = new double[dim];
        for (int d = 0; d < dim; d++) {
            a[d][d] = 1 / Math.max(1e-6, priorVariance[d]);
            b[d] = priorMean[d] / Math.max(1e-6, priorVariance[d]);
        }
        for (MovieLens.Rating r : support) {
            double[] item = items.get(r.item());
            if (item == null) {
                continue;
            }
            accumulate(a, b, features(item), target.of(r.rating()) - mu - item[FACTORS], 1 / noiseVariance);
        }
        return Linear.solve(a, b);
    }

    /** The prediction for {@code item} of a user whose row {@link #fitUser} returned. */
    public double predict(double[] user, int item) {
        double[] row = items.get(item);
        return row == null ? mu + user[FACTORS] : dot(user, row, mu);
    }

    /** Small dense solves. */
    static final class Linear {
        private Linear() {
        }

        /** {@code a x = b} by Gaussian elimination with partial pivoting; {@code a} is symmetric positive definite here. */
        static double[] solve(double[][] a, double[] b) {
            int n = b.length;
            double[][] m = new double[n][n + 1];
            for (int r = 0; r < n; r++) {
                System.arraycopy(a[r], 0, m[r], 0, n);
                m[r][n] = b[r];
            }
            for (int c = 0; c < n; c++) {
                int pivot = c;
                for (int r = c + 1; r < n; r++) {
                    if (Math.abs(m[r][c]) > Math.abs(m[pivot][c])) {
                        pivot = r;
                    }
                }
                double[] t = m[c];
                m[c] = m[pivot];
                m[pivot] = t;
                for (int r = c + 1; r < n; r++) {
                    double f = m[r][c] / m[c][c];
                    for (int k = c; k <= n; k++) {
                        m[r][k] -= f * m[c][k];
                    }
                }
            }
            double[] x = new double[n];
            for (int r = n - 1; r >= 0; r--) {
                double s = m[r][n];
                for (int k = r + 1; k < n; k++) {
                    s -= m[r][k] * x[k];
                }
                x[r] = s / m[r][r];
            }
            return x;
        }
    }
}

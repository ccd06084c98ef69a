package io.metastream.data.movielens;

import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import io.metastream.learn.Loss;
import io.metastream.learn.SampleSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Scores predictors on cold users, each user a case of support ratings (what they rated so far)
 * and query ratings (what to predict). For the {@link RatingTarget#RATING rating} target: MAE and
 * RMSE over each user's query items and the nDCG@3 of ranking them by the prediction (MeLU, Lee et
 * al. 2019, section 4.2, reports the same three); for the {@link RatingTarget#BINARY binary}
 * target: log-loss, the AUC of ranking the user's positives above their negatives, and nDCG@3 with
 * the 0/1 gains. Each metric is averaged over users with a 95% confidence interval; AUC and the
 * binary nDCG over the users whose query has both classes (AUC) or a positive (nDCG). All methods
 * run on the same cases, and predictions are clamped to the target's scale.
 */
public final class ColdStartEvaluation {
    /** Pseudo-ratings at zero bias added to a user's residuals, so one rating moves the bias a little. */
    static final double USER_BIAS_SHRINKAGE = 5;
    /** Pseudo-ratings at zero offset added to a user's residuals on each genre. */
    static final double GENRE_SHRINKAGE = 10;
    private static final int CHUNK = 256;

    /** The predictors, baselines first. */
    public enum Method {
        GLOBAL_MEAN("global mean"),
        ITEM_MEAN("item mean"),
        ITEM_MEDIAN("item median"),
        ITEM_MEAN_USER_BIAS("item mean + online user bias"),
        POPULARITY_GENRE("item mean + online genre taste"),
        MATRIX_FACTORISATION("matrix factorisation, user fitted online"),
        BASE_UNADAPTED("meta-learned base, unadapted"),
        POOLED_FINE_TUNED("pooled pre-training + fine-tuning"),
        META_ADAPTED("meta-learned base, adapted");

        private final String label;

        Method(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Whether the method predicts {@code target}: a median is no probability. */
        public boolean applies(RatingTarget target) {
            return this != ITEM_MEDIAN || target == RatingTarget.RATING;
        }
    }

    /** One user: ratings to learn from, ratings to predict. */
    public record Case(int user, List<MovieLens.Rating> support, List<MovieLens.Rating> query) {
    }

    /** The metrics of one method, in report order, the target's primary metric first. */
    public record Scores(Map<String, Evaluation.Estimate> metrics) {
        public Evaluation.Estimate get(String metric) {
            Evaluation.Estimate e = metrics.get(metric);
            if (e == null) {
                throw new IllegalArgumentException("no metric " + metric + " (have " + metrics.keySet() + ")");
            }
            return e;
        }

        public Evaluation.Estimate mae() {
            return get("mae");
        }

        public Evaluation.Estimate rmse() {
            return get("rmse");
        }

        public Evaluation.Estimate ndcg3() {
            return get("ndcg3");
        }

        /** The first metric: MAE for ratings, AUC for the binary target. */
        public Evaluation.Estimate primary() {
            return metrics.values().iterator().next();
        }
    }

    /** The metric names of {@code target}, the primary first. */
    public static List<String> metrics(RatingTarget target) {
        return target == RatingTarget.RATING ? List.of("mae", "rmse", "ndcg3") : List.of("auc", "logloss", "ndcg3");
    }

    /** Whether a lower value of {@code metric} is better. */
    public static boolean lowerIsBetter(String metric) {
        return !metric.equals("auc") && !metric.equals("ndcg3");
    }

    /**
     * Everything the methods predict with: the features (and through them the target), the
     * learner, the meta-learned base, the pooled-pretraining base fine-tuned with its own
     * adaptation settings, and the matrix factorisation fitted on the meta-train users.
     */
    public record Models(MovieLensFeatures features, Learner learner, BaseModel meta, BaseModel pooled,
            MatrixFactorization mf) {
        public RatingTarget target() {
            return features.target();
        }
    }

    private ColdStartEvaluation() {
    }

    /** The protocol's cases: each meta-test user's support and query. */
    public static List<Case> cases(ColdStartSplit split) {
        List<Case> cases = new ArrayList<>();
        for (ColdStartSplit.UserHistory h : split.test()) {
            cases.add(new Case(h.user(), h.support(), h.query()));
        }
        return cases;
    }

    /** The same cases with each support cut to its first {@code n} ratings (fewer where a user has fewer). */
    public static List<Case> truncated(List<Case> cases, int n) {
        List<Case> out = new ArrayList<>(cases.size());
        for (Case c : cases) {
            out.add(new Case(c.user(), c.support().subList(0, Math.min(n, c.support().size())), c.query()));
        }
        return out;
    }

    /** Every applicable method's predictions, {@code [case][query item]}. */
    public static Map<Method, float[][]> predictAll(List<Case> cases, Models models) {
        MovieLensFeatures features = models.features();
        RatingTarget target = models.target();
        boolean rating = target == RatingTarget.RATING;
        Map<Method, float[][]> out = new EnumMap<>(Method.class);
        double global = rating ? features.globalMean() : features.globalPositiveRate();
        out.put(Method.GLOBAL_MEAN, statistic(cases, target, (c, item) -> global));
        out.put(Method.ITEM_MEAN, statistic(cases, target, (c, item) -> itemBaseline(features, item)));
        if (rating) {
            out.put(Method.ITEM_MEDIAN, statistic(cases, target, (c, item) -> features.itemMedian(item)));
        }
        out.put(Method.ITEM_MEAN_USER_BIAS, statistic(cases, target, (c, item) -> itemBaseline(features, item)
                + userBias(features, c.support())));
        out.put(Method.POPULARITY_GENRE, statistic(cases, target, (c, item) -> itemBaseline(features, item)
                + genreTaste(features, c.support(), item)));
        out.put(Method.MATRIX_FACTORISATION, matrixFactorisation(cases, models));
        out.put(Method.BASE_UNADAPTED, model(cases, features, models.learner(), models.meta(), false));
        out.put(Method.POOLED_FINE_TUNED, model(cases, features, models.learner(), models.pooled(), true));
        out.put(Method.META_ADAPTED, model(cases, features, models.learner(), models.meta(), true));
        return out;
    }

    /**
     * Every method's rating predictions rounded to whole stars, in place: what a mean-based method
     * gains when MAE scores it (the median of ratings on a 1..5 scale is a whole star).
     *
     * @throws IllegalArgumentException for the binary target, whose predictions are probabilities
     */
    public static void roundToStars(Map<Method, float[][]> predictions, RatingTarget target) {
        if (target != RatingTarget.RATING) {
            throw new IllegalArgumentException("only ratings round to stars, not " + target.id() + " predictions");
        }
        for (float[][] p : predictions.values()) {
            for (float[] row : p) {
                for (int k = 0; k < row.length; k++) {
                    row[k] = Math.round(row[k]);
                }
            }
        }
    }

    /** The item's mean rating, or its positive rate for the binary target. */
    static double itemBaseline(MovieLensFeatures features, int item) {
        return features.target() == RatingTarget.RATING ? features.itemMean(item) : features.itemPositiveRate(item);
    }

    /** The mean residual of a user's targets against the item baseline, shrunk towards 0. */
    public static double userBias(MovieLensFeatures features, List<MovieLens.Rating> ratings) {
        double sum = 0;
        for (MovieLens.Rating r : ratings) {
            sum += features.target().of(r.rating()) - itemBaseline(features, r.item());
        }
        return sum / (ratings.size() + USER_BIAS_SHRINKAGE);
    }

    /**
     * The user's taste for {@code item}'s genres: their mean residual on each genre of the item
     * (shrunk towards 0), averaged over the item's genres.
     */
    static double genreTaste(MovieLensFeatures features, List<MovieLens.Rating> ratings, int item) {
        boolean[] genres = features.genres(item);
        double taste = 0;
        int count = 0;
        for (int g = 0; g < genres.length; g++) {
            if (!genres[g]) {
                continue;
            }
            double sum = 0;
            int n = 0;
            for (MovieLens.Rating r : ratings) {
                if (features.genres(r.item())[g]) {
                    sum += features.target().of(r.rating()) - itemBaseline(features, r.item());
                    n++;
                }
            }
            taste += sum / (n + GENRE_SHRINKAGE);
            count++;
        }
        return count == 0 ? 0 : taste / count;
    }

    private static float[][] matrixFactorisation(List<Case> cases, Models models) {
        float[][] out = new float[cases.size()][];
        for (int i = 0; i < out.length; i++) {
            Case c = cases.get(i);
            double[] user = models.mf().fitUser(c.support(), models.target());
            out[i] = new float[c.query().size()];
            for (int k = 0; k < out[i].length; k++) {
                out[i][k] = models.target().clamp(models.mf().predict(user, c.query().get(k).item()));
            }
        }
        return out;
    }

    private interface Statistic {
        double predict(Case c, int item);
    }

    private static float[][] statistic(List<Case> cases, RatingTarget target, Statistic s) {
        float[][] out = new float[cases.size()][];
        for (int i = 0; i < out.length; i++) {
            Case c = cases.get(i);
            out[i] = new float[c.query().size()];
            for (int k = 0; k < out[i].length; k++) {
                out[i][k] = target.clamp(s.predict(c, c.query().get(k).item()));
            }
        }
        return out;
    }

    /** {@code base} adapted to each case's support (or not), predicting its query, in batched calls. */
    public static float[][] model(List<Case> cases, MovieLensFeatures features, Learner learner, BaseModel base,
            boolean adapt) {
        float[][] out = new float[cases.size()][];
        for (int from = 0; from < cases.size(); from += CHUNK) {
            List<Case> chunk = cases.subList(from, Math.min(cases.size(), from + CHUNK));
            List<float[]> states = new ArrayList<>(chunk.size());
            List<float[][]> queries = new ArrayList<>(chunk.size());
            List<SampleSet> supports = new ArrayList<>();
            for (Case c : chunk) {
                queries.add(features.support(c.query()).features());
                if (adapt && !c.support().isEmpty()) {
                    supports.add(features.support(c.support()));
                }
            }
            AdaptedBatch adapted = supports.isEmpty() ? null : learner.adapt(base, supports);
            int next = 0;
            for (Case c : chunk) {
                states.add(adapt && !c.support().isEmpty() ? adapted.tasks().get(next++).state() : null);
            }
            float[][] predicted = learner.predict(base, states, queries);
            for (int i = 0; i < chunk.size(); i++) {
                float[] p = predicted[i];
                for (int k = 0; k < p.length; k++) {
                    p[k] = features.target().clamp(p[k]);
                }
                out[from + i] = p;
            }
        }
        return out;
    }

    /** The target's metrics per user, averaged over users. */
    public static Scores score(List<Case> cases, float[][] predictions, RatingTarget target) {
        Map<String, double[]> perUser = perUser(cases, predictions, target);
        Map<String, Evaluation.Estimate> out = new LinkedHashMap<>();
        perUser.forEach((metric, values) -> out.put(metric, Evaluation.Estimate.of(defined(values))));
        return new Scores(out);
    }

    /** {@link #score} for ratings. */
    public static Scores score(List<Case> cases, float[][] predictions) {
        return score(cases, predictions, RatingTarget.RATING);
    }

    /**
     * The difference {@code a - b} in {@code metric}, paired by user: the right interval for "is a
     * better than b on the same users", much narrower than two overlapping marginal intervals.
     */
    public static Evaluation.Estimate pairedDifference(List<Case> cases, float[][] a, float[][] b, RatingTarget target,
            String metric) {
        double[] x = perUser(cases, a, target).get(metric);
        double[] y = perUser(cases, b, target).get(metric);
        double[] d = new double[x.length];
        int n = 0;
        for (int i = 0; i < x.length; i++) {
            if (!Double.isNaN(x[i]) && !Double.isNaN(y[i])) {
                d[n++] = x[i] - y[i];
            }
        }
        return Evaluation.Estimate.of(Arrays.copyOf(d, n));
    }

    /** Per-user values of each metric, NaN where a user's query leaves it undefined. */
    private static Map<String, double[]> perUser(List<Case> cases, float[][] predictions, RatingTarget target) {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (String m : metrics(target)) {
            out.put(m, new double[cases.size()]);
        }
        for (int i = 0; i < cases.size(); i++) {
            float[] truth = targets(cases.get(i).query(), target);
            float[] p = predictions[i];
            if (target == RatingTarget.RATING) {
                double abs = 0;
                double sq = 0;
                for (int k = 0; k < truth.length; k++) {
                    double d = p[k] - truth[k];
                    abs += Math.abs(d);
                    sq += d * d;
                }
                out.get("mae")[i] = abs / truth.length;
                out.get("rmse")[i] = Math.sqrt(sq / truth.length);
                out.get("ndcg3")[i] = ndcg(3, p, truth);
            } else {
                double loss = 0;
                boolean anyPositive = false;
                for (int k = 0; k < truth.length; k++) {
                    loss += Loss.LOGISTIC.of(p[k], truth[k]);
                    anyPositive |= truth[k] > 0;
                }
                out.get("logloss")[i] = loss / truth.length;
                out.get("auc")[i] = auc(p, truth);
                out.get("ndcg3")[i] = anyPositive ? ndcg(3, p, truth) : Double.NaN;
            }
        }
        return out;
    }

    private static double[] defined(double[] values) {
        return Arrays.stream(values).filter(v -> !Double.isNaN(v)).toArray();
    }

    /**
     * The probability that a random positive is scored above a random negative (ties count a
     * half), NaN when the items are all of one class.
     */
    public static double auc(float[] predicted, float[] truth) {
        double wins = 0;
        int pairs = 0;
        for (int a = 0; a < truth.length; a++) {
            for (int b = 0; b < truth.length; b++) {
                if (truth[a] > 0 && truth[b] <= 0) {
                    pairs++;
                    wins += predicted[a] > predicted[b] ? 1 : predicted[a] == predicted[b] ? 0.5 : 0;
                }
            }
        }
        return pairs == 0 ? Double.NaN : wins / pairs;
    }

    /**
     * nDCG@k of ranking items by {@code predicted} (ties keep the given order), with the true
     * rating as the gain and {@code log2(rank + 1)} as the discount (Järvelin and Kekäläinen 2002).
     */
    public static double ndcg(int k, float[] predicted, float[] truth) {
        Integer[] byPrediction = order(predicted);
        Integer[] ideal = order(truth);
        double dcg = 0;
        double idcg = 0;
        for (int r = 0; r < Math.min(k, truth.length); r++) {
            double discount = Math.log(r + 2) / Math.log(2);
            dcg += truth[byPrediction[r]] / discount;
            idcg += truth[ideal[r]] / discount;
        }
        return idcg == 0 ? 1 : dcg / idcg;
    }

    private static Integer[] order(float[] scores) {
        Integer[] idx = new Integer[scores.length];
        Arrays.setAll(idx, i -> i);
        Arrays.sort(idx, (a, b) -> Float.compare(scores[b], scores[a]));
        return idx;
    }

    static float[] targets(List<MovieLens.Rating> ratings, RatingTarget target) {
        float[] out = new float[ratings.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = target.of(ratings.get(i).rating());
        }
        return out;
    }
}

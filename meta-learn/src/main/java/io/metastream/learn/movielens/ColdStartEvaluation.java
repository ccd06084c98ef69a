package io.metastream.learn.movielens;

import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import io.metastream.learn.Support;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Scores rating predictors on cold users, each user a case of support ratings (what they rated
 * so far) and query ratings (what to predict): MAE and RMSE over each user's query items and the
 * nDCG@3 of ranking them by the prediction, each averaged over users with a 95% confidence
 * interval (MeLU, Lee et al. 2019, section 4.2, reports the same three). All methods run on the
 * same cases and predictions are clamped to the rating scale 1..5.
 */
public final class ColdStartEvaluation {
    /** Pseudo-ratings at zero bias added to a user's residuals, so one rating moves the bias a little. */
    static final double USER_BIAS_SHRINKAGE = 5;
    private static final int CHUNK = 256;

    /** The predictors, baselines first. */
    public enum Method {
        GLOBAL_MEAN("global mean"),
        ITEM_MEAN("item mean"),
        ITEM_MEAN_USER_BIAS("item mean + online user bias"),
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
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** One user: ratings to learn from, ratings to predict. */
    public record Case(int user, List<MovieLens.Rating> support, List<MovieLens.Rating> query) {
    }

    /** The three metrics of one method. */
    public record Scores(Evaluation.Estimate mae, Evaluation.Estimate rmse, Evaluation.Estimate ndcg3) {
    }

    private ColdStartEvaluation() {
    }

    /** The protocol's cases: each meta-test user's support and query. */
    public static List<Case> cases(ColdStartSplit split) {
        int q = split.protocol().queryItems();
        List<Case> cases = new ArrayList<>();
        for (ColdStartSplit.UserHistory h : split.test()) {
            cases.add(new Case(h.user(), h.support(q), h.query(q)));
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

    /**
     * Every method's predictions, {@code [case][query item]}. {@code pooled} is the base
     * pre-trained on all meta-train users pooled, fine-tuned with its own adaptation settings.
     */
    public static Map<Method, float[][]> predictAll(List<Case> cases, MovieLensFeatures features, Learner learner,
            BaseModel meta, BaseModel pooled) {
        Map<Method, float[][]> out = new EnumMap<>(Method.class);
        out.put(Method.GLOBAL_MEAN, statistic(cases, (c, item) -> features.globalMean()));
        out.put(Method.ITEM_MEAN, statistic(cases, (c, item) -> features.itemMean(item)));
        out.put(Method.ITEM_MEAN_USER_BIAS, statistic(cases, (c, item) -> features.itemMean(item)
                + userBias(features, c.support())));
        out.put(Method.BASE_UNADAPTED, model(cases, features, learner, meta, false));
        out.put(Method.POOLED_FINE_TUNED, model(cases, features, learner, pooled, true));
        out.put(Method.META_ADAPTED, model(cases, features, learner, meta, true));
        return out;
    }

    /** The mean residual of a user's ratings against the item means, shrunk towards 0. */
    public static double userBias(MovieLensFeatures features, List<MovieLens.Rating> ratings) {
        double sum = 0;
        for (MovieLens.Rating r : ratings) {
            sum += r.rating() - features.itemMean(r.item());
        }
        return sum / (ratings.size() + USER_BIAS_SHRINKAGE);
    }

    private interface Statistic {
        double predict(Case c, int item);
    }

    private static float[][] statistic(List<Case> cases, Statistic s) {
        float[][] out = new float[cases.size()][];
        for (int i = 0; i < out.length; i++) {
            Case c = cases.get(i);
            out[i] = new float[c.query().size()];
            for (int k = 0; k < out[i].length; k++) {
                out[i][k] = clamp(s.predict(c, c.query().get(k).item()));
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
            List<Support> supports = new ArrayList<>();
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
                    p[k] = clamp(p[k]);
                }
                out[from + i] = p;
            }
        }
        return out;
    }

    /** MAE, RMSE and nDCG@3 per user, averaged over users. */
    public static Scores score(List<Case> cases, float[][] predictions) {
        double[] mae = new double[cases.size()];
        double[] rmse = new double[cases.size()];
        double[] ndcg = new double[cases.size()];
        for (int i = 0; i < mae.length; i++) {
            float[] truth = ratings(cases.get(i).query());
            double abs = 0;
            double sq = 0;
            for (int k = 0; k < truth.length; k++) {
                double d = predictions[i][k] - truth[k];
                abs += Math.abs(d);
                sq += d * d;
            }
            mae[i] = abs / truth.length;
            rmse[i] = Math.sqrt(sq / truth.length);
            ndcg[i] = ndcg(3, predictions[i], truth);
        }
        return new Scores(Evaluation.Estimate.of(mae), Evaluation.Estimate.of(rmse), Evaluation.Estimate.of(ndcg));
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

    static float[] ratings(List<MovieLens.Rating> ratings) {
        float[] out = new float[ratings.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ratings.get(i).rating();
        }
        return out;
    }

    /** Onto the rating scale. */
    public static float clamp(double rating) {
        return (float) Math.max(1, Math.min(5, rating));
    }
}

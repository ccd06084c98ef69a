package io.metastream.training;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.ColdStartEvaluation;
import io.metastream.data.movielens.ColdStartEvaluation.Method;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.learn.Evaluation;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The meta-learned model against every baseline on the meta-test users, in one run: the target's
 * metrics on the protocol's cases (support = the user's ratings outside the query), the primary
 * metric when each user's support is cut to their first 0, 1, 2, 5, 10 and 20 ratings (the
 * cold-start curve), and the adapted model's paired difference from the best baseline (every
 * method but the meta-learned base itself, adapted or not), overall and at each support size.
 */
public record ColdStartComparison(RatingTarget target, Map<Method, ColdStartEvaluation.Scores> protocol,
        Map<Integer, Map<Method, Evaluation.Estimate>> bySupport, Map<String, Comparison> againstBest, int users) {
    /** Support sizes of the curve. */
    public static final int[] SUPPORT_SIZES = {0, 1, 2, 5, 10, 20};

    /** The adapted model against the best baseline on the same users: {@code adapted - best}. */
    public record Comparison(Method best, double bestValue, Evaluation.Estimate difference, double relative) {
    }

    public static ColdStartComparison run(ColdStartData data, ColdStartEvaluation.Models models) {
        return run(data, models, false);
    }

    /**
     * As {@link #run(ColdStartData, ColdStartEvaluation.Models)}, every method's predictions
     * rounded to whole stars where {@code roundToStars} ({@link ColdStartEvaluation#roundToStars}).
     */
    public static ColdStartComparison run(ColdStartData data, ColdStartEvaluation.Models models,
            boolean roundToStars) {
        RatingTarget target = data.target();
        String primary = ColdStartEvaluation.metrics(target).get(0);
        List<ColdStartEvaluation.Case> cases = ColdStartEvaluation.cases(data.split());
        Map<Method, ColdStartEvaluation.Scores> protocol = new EnumMap<>(Method.class);
        Map<Method, float[][]> all = ColdStartEvaluation.predictAll(cases, models);
        if (roundToStars) {
            ColdStartEvaluation.roundToStars(all, target);
        }
        all.forEach((m, p) -> protocol.put(m, ColdStartEvaluation.score(cases, p, target)));
        Map<String, Comparison> against = new LinkedHashMap<>();
        against.put("all", compare(cases, all, protocol, target, primary));
        Map<Integer, Map<Method, Evaluation.Estimate>> curve = new LinkedHashMap<>();
        for (int n : SUPPORT_SIZES) {
            List<ColdStartEvaluation.Case> cut = ColdStartEvaluation.truncated(cases, n);
            Map<Method, float[][]> predicted = ColdStartEvaluation.predictAll(cut, models);
            if (roundToStars) {
                ColdStartEvaluation.roundToStars(predicted, target);
            }
            Map<Method, ColdStartEvaluation.Scores> scores = new EnumMap<>(Method.class);
            predicted.forEach((m, p) -> scores.put(m, ColdStartEvaluation.score(cut, p, target)));
            Map<Method, Evaluation.Estimate> row = new EnumMap<>(Method.class);
            scores.forEach((m, s) -> row.put(m, s.primary()));
            curve.put(n, row);
            against.put("n=" + n, compare(cut, predicted, scores, target, primary));
        }
        return new ColdStartComparison(target, protocol, curve, against, cases.size());
    }

    private static Comparison compare(List<ColdStartEvaluation.Case> cases, Map<Method, float[][]> predicted,
            Map<Method, ColdStartEvaluation.Scores> scores, RatingTarget target, String metric) {
        boolean lower = ColdStartEvaluation.lowerIsBetter(metric);
        Method best = null;
        for (Method m : scores.keySet()) {
            if (m == Method.META_ADAPTED || m == Method.BASE_UNADAPTED) {
                continue;
            }
            double v = scores.get(m).get(metric).mean();
            if (best == null || (lower ? v < scores.get(best).get(metric).mean() : v > scores.get(best).get(metric)
                    .mean())) {
                best = m;
            }
        }
        double bestValue = scores.get(best).get(metric).mean();
        Evaluation.Estimate d = ColdStartEvaluation.pairedDifference(cases, predicted.get(Method.META_ADAPTED),
                predicted.get(best), target, metric);
        return new Comparison(best, bestValue, d, d.mean() / bestValue);
    }

    /** The meta-learned, adapted model's scores. */
    public ColdStartEvaluation.Scores adapted() {
        return protocol.get(Method.META_ADAPTED);
    }

    private String primary() {
        return ColdStartEvaluation.metrics(target).get(0);
    }

    /** A table for the terminal. */
    public String table() {
        List<String> metrics = ColdStartEvaluation.metrics(target);
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-42s", "method (" + users + " cold users)"));
        for (String m : metrics) {
            b.append(String.format(Locale.ROOT, " %-17s", m.toUpperCase(Locale.ROOT)));
        }
        b.append(System.lineSeparator());
        protocol.forEach((m, s) -> {
            b.append(String.format(Locale.ROOT, "%-42s", m.label()));
            for (String metric : metrics) {
                b.append(String.format(Locale.ROOT, " %-17s", pm(s.get(metric))));
            }
            b.append(System.lineSeparator());
        });
        b.append(String.format(Locale.ROOT, "%n%s by ratings given so far (support cut to the first n):%n%-42s",
                primary().toUpperCase(Locale.ROOT), ""));
        for (int n : SUPPORT_SIZES) {
            b.append(String.format(Locale.ROOT, "%8s", "n=" + n));
        }
        b.append(String.format(Locale.ROOT, "%8s%n", "all"));
        for (Method m : protocol.keySet()) {
            b.append(String.format(Locale.ROOT, "%-42s", m.label()));
            for (int n : SUPPORT_SIZES) {
                b.append(String.format(Locale.ROOT, "%8.4f", bySupport.get(n).get(m).mean()));
            }
            b.append(String.format(Locale.ROOT, "%8.4f%n", protocol.get(m).primary().mean()));
        }
        b.append(String.format(Locale.ROOT, "%nadapted - best baseline, %s paired by user (95%% CI):%n",
                primary().toUpperCase(Locale.ROOT)));
        againstBest.forEach((at, c) -> b.append(String.format(Locale.ROOT, "  %-5s %-42s %+.4f ± %.4f (%+.1f%%)%n", at,
                c.best().label(), c.difference().mean(), c.difference().ci95(), 100 * c.relative())));
        return b.toString();
    }

    private static String pm(Evaluation.Estimate e) {
        return String.format(Locale.ROOT, "%.4f ± %.4f", e.mean(), e.ci95());
    }

    /** The JSON report: the adapted model's primary metric first (the eval command's common fields), then the rest. */
    public Map<String, Object> json() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("metric", primary());
        out.put("mean", adapted().primary().mean());
        out.put("ci95", adapted().primary().ci95());
        out.put("tasks", users);
        out.put("target", target.id());
        Map<String, Object> methods = new LinkedHashMap<>();
        protocol.forEach((m, s) -> {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("label", m.label());
            s.metrics().forEach((metric, e) -> row.put(metric, estimate(e)));
            methods.put(m.id(), row);
        });
        out.put("methods", methods);
        Map<String, Object> curve = new LinkedHashMap<>();
        bySupport.forEach((n, row) -> {
            Map<String, Object> r = new LinkedHashMap<>();
            row.forEach((m, e) -> r.put(m.id(), estimate(e)));
            curve.put(Integer.toString(n), r);
        });
        out.put(primary() + "_by_support", curve);
        Map<String, Object> against = new LinkedHashMap<>();
        againstBest.forEach((at, c) -> {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("best_other", c.best().id());
            r.put("best_other_value", c.bestValue());
            r.put("difference", estimate(c.difference()));
            r.put("relative", c.relative());
            against.put(at, r);
        });
        out.put("adapted_minus_best_other", against);
        return out;
    }

    public static Map<String, Object> estimate(Evaluation.Estimate e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", e.mean());
        m.put("ci95", e.ci95());
        m.put("n", e.tasks());
        return m;
    }
}

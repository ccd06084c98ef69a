package io.metastream.app.recsys;

import io.metastream.learn.BaseModel;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import io.metastream.learn.movielens.ColdStartData;
import io.metastream.learn.movielens.ColdStartEvaluation;
import io.metastream.learn.movielens.ColdStartEvaluation.Method;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The meta-learned model against every baseline on the meta-test users, in one run: MAE, RMSE and
 * nDCG@3 on the protocol's cases (support = all earlier ratings), and MAE when each user's support
 * is cut to their first 0, 1, 2, 5, 10 and 20 ratings, the cold-start curve.
 */
public record ColdStartComparison(Map<Method, ColdStartEvaluation.Scores> protocol,
        Map<Integer, Map<Method, Evaluation.Estimate>> maeBySupport, int users) {
    /** Support sizes of the curve. */
    public static final int[] SUPPORT_SIZES = {0, 1, 2, 5, 10, 20};

    public static ColdStartComparison run(ColdStartData data, Learner learner, BaseModel meta, BaseModel pooled) {
        List<ColdStartEvaluation.Case> cases = ColdStartEvaluation.cases(data.split());
        Map<Method, ColdStartEvaluation.Scores> protocol = new EnumMap<>(Method.class);
        ColdStartEvaluation.predictAll(cases, data.features(), learner, meta, pooled)
                .forEach((m, p) -> protocol.put(m, ColdStartEvaluation.score(cases, p)));
        Map<Integer, Map<Method, Evaluation.Estimate>> curve = new LinkedHashMap<>();
        for (int n : SUPPORT_SIZES) {
            List<ColdStartEvaluation.Case> cut = ColdStartEvaluation.truncated(cases, n);
            Map<Method, Evaluation.Estimate> row = new EnumMap<>(Method.class);
            ColdStartEvaluation.predictAll(cut, data.features(), learner, meta, pooled)
                    .forEach((m, p) -> row.put(m, ColdStartEvaluation.score(cut, p).mae()));
            curve.put(n, row);
        }
        return new ColdStartComparison(protocol, curve, cases.size());
    }

    /** The meta-learned, adapted model's scores. */
    public ColdStartEvaluation.Scores adapted() {
        return protocol.get(Method.META_ADAPTED);
    }

    /** A table for the terminal. */
    public String table() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-36s %-17s %-17s %-17s%n", "method (" + users + " cold users)", "MAE",
                "RMSE", "nDCG@3"));
        protocol.forEach((m, s) -> b.append(String.format(Locale.ROOT, "%-36s %-17s %-17s %-17s%n", m.label(),
                pm(s.mae()), pm(s.rmse()), pm(s.ndcg3()))));
        b.append(String.format(Locale.ROOT, "%nMAE by ratings given so far (support cut to the first n):%n%-36s", ""));
        for (int n : SUPPORT_SIZES) {
            b.append(String.format(Locale.ROOT, "%8s", "n=" + n));
        }
        b.append(String.format(Locale.ROOT, "%8s%n", "all"));
        for (Method m : Method.values()) {
            b.append(String.format(Locale.ROOT, "%-36s", m.label()));
            for (int n : SUPPORT_SIZES) {
                b.append(String.format(Locale.ROOT, "%8.4f", maeBySupport.get(n).get(m).mean()));
            }
            b.append(String.format(Locale.ROOT, "%8.4f%n", protocol.get(m).mae().mean()));
        }
        return b.toString();
    }

    private static String pm(Evaluation.Estimate e) {
        return String.format(Locale.ROOT, "%.4f ± %.4f", e.mean(), e.ci95());
    }

    /** The JSON report: the adapted model's MAE first (the eval command's common fields), then the rest. */
    public Map<String, Object> json() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("metric", "mae");
        out.put("mean", adapted().mae().mean());
        out.put("ci95", adapted().mae().ci95());
        out.put("tasks", users);
        Map<String, Object> methods = new LinkedHashMap<>();
        protocol.forEach((m, s) -> {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("label", m.label());
            row.put("mae", estimate(s.mae()));
            row.put("rmse", estimate(s.rmse()));
            row.put("ndcg3", estimate(s.ndcg3()));
            methods.put(m.id(), row);
        });
        out.put("methods", methods);
        Map<String, Object> curve = new LinkedHashMap<>();
        maeBySupport.forEach((n, row) -> {
            Map<String, Object> r = new LinkedHashMap<>();
            row.forEach((m, e) -> r.put(m.id(), estimate(e)));
            curve.put(Integer.toString(n), r);
        });
        out.put("mae_by_support", curve);
        return out;
    }

    static Map<String, Object> estimate(Evaluation.Estimate e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mean", e.mean());
        m.put("ci95", e.ci95());
        m.put("n", e.tasks());
        return m;
    }
}

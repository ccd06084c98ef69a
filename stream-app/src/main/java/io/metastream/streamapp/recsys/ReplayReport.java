package io.metastream.streamapp.recsys;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.ColdStartEvaluation;
import io.metastream.data.movielens.ColdStartEvaluation.Method;
import io.metastream.data.movielens.ColdStartSplit;
import io.metastream.data.movielens.MovieLens;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.embedded.Measurements;
import io.metastream.learn.Evaluation;
import io.metastream.schemas.Prediction;
import io.metastream.training.ColdStartComparison;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.DoubleStream;

/**
 * What a MovieLens replay shows: the pipeline's prequential MAE (each rating predicted before the
 * pipeline learns it) by how many ratings the user had given, next to every baseline scored on the
 * same queries in this process; MAE, RMSE and nDCG@3 on the held-out items after each user's
 * support; and the checks that every query was answered once, from the user's own adapted state.
 */
public record ReplayReport(Map<String, Object> counts, Map<String, Map<String, Evaluation.Estimate>> prequential,
        PrequentialComparison againstBest, Map<String, ColdStartEvaluation.Scores> heldOut,
        Map<String, Object> consistency, Map<String, double[]> latencyMs) {
    /**
     * The pipeline's prequential loss from the user's first rating on against the baseline best
     * there, paired by user: each user's mean loss over those queries, {@code stream - best}, with
     * its 95% CI over users. The meta-learned base's own rows (adapted, unadapted) are not baselines.
     */
    public record PrequentialComparison(String best, double bestValue, double streamValue,
            Evaluation.Estimate difference) {
        public double relative() {
            return difference.mean() / bestValue;
        }
    }

    /** Buckets of "ratings given so far": lower bounds and labels. */
    static final int[] BUCKET_STARTS = {0, 1, 2, 5, 10, 20};
    static final String[] BUCKET_LABELS = {"0", "1", "2-4", "5-9", "10-19", "20+"};
    /** The pipeline's own predictions. */
    public static final String STREAM = "stream";

    static int bucket(int given) {
        int b = 0;
        for (int i = 0; i < BUCKET_STARTS.length; i++) {
            if (given >= BUCKET_STARTS[i]) {
                b = i;
            }
        }
        return b;
    }

    public static ReplayReport of(ColdStartData data, MovieLensReplay.Outcome o, ColdStartEvaluation.Models models) {
        RatingTarget target = data.target();
        Map<Integer, List<MovieLens.Rating>> supportOf = new HashMap<>();
        for (ColdStartSplit.UserHistory h : data.split().test()) {
            supportOf.put(h.user(), h.support());
        }
        List<MovieLensReplay.Event> prequentialEvents = new ArrayList<>();
        Map<Integer, List<MovieLensReplay.Event>> heldOutByUser = new LinkedHashMap<>();
        long samples = 0;
        for (MovieLensReplay.Event e : o.events()) {
            switch (e.kind()) {
                case SAMPLE -> samples++;
                case PREQUENTIAL_QUERY -> prequentialEvents.add(e);
                case HELD_OUT_QUERY -> heldOutByUser.computeIfAbsent(e.rating().user(), u -> new ArrayList<>()).add(e);
            }
        }
        // Prequential: one case per query, the support being the ratings the user gave before it.
        List<ColdStartEvaluation.Case> cases = new ArrayList<>();
        for (MovieLensReplay.Event e : prequentialEvents) {
            cases.add(new ColdStartEvaluation.Case(e.rating().user(),
                    supportOf.get(e.rating().user()).subList(0, e.given()), List.of(e.rating())));
        }
        Map<Method, float[][]> local = ColdStartEvaluation.predictAll(cases, models);
        Map<String, List<List<Double>>> errors = new LinkedHashMap<>();
        // From the first rating on, per method and user: sum of losses, count.
        Map<String, Map<Integer, double[]>> byUser = new LinkedHashMap<>();
        List<String> mismatches = new ArrayList<>();
        long answered = 0;
        long asExpected = 0;
        long adapted = 0;
        double maxGap = 0;
        double sumGap = 0;
        for (int i = 0; i < cases.size(); i++) {
            MovieLensReplay.Event e = prequentialEvents.get(i);
            Prediction p = o.predictions().get(e.id());
            if (p == null) {
                continue;
            }
            answered++;
            asExpected += p.getSupportSize() == e.given() ? 1 : 0;
            if (p.getSupportSize() != e.given() && mismatches.size() < 10) {
                mismatches.add(e.id() + ": " + p.getSupportSize() + " samples, expected " + e.given());
            }
            adapted += p.getAdapted() ? 1 : 0;
            double truth = target.of(e.rating().rating());
            float stream = target.clamp(p.getValue());
            add(errors, byUser, STREAM, e, target.loss().of(stream, truth));
            for (Map.Entry<Method, float[][]> m : local.entrySet()) {
                add(errors, byUser, m.getKey().id(), e, target.loss().of(m.getValue()[i][0], truth));
            }
            double gap = Math.abs(stream - local.get(Method.META_ADAPTED)[i][0]);
            maxGap = Math.max(maxGap, gap);
            sumGap += gap;
        }
        Map<String, Map<String, Evaluation.Estimate>> prequential = new LinkedHashMap<>();
        errors.forEach((method, buckets) -> {
            Map<String, Evaluation.Estimate> row = new LinkedHashMap<>();
            for (int b = 0; b < BUCKET_LABELS.length; b++) {
                List<Double> v = buckets.get(b);
                if (!v.isEmpty()) {
                    row.put(BUCKET_LABELS[b], Evaluation.Estimate.of(v.stream().mapToDouble(Double::doubleValue).toArray()));
                }
            }
            prequential.put(method, row);
        });
        PrequentialComparison againstBest = againstBest(byUser);
        // Held-out items after the whole support: the protocol's metrics, by user.
        List<ColdStartEvaluation.Case> heldOutCases = new ArrayList<>();
        List<float[]> streamHeldOut = new ArrayList<>();
        long heldOutQueries = 0;
        long heldOutAsExpected = 0;
        long prequentialAnswered = answered;
        for (Map.Entry<Integer, List<MovieLensReplay.Event>> u : heldOutByUser.entrySet()) {
            List<MovieLensReplay.Event> evs = u.getValue();
            heldOutQueries += evs.size();
            float[] values = new float[evs.size()];
            boolean complete = true;
            for (int k = 0; k < evs.size(); k++) {
                Prediction p = o.predictions().get(evs.get(k).id());
                if (p == null) {
                    complete = false;
                    continue;
                }
                answered++;
                heldOutAsExpected += p.getSupportSize() == evs.get(k).given() ? 1 : 0;
                if (p.getSupportSize() != evs.get(k).given() && mismatches.size() < 10) {
                    mismatches.add(evs.get(k).id() + ": " + p.getSupportSize() + " samples, expected "
                            + evs.get(k).given());
                }
                values[k] = target.clamp(p.getValue());
            }
            if (complete) {
                heldOutCases.add(new ColdStartEvaluation.Case(u.getKey(), supportOf.get(u.getKey()),
                        evs.stream().map(MovieLensReplay.Event::rating).toList()));
                streamHeldOut.add(values);
            }
        }
        Map<String, ColdStartEvaluation.Scores> heldOut = new LinkedHashMap<>();
        if (!heldOutCases.isEmpty()) {
            heldOut.put(STREAM, ColdStartEvaluation.score(heldOutCases, streamHeldOut.toArray(new float[0][]), target));
            ColdStartEvaluation.predictAll(heldOutCases, models)
                    .forEach((m, p) -> heldOut.put(m.id(), ColdStartEvaluation.score(heldOutCases, p, target)));
        }
        long queries = prequentialEvents.size() + heldOutQueries;
        Map<String, Object> counts = new LinkedHashMap<>();
        counts.put("target", target.id());
        counts.put("users", heldOutByUser.size());
        counts.put("samples", samples);
        counts.put("queries", queries);
        counts.put("prequential_queries", prequentialEvents.size());
        counts.put("held_out_queries", heldOutQueries);
        counts.put("predictions", answered);
        counts.put("missing_predictions", queries - answered);
        counts.put("duplicate_predictions", o.duplicates());
        counts.put("dead_letters", o.deadLetters());
        counts.put("dead_letters_by_reason", o.deadLettersByReason());
        counts.put("seconds", Math.round(o.seconds() * 10) / 10.0);
        Map<String, Object> consistency = new LinkedHashMap<>();
        consistency.put("answered_from_adapted_state", adapted);
        consistency.put("support_size_as_expected", asExpected + heldOutAsExpected);
        consistency.put("support_size_checked", answered);
        consistency.put("support_size_mismatch_examples", mismatches);
        consistency.put("mean_abs_gap_to_local_adaptation", prequentialAnswered == 0 ? 0 : sumGap / prequentialAnswered);
        consistency.put("max_abs_gap_to_local_adaptation", maxGap);
        // Prequential queries are answered when the next sample of their partition arrives; a
        // user's held-out queries come after their last rating and can wait longer for one.
        Map<String, double[]> latency = new LinkedHashMap<>();
        latency.put("all", quantiles(o.latencyMs().values().stream().mapToDouble(Double::doubleValue)));
        latency.put("prequential", quantiles(prequentialEvents.stream().map(e -> o.latencyMs().get(e.id()))
                .filter(v -> v != null).mapToDouble(Double::doubleValue)));
        latency.put("held_out", quantiles(heldOutByUser.values().stream().flatMap(List::stream)
                .map(e -> o.latencyMs().get(e.id())).filter(v -> v != null).mapToDouble(Double::doubleValue)));
        return new ReplayReport(counts, prequential, againstBest, heldOut, consistency, latency);
    }

    /** {@link PrequentialComparison}, or null when no query came after a user's first rating. */
    private static PrequentialComparison againstBest(Map<String, Map<Integer, double[]>> byUser) {
        Map<Integer, double[]> stream = byUser.get(STREAM);
        if (stream == null || stream.size() < 2) {
            return null;
        }
        List<Integer> users = List.copyOf(stream.keySet());
        String best = null;
        double bestValue = Double.POSITIVE_INFINITY;
        for (Map.Entry<String, Map<Integer, double[]>> m : byUser.entrySet()) {
            String id = m.getKey();
            if (id.equals(STREAM) || id.equals(Method.META_ADAPTED.id()) || id.equals(Method.BASE_UNADAPTED.id())) {
                continue;
            }
            double v = meanOverUsers(m.getValue(), users);
            if (v < bestValue) {
                best = id;
                bestValue = v;
            }
        }
        if (best == null) {
            return null;
        }
        double[] d = new double[users.size()];
        for (int u = 0; u < d.length; u++) {
            d[u] = userMean(stream, users.get(u)) - userMean(byUser.get(best), users.get(u));
        }
        return new PrequentialComparison(best, bestValue, meanOverUsers(stream, users), Evaluation.Estimate.of(d));
    }

    private static double meanOverUsers(Map<Integer, double[]> losses, List<Integer> users) {
        double sum = 0;
        for (int u : users) {
            sum += userMean(losses, u);
        }
        return sum / users.size();
    }

    private static double userMean(Map<Integer, double[]> losses, int user) {
        double[] s = losses.get(user);
        return s[0] / s[1];
    }

    /** p50 and p99 in ms. */
    private static double[] quantiles(DoubleStream values) {
        double[] sorted = values.sorted().toArray();
        return new double[] {Measurements.percentile(sorted, 0.5), Measurements.percentile(sorted, 0.99)};
    }

    private static void add(Map<String, List<List<Double>>> errors, Map<String, Map<Integer, double[]>> byUser,
            String method, MovieLensReplay.Event e, double error) {
        add(errors, method, e.given(), error);
        if (e.given() >= 1) {
            double[] s = byUser.computeIfAbsent(method, m -> new LinkedHashMap<>())
                    .computeIfAbsent(e.rating().user(), u -> new double[2]);
            s[0] += error;
            s[1]++;
        }
    }

    private static void add(Map<String, List<List<Double>>> errors, String method, int given, double error) {
        List<List<Double>> buckets = errors.computeIfAbsent(method, m -> {
            List<List<Double>> b = new ArrayList<>();
            for (int i = 0; i < BUCKET_LABELS.length; i++) {
                b.add(new ArrayList<>());
            }
            return b;
        });
        buckets.get(bucket(given)).add(error);
    }

    /** The prequential loss (MAE for ratings) of {@code method} in a bucket, or NaN when the bucket is empty. */
    public double prequentialMae(String method, String bucket) {
        Evaluation.Estimate e = prequential.getOrDefault(method, Map.of()).get(bucket);
        return e == null ? Double.NaN : e.mean();
    }

    public long missingPredictions() {
        return ((Number) counts.get("missing_predictions")).longValue();
    }

    public long duplicatePredictions() {
        return ((Number) counts.get("duplicate_predictions")).longValue();
    }

    /** A summary for the terminal. */
    public String summary() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "users %s, samples %s, queries %s -> predictions %s (missing %s, "
                + "duplicates %s), dead letters %s%n", counts.get("users"), counts.get("samples"), counts.get("queries"),
                counts.get("predictions"), counts.get("missing_predictions"), counts.get("duplicate_predictions"),
                counts.get("dead_letters")));
        b.append(String.format(Locale.ROOT, "answered with the user's own support: %s of %s; mean |stream - local "
                + "adaptation| %.2e%n", consistency.get("support_size_as_expected"), consistency.get("support_size_checked"),
                ((Number) consistency.get("mean_abs_gap_to_local_adaptation")).doubleValue()));
        latencyMs.forEach((kind, q) -> b.append(String.format(Locale.ROOT, "latency query -> prediction (%s): p50 %.1f "
                + "ms, p99 %.1f ms%n", kind.replace('_', '-'), q[0], q[1])));
        b.append('\n');
        b.append(String.format(Locale.ROOT, "prequential %s by ratings the user had given:%n%-36s", prequentialMetric(),
                ""));
        for (String label : BUCKET_LABELS) {
            b.append(String.format(Locale.ROOT, "%8s", label));
        }
        b.append('\n');
        prequential.forEach((method, row) -> {
            b.append(String.format(Locale.ROOT, "%-36s", label(method)));
            for (String label : BUCKET_LABELS) {
                Evaluation.Estimate e = row.get(label);
                b.append(e == null ? String.format(Locale.ROOT, "%8s", "-")
                        : String.format(Locale.ROOT, "%8.4f", e.mean()));
            }
            b.append('\n');
        });
        if (againstBest != null) {
            b.append(String.format(Locale.ROOT, "%npipeline - best baseline (%s), prequential %s from the first rating "
                    + "on, paired by user (%d users): %+.4f ± %.4f (%+.1f%%)%n", label(againstBest.best()),
                    prequentialMetric(), againstBest.difference().tasks(), againstBest.difference().mean(),
                    againstBest.difference().ci95(), 100 * againstBest.relative()));
        }
        if (!heldOut.isEmpty()) {
            List<String> metrics = List.copyOf(heldOut.get(STREAM).metrics().keySet());
            b.append(String.format(Locale.ROOT, "%nheld-out items after each user's support (%d users):%n%-36s",
                    heldOut.get(STREAM).primary().tasks(), ""));
            metrics.forEach(m -> b.append(String.format(Locale.ROOT, " %-17s", m.toUpperCase(Locale.ROOT))));
            b.append('\n');
            heldOut.forEach((method, s) -> {
                b.append(String.format(Locale.ROOT, "%-36s", label(method)));
                metrics.forEach(m -> b.append(String.format(Locale.ROOT, " %-17s", pm(s.get(m)))));
                b.append('\n');
            });
        }
        return b.toString();
    }

    /** What the prequential figures are: the target's loss per query. */
    private String prequentialMetric() {
        return RatingTarget.BINARY.id().equals(counts.get("target")) ? "log-loss" : "MAE";
    }

    private static String label(String method) {
        if (method.equals(STREAM)) {
            return "pipeline (adapted in the stream)";
        }
        return Arrays.stream(Method.values()).filter(m -> m.id().equals(method)).findFirst().map(Method::label)
                .orElse(method);
    }

    private static String pm(Evaluation.Estimate e) {
        return String.format(Locale.ROOT, "%.4f ± %.4f", e.mean(), e.ci95());
    }

    /** The report as JSON. */
    public Map<String, Object> json() {
        Map<String, Object> out = new LinkedHashMap<>(counts);
        out.put("consistency", consistency);
        Map<String, Object> latency = new LinkedHashMap<>();
        latencyMs.forEach((kind, q) -> latency.put(kind, Map.of("p50_ms", q[0], "p99_ms", q[1])));
        out.put("latency", latency);
        Map<String, Object> pre = new LinkedHashMap<>();
        prequential.forEach((method, row) -> {
            Map<String, Object> r = new LinkedHashMap<>();
            row.forEach((bucket, e) -> r.put(bucket, ColdStartComparison.estimate(e)));
            pre.put(method, r);
        });
        out.put(prequentialMetric().equals("MAE") ? "prequential_mae_by_ratings_given"
                : "prequential_logloss_by_ratings_given", pre);
        if (againstBest != null) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("from_ratings_given", 1);
            c.put("best_baseline", againstBest.best());
            c.put("best_baseline_value", againstBest.bestValue());
            c.put("stream_value", againstBest.streamValue());
            c.put("difference", ColdStartComparison.estimate(againstBest.difference()));
            c.put("relative", againstBest.relative());
            out.put("prequential_stream_minus_best_baseline", c);
        }
        Map<String, Object> held = new LinkedHashMap<>();
        heldOut.forEach((method, s) -> {
            Map<String, Object> row = new LinkedHashMap<>();
            s.metrics().forEach((m, e) -> row.put(m, ColdStartComparison.estimate(e)));
            held.put(method, row);
        });
        out.put("held_out", held);
        return out;
    }

    /**
     * Prints the summary, writes the JSON report when {@code file} is given, and returns the exit
     * code: 0 when every query was answered exactly once.
     */
    public int finish(PrintStream out, Path file) throws IOException {
        out.println();
        out.print(summary());
        if (file != null) {
            write(file);
            out.println("report written to " + file.toAbsolutePath());
        }
        return missingPredictions() == 0 && duplicatePredictions() == 0 ? 0 : 1;
    }

    public void write(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), json());
    }
}

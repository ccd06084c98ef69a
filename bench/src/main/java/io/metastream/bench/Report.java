package io.metastream.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Turns one JMH run's JSON results ({@code -rf json -rff FILE}) into the Markdown table of
 * docs/BENCHMARKS.md: tasks per second of wall-clock and of benchmark-thread CPU time for every path
 * and batch size, each batched figure as a ratio to the two baselines of the same run, and the
 * targets. Usage: {@code java -cp bench/target/benchmarks.jar io.metastream.bench.Report FILE}.
 */
public final class Report {
    /** Issue 6: batched adaptation of at least this many tasks per second... */
    static final double TARGET_TASKS_PER_SECOND = 30_000;
    /** ...and at least this many times the one-task-at-a-time path. */
    static final double TARGET_RATIO = 3;

    private Report() {
    }

    /** One row: mean tasks/s over the measurement iterations (wall) and per CPU-second. */
    record Score(double wall, double wallError, double cpu) {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: Report JMH_RESULTS.json");
            System.exit(2);
        }
        JsonNode results = new ObjectMapper().readTree(Path.of(args[0]).toFile());
        Map<String, Score> scores = new LinkedHashMap<>();
        for (JsonNode r : results) {
            String name = r.get("benchmark").asText().replace("io.metastream.bench.", "");
            JsonNode batch = r.path("params").path("batchSize");
            JsonNode rule = r.path("params").path("innerStep");
            if (!rule.isMissingNode() && !rule.asText().equals("sgd")) {
                name += ", " + rule.asText(); // a row of its own, after the plain one
            }
            String key = batch.isMissingNode() ? name : name + "@" + batch.asText();
            JsonNode primary = r.get("primaryMetric");
            scores.put(key, new Score(primary.get("score").asDouble(), primary.get("scoreError").asDouble(),
                    meanOfRaw(r.path("secondaryMetrics").path("tasksPerCpuSecond").path("rawData"))));
        }
        System.out.print(render(scores));
    }

    static String render(Map<String, Score> scores) {
        Score one = scores.get("BaselineBenchmark.djlOneTaskAtATime");
        Score plain = scores.get("BaselineBenchmark.plainJava");
        StringBuilder out = new StringBuilder();
        out.append("| path | batch | tasks/s (wall) | tasks per CPU-s | ÷ DJL one at a time (wall / CPU) | ÷ plain Java (wall / CPU) |\n");
        out.append("| --- | ---: | ---: | ---: | ---: | ---: |\n");
        double bestBatched = 0;
        double bestRatio = 0;
        for (Map.Entry<String, Score> e : scores.entrySet()) {
            String[] parts = e.getKey().split("@");
            Score s = e.getValue();
            String ratios = "";
            if (parts[0].startsWith("AdaptationBenchmark.batched") && one != null && plain != null) {
                ratios = String.format(Locale.ROOT, " %s / %s | %s / %s |", ratio(s.wall(), one.wall()),
                        ratio(s.cpu(), one.cpu()), ratio(s.wall(), plain.wall()), ratio(s.cpu(), plain.cpu()));
                bestBatched = Math.max(bestBatched, s.wall());
                bestRatio = Math.max(bestRatio, s.wall() / one.wall());
            } else {
                ratios = " | |";
            }
            out.append(String.format(Locale.ROOT, "| %s | %s | %,.0f ± %,.0f | %,.0f |%s%n", label(parts[0]),
                    parts.length > 1 ? parts[1] : "1 (loop)", s.wall(), s.wallError(), s.cpu(), ratios));
        }
        if (one != null) {
            out.append(String.format(Locale.ROOT, "%nTargets (wall clock): best batched %,.0f tasks/s vs %,.0f: %s;"
                    + " best batched / one at a time %.1fx vs %.0fx: %s.%n", bestBatched, TARGET_TASKS_PER_SECOND,
                    bestBatched >= TARGET_TASKS_PER_SECOND ? "met" : "missed", bestRatio, TARGET_RATIO,
                    bestRatio >= TARGET_RATIO ? "met" : "missed"));
        }
        return out.toString();
    }

    private static String label(String benchmark) {
        return switch (benchmark) {
            case "AdaptationBenchmark.batched" -> "adapt, batched DJL";
            case "BaselineBenchmark.djlOneTaskAtATime" -> "adapt, DJL one task per call";
            case "BaselineBenchmark.plainJava" -> "adapt, plain Java loops";
            case "PredictionBenchmark.batched" -> "predict (1 query/task), batched DJL";
            default -> benchmark.startsWith("AdaptationBenchmark.batched, ")
                    ? "adapt, batched DJL, " + benchmark.substring("AdaptationBenchmark.batched, ".length())
                    : benchmark;
        };
    }

    private static String ratio(double a, double b) {
        return b > 0 ? String.format(Locale.ROOT, "%.1f", a / b) : "-";
    }

    /** JMH's rawData is one array of per-iteration values per fork. */
    private static double meanOfRaw(JsonNode raw) {
        double sum = 0;
        int n = 0;
        for (JsonNode fork : raw) {
            for (JsonNode v : fork) {
                sum += v.asDouble();
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }
}

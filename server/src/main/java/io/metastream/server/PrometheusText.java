package io.metastream.server;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Samples of a Prometheus text exposition ({@code /metrics}), for the demo's report and the tests
 * that check what an operator would scrape.
 */
public final class PrometheusText {
    private static final Pattern LINE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (\\S+)$");
    private static final Pattern TYPE = Pattern.compile("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\\S+)$");
    /** Words that name a unit in a metric name (Prometheus wants one, the base one, as a suffix). */
    private static final Set<String> UNITS = Set.of("seconds", "milliseconds", "microseconds", "nanoseconds",
            "minutes", "hours", "ms", "us", "ns", "bytes", "kilobytes", "megabytes", "gigabytes", "ratio",
            "percent", "tasks");

    private final Map<String, Double> samples;

    private PrometheusText(Map<String, Double> samples) {
        this.samples = samples;
    }

    /** Every sample line of {@code text}, keyed {@code name{labels}} as written; comments skipped. */
    public static PrometheusText parse(String text) {
        Map<String, Double> out = new TreeMap<>();
        for (String line : text.split("\n")) {
            Matcher m = LINE.matcher(line);
            if (m.matches()) {
                out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
            }
        }
        return new PrometheusText(out);
    }

    /** Every metric family of {@code text} (its {@code # TYPE} lines), by name, with its type. */
    public static Map<String, String> families(String text) {
        Map<String, String> out = new TreeMap<>();
        for (String line : text.split("\n")) {
            Matcher m = TYPE.matcher(line);
            if (m.matches()) {
                out.put(m.group(1), m.group(2));
            }
        }
        return out;
    }

    /** The unit words in a family's name: {@code [seconds]} for {@code metastream_query_latency_seconds}. */
    public static Set<String> units(String family) {
        Set<String> out = new TreeSet<>();
        for (String word : family.split("_")) {
            if (UNITS.contains(word)) {
                out.add(word);
            }
        }
        return out;
    }

    /**
     * The families of {@code text} whose names hold more than one unit, each with its units: what
     * Prometheus' naming conventions rule out (a name says what it measures, in one unit).
     */
    public static List<String> familiesMixingUnits(String text) {
        List<String> out = new ArrayList<>();
        for (String family : families(text).keySet()) {
            Set<String> units = units(family);
            if (units.size() > 1) {
                out.add(family + " " + units);
            }
        }
        return out;
    }

    /** Samples kept earlier by {@link #withPrefix} (a report's, say), keyed as {@link #parse} keys them. */
    public static PrometheusText of(Map<String, Double> samples) {
        return new PrometheusText(new TreeMap<>(samples));
    }

    /** The sum of the samples of {@code name} whose labels include every {@code label, value} pair given. */
    public double sum(String name, String... labelPairs) {
        if (labelPairs.length % 2 != 0) {
            throw new IllegalArgumentException("labels come in name, value pairs");
        }
        double total = 0;
        for (Map.Entry<String, Double> e : samples.entrySet()) {
            String key = e.getKey();
            int brace = key.indexOf('{');
            if (!(brace < 0 ? key : key.substring(0, brace)).equals(name)) {
                continue;
            }
            boolean all = true;
            for (int i = 0; i < labelPairs.length; i += 2) {
                all &= key.contains(labelPairs[i] + "=\"" + labelPairs[i + 1] + "\"");
            }
            if (all) {
                total += e.getValue();
            }
        }
        return total;
    }

    /** The samples whose name starts with {@code prefix}, histogram buckets left out. */
    public Map<String, Double> withPrefix(String prefix) {
        Map<String, Double> out = new TreeMap<>();
        samples.forEach((k, v) -> {
            if (k.startsWith(prefix) && !k.contains("_bucket{")) {
                out.put(k, v);
            }
        });
        return out;
    }
}

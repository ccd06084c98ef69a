package io.metastream.streamapp.demo;

import java.nio.file.Path;
import java.util.Map;

/**
 * The options of {@code demo}, for every scenario: each scenario's class says how it reads them
 * and which it does not take ({@code tasks}, {@code rate}, {@code trainIterations},
 * {@code partitions} and {@code overrides} every one does).
 *
 * <p>What the sinusoid demo simulates: {@code tasks} sinusoid tasks, each sending {@code shots} labelled
 * samples and then {@code queriesPerTask} queries, many tasks in flight at once so samples and
 * queries of different tasks interleave; {@code rate} events a second in total; a fraction
 * {@code badFraction} of extra malformed records of several kinds mixed in. {@code overrides} are
 * {@link io.metastream.streams.MetastreamConfig} keys applied on top of the demo's settings. With
 * {@code swap}, another version of the base is promoted halfway through and swapped in live.
 */
public record DemoOptions(int tasks, int shots, int queriesPerTask, int rate, double badFraction, long seed,
        Path dataDir, int trainIterations, int partitions, Map<String, String> overrides, boolean swap) {
    public DemoOptions {
        if (tasks < 1 || shots < 0 || queriesPerTask < 1 || rate < 1 || partitions < 1) {
            throw new IllegalArgumentException("tasks, queries per task, rate and partitions must be positive, "
                    + "shots non-negative: " + tasks + ", " + queriesPerTask + ", " + rate + ", " + partitions + ", "
                    + shots);
        }
        overrides = Map.copyOf(overrides);
        if (badFraction < 0 || badFraction > 0.5) {
            throw new IllegalArgumentException("badFraction must be in [0, 0.5], got " + badFraction);
        }
    }

    public static DemoOptions defaults(Path dataDir) {
        return new DemoOptions(1000, 10, 5, 1000, 0.01, 7L, dataDir, 5000, 4, Map.of(), false);
    }
}

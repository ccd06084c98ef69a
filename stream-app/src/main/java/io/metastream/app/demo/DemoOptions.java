package io.metastream.app.demo;

import java.nio.file.Path;

/**
 * What the demo simulates: {@code tasks} sinusoid tasks, each sending {@code shots} labelled
 * samples and then {@code queriesPerTask} queries, many tasks in flight at once so samples and
 * queries of different tasks interleave; {@code rate} events a second in total; a fraction
 * {@code badFraction} of extra malformed records of several kinds mixed in.
 */
public record DemoOptions(int tasks, int shots, int queriesPerTask, int rate, double badFraction, long seed,
        Path dataDir, int trainIterations, int partitions) {
    public DemoOptions {
        if (tasks < 1 || shots < 0 || queriesPerTask < 1 || rate < 1 || partitions < 1) {
            throw new IllegalArgumentException("tasks, queries per task, rate and partitions must be positive, "
                    + "shots non-negative: " + tasks + ", " + queriesPerTask + ", " + rate + ", " + partitions + ", "
                    + shots);
        }
        if (badFraction < 0 || badFraction > 0.5) {
            throw new IllegalArgumentException("badFraction must be in [0, 0.5], got " + badFraction);
        }
    }

    public static DemoOptions defaults(Path dataDir) {
        return new DemoOptions(1000, 10, 5, 2500, 0.01, 7L, dataDir, 5000, 4);
    }
}

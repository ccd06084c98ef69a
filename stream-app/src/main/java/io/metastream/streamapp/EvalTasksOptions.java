package io.metastream.streamapp;

import picocli.CommandLine.Option;

/** How many fresh test tasks an episodic {@code eval} draws, and from which seed. */
final class EvalTasksOptions {
    @Option(names = "--tasks", defaultValue = "600",
            description = "Test tasks (at least 600 for a reported figure). Default: ${DEFAULT-VALUE}.")
    int tasks;

    @Option(names = "--seed", defaultValue = "43",
            description = "Seed of the test tasks (training uses 42). Default: ${DEFAULT-VALUE}.")
    long seed;
}

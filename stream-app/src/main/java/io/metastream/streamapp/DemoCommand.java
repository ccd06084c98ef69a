package io.metastream.streamapp;

import io.metastream.streamapp.demo.DemoOptions;
import io.metastream.streamapp.demo.DemoReport;
import io.metastream.streamapp.demo.DemoRunner;
import io.metastream.streamapp.demo.DriftDemo;
import io.metastream.streamapp.recsys.MovieLensDemo;
import io.metastream.streamapp.recsys.ReplayReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run everything in this process: an embedded KRaft broker, the pipeline, and a simulated "
                + "population of sinusoid tasks (or, with --scenario movielens, the cold users of a MovieLens data "
                + "set replayed in time order); print live progress and a summary.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--scenario", defaultValue = "sinusoid",
            description = "sinusoid (default), movielens (cold-start recommendation, see --data) or drift (the "
                    + "population shifts halfway; the meta-trainer runs in the process and promotes a better base).")
    String scenario;

    @Option(names = "--data", description = "movielens: a MovieLens 100K or 1M folder; without it a synthetic data set "
            + "in the same format is written under --data-dir on first run.")
    Path data;

    @Option(names = "--users", defaultValue = "0", description = "movielens: replay at most this many cold users "
            + "(default: all).")
    int users;

    @Option(names = "--tasks", description = "Simulated tasks (default ${DEFAULT-VALUE}).", defaultValue = "1000")
    int tasks;

    @Option(names = "--shots", description = "Labelled samples per task before its queries (default ${DEFAULT-VALUE}).",
            defaultValue = "10")
    int shots;

    @Option(names = "--queries", description = "Queries per task (default ${DEFAULT-VALUE}).", defaultValue = "5")
    int queries;

    @Option(names = "--rate", description = "Events per second produced (default 1000 for sinusoid, 400 for "
            + "movielens, whose adaptations are larger).")
    Integer rate;

    @Option(names = "--bad-fraction", description = "Malformed records mixed in, per valid record "
            + "(default ${DEFAULT-VALUE}).", defaultValue = "0.01")
    double badFraction;

    @Option(names = "--seed", description = "Seed of the simulated population (default ${DEFAULT-VALUE}).",
            defaultValue = "7")
    long seed;

    @Option(names = "--data-dir", description = "Where the model store lives; the base is meta-trained into it on "
            + "first run (default ${DEFAULT-VALUE}).", defaultValue = "metastream-data")
    Path dataDir;

    @Option(names = "--train-iterations", description = "Meta-training iterations on first run "
            + "(default 5000 for sinusoid, 2000 for movielens).")
    Integer trainIterations;

    @Option(names = "--partitions", description = "Partitions of the demo topics (default ${DEFAULT-VALUE}).",
            defaultValue = "4")
    int partitions;

    @Option(names = "--set", description = "Override a pipeline setting, e.g. --set processing.guarantee=at_least_once "
            + "or --set streams.max.task.idle.ms=50 (repeatable).")
    Map<String, String> overrides = new HashMap<>();

    @Option(names = "--swap", description = "Halfway through, promote another version of the base (meta-training "
            + "one on first use) and watch the running pipeline switch to it.")
    boolean swap;

    @Option(names = "--report", description = "Write the JSON report here.")
    Path report;

    @Override
    public Integer call() throws Exception {
        if (scenario.equals("movielens")) {
            return movieLens();
        }
        if (scenario.equals("drift")) {
            DriftDemo.Report r = new DriftDemo(
                    new DriftDemo.Options(10, 60, 12, seed, overrides), System.out).run();
            DriftDemo.print(r, System.out);
            return r.promotions() > 0 ? 0 : 1;
        }
        if (!scenario.equals("sinusoid")) {
            throw new IllegalArgumentException("unknown scenario '" + scenario + "' (available: sinusoid, movielens, "
                    + "drift)");
        }
        DemoOptions options = new DemoOptions(tasks, shots, queries,
                rate != null ? rate : DemoOptions.defaults(dataDir).rate(), badFraction, seed, dataDir,
                trainIterations != null ? trainIterations : DemoOptions.defaults(dataDir).trainIterations(),
                partitions, overrides, swap);
        DemoRunner runner = new DemoRunner(options, System.out);
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            // SIGTERM: stop the traffic, let the pipeline drain and close, then the broker.
            runner.requestStop();
            try {
                finished.await(90, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "demo-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return finish(runner.run());
        } finally {
            finished.countDown();
        }
    }

    private Integer movieLens() throws IOException {
        ReplayReport result = new MovieLensDemo(new MovieLensDemo.Options(data, dataDir,
                rate != null ? rate : MovieLensDemo.DEFAULT_RATE, users, partitions,
                trainIterations, overrides), System.out).run();
        return result.finish(System.out, report);
    }

    private Integer finish(DemoReport result) throws IOException {
        System.out.println();
        System.out.println(result.summary());
        if (report != null) {
            result.write(report);
            System.out.println("report written to " + report.toAbsolutePath());
        }
        boolean complete = result.missingPredictions() == 0 && result.duplicatePredictions() == 0
                && result.deadLetters() == result.deadLettersInjected();
        return complete ? 0 : 1;
    }
}

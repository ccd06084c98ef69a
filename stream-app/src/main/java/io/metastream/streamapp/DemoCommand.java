package io.metastream.streamapp;

import io.metastream.streamapp.demo.DemoOptions;
import io.metastream.streamapp.demo.DemoReport;
import io.metastream.streamapp.demo.DemoRunner;
import io.metastream.data.omniglot.Omniglot;
import io.metastream.streamapp.demo.DriftDemo;
import io.metastream.streamapp.demo.OmniglotDemo;
import io.metastream.training.protonet.ProtoNetPlan;
import io.metastream.streamapp.recsys.MovieLensDemo;
import io.metastream.streamapp.recsys.ReplayReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run everything in this process: an embedded KRaft broker, the pipeline, and a simulated "
                + "population of sinusoid tasks (or, with --scenario movielens, the cold users of a MovieLens data "
                + "set replayed in time order; with --scenario drift, a population that shifts while the "
                + "meta-trainer runs; with --scenario omniglot, N-way K-shot episodes of held-out Omniglot alphabets "
                + "classified by a prototypical network, scored against the same episodes offline); print live "
                + "progress and a summary, and with --report write it as JSON.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--scenario", defaultValue = "sinusoid",
            description = "sinusoid (default), movielens (cold-start recommendation, see --data), drift (the "
                    + "population shifts halfway; the meta-trainer runs in the process and promotes a better base) or "
                    + "omniglot (few-shot classification of characters from alphabets held out of training).")
    String scenario;

    @Option(names = "--data", description = "movielens: a MovieLens 100K or 1M folder; without it a synthetic data set "
            + "in the same format is written under --data-dir on first run. omniglot: a folder in the full Omniglot "
            + "layout <split>/<Alphabet>/characterNN/*.png, its images_evaluation alphabets held out; without it the "
            + "background-small archives bundled in the jar, Balinese, Early_Aramaic and Greek held out.")
    Path data;

    @Option(names = "--ways", description = "omniglot: classes per episode, N (default "
            + OmniglotDemo.DEFAULT_WAYS + ").")
    Integer ways;

    @Option(names = {"--tasks", "--users"}, description = "Tasks: simulated sinusoid tasks (default 1000), drift "
            + "users in 10 rounds (default 600, rounded up to a multiple of 10), movielens cold users replayed "
            + "(default: all), or omniglot episodes (default " + OmniglotDemo.DEFAULT_TASKS + ").")
    Integer tasks;

    @Option(names = "--shots", description = "sinusoid: labelled samples per task before its queries (default 10); "
            + "omniglot: support images per class, K (default " + OmniglotDemo.DEFAULT_SHOTS + ").")
    Integer shots;

    @Option(names = "--queries", description = "sinusoid: queries per task (default 5); omniglot: query images per "
            + "class (default " + OmniglotDemo.DEFAULT_QUERIES + ").")
    Integer queries;

    @Option(names = "--rate", description = "Events per second produced (default 1000 for sinusoid and drift, 400 "
            + "for movielens, whose adaptations are larger).")
    Integer rate;

    @Option(names = "--bad-fraction", description = "sinusoid: malformed records mixed in, per valid record "
            + "(default ${DEFAULT-VALUE}).", defaultValue = "0.01")
    double badFraction;

    @Option(names = "--seed", description = "Seed of the simulated population (default ${DEFAULT-VALUE}).",
            defaultValue = "7")
    long seed;

    @Option(names = "--data-dir", description = "sinusoid and movielens: where the model store lives; the base is "
            + "meta-trained into it on first run (default ${DEFAULT-VALUE}). drift trains its own in a scratch "
            + "directory.", defaultValue = "metastream-data")
    Path dataDir;

    @Option(names = "--train-iterations", description = "Meta-training iterations of the base on first run "
            + "(default 5000 for sinusoid; for movielens, as many as `train movielens` runs with its default "
            + "recipe (see its --help); 1500 episodes "
            + "for omniglot; drift trains its frozen base every run, 1500).")
    Integer trainIterations;

    @Option(names = "--partitions", description = "Partitions of the demo topics (default ${DEFAULT-VALUE}).",
            defaultValue = "4")
    int partitions;

    @Option(names = "--set", description = "Override a pipeline setting, e.g. --set processing.guarantee=at_least_once "
            + "or --set streams.max.task.idle.ms=50 (repeatable).")
    Map<String, String> overrides = new HashMap<>();

    @Option(names = "--swap", description = "sinusoid: halfway through, promote another version of the base (meta-training "
            + "one on first use) and watch the running pipeline switch to it.")
    boolean swap;

    @Option(names = "--report", description = "Write the JSON report here (every scenario).")
    Path report;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Options that only some scenarios take; given to another, they are refused rather than ignored. */
    private static final Map<String, List<String>> SCENARIO_ONLY = Map.of(
            "--data", List.of("movielens", "omniglot"),
            "--ways", List.of("omniglot"),
            "--shots", List.of("sinusoid", "omniglot"),
            "--queries", List.of("sinusoid", "omniglot"),
            "--bad-fraction", List.of("sinusoid"),
            "--swap", List.of("sinusoid"),
            "--data-dir", List.of("sinusoid", "movielens", "omniglot"));

    @Override
    public Integer call() throws Exception {
        if (!List.of("sinusoid", "movielens", "drift", "omniglot").contains(scenario)) {
            throw new IllegalArgumentException("unknown scenario '" + scenario + "' (available: sinusoid, movielens, "
                    + "drift, omniglot)");
        }
        SCENARIO_ONLY.forEach((option, scenarios) -> {
            if (!scenarios.contains(scenario) && spec.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + " applies to the " + String.join(" and ", scenarios)
                        + " scenario" + (scenarios.size() > 1 ? "s" : "") + ", not to " + scenario);
            }
        });
        return switch (scenario) {
            case "movielens" -> movieLens();
            case "drift" -> drift();
            case "omniglot" -> omniglot();
            default -> sinusoid();
        };
    }

    /** The common options, with the scenario's defaults where none was given. */
    private DemoOptions options(int defaultTasks, int defaultRate, int defaultIterations) {
        DemoOptions d = DemoOptions.defaults(dataDir);
        return options(defaultTasks, d.shots(), d.queriesPerTask(), defaultRate, defaultIterations);
    }

    private DemoOptions options(int defaultTasks, int defaultShots, int defaultQueries, int defaultRate,
            int defaultIterations) {
        return new DemoOptions(tasks != null ? tasks : defaultTasks, shots != null ? shots : defaultShots,
                queries != null ? queries : defaultQueries,
                rate != null ? rate : defaultRate, badFraction, seed, dataDir,
                trainIterations != null ? trainIterations : defaultIterations, partitions, overrides, swap);
    }

    private Integer sinusoid() throws IOException {
        DemoOptions defaults = DemoOptions.defaults(dataDir);
        DemoRunner runner = new DemoRunner(options(defaults.tasks(), defaults.rate(), defaults.trainIterations()),
                System.out);
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
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it waits for the countDown above
            }
        }
    }

    private Integer drift() throws Exception {
        DriftDemo.Report r = new DriftDemo(options(DriftDemo.DEFAULT_USERS, DemoOptions.defaults(dataDir).rate(),
                DriftDemo.DEFAULT_TRAIN_ITERATIONS), System.out).run();
        DriftDemo.print(r, System.out);
        if (report != null) {
            r.write(report);
            System.out.println("report written to " + report.toAbsolutePath());
        }
        return r.promotions() > 0 ? 0 : 1;
    }

    private Integer movieLens() throws IOException {
        // Every cold user unless --tasks says fewer.
        ReplayReport result = new MovieLensDemo(data, options(Integer.MAX_VALUE, MovieLensDemo.DEFAULT_RATE,
                MovieLensDemo.RECIPE.plan().iterations()), System.out).run();
        return result.finish(System.out, report);
    }

    private Integer omniglot() throws IOException {
        Omniglot omniglot = OmniglotData.load(data);
        List<String> test = OmniglotData.testAlphabets(omniglot, data, null);
        OmniglotDemo.Report r = new OmniglotDemo(omniglot, test, ways != null ? ways : OmniglotDemo.DEFAULT_WAYS,
                options(OmniglotDemo.DEFAULT_TASKS, OmniglotDemo.DEFAULT_SHOTS, OmniglotDemo.DEFAULT_QUERIES,
                        OmniglotDemo.DEFAULT_RATE, ProtoNetPlan.bundledDefault().episodes()), System.out).run();
        System.out.println();
        System.out.println(r.summary());
        if (report != null) {
            r.write(report);
            System.out.println("report written to " + report.toAbsolutePath());
        }
        return r.complete() && r.streamMatchesOffline() ? 0 : 1;
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

package io.metastream.streamapp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Score a stored base on fresh tasks: query MSE after K-shot adaptation, mean and 95%% "
                + "confidence interval over tasks, printed and written as JSON.")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model store root directory.")
    Path model;

    @Option(names = "--ref",
            description = "name, name@version or name@alias; a bare name means its newest version (default: the dataset).")
    String ref;

    @Option(names = "--dataset", defaultValue = "sinusoid", description = "Task family: sinusoid, omniglot, or "
            + "movielens (MAE, RMSE and nDCG@3 of the meta-learned model and every baseline on cold users).")
    String dataset;

    @Option(names = "--shots", description = "Support examples per task (K), per class for omniglot; default 10 "
            + "for sinusoid, 1 for omniglot.")
    Integer shots;

    @Option(names = "--ways", defaultValue = "5", description = "omniglot only: classes per test task (N).")
    int ways;

    @Mixin
    MovieLensOptions movielens = new MovieLensOptions();

    @Option(names = "--data", description = "omniglot: a folder in the full Omniglot layout "
            + "(default: the bundled background-small archives); movielens: the MovieLens folder the model was "
            + "trained on (required).")
    Path data;

    @Option(names = "--test-alphabets", split = ",",
            description = "omniglot only: alphabets to test on (default: the model's held-out alphabets).")
    List<String> testAlphabets;

    @Option(names = "--steps", description = "Inner steps (default: the model's own; 0 scores the unadapted base). "
            + "Not for task-encoder and anil-ridge, which adapt without steps.")
    Integer steps;

    @Option(names = "--tasks", defaultValue = "600", description = "Test tasks (at least 600 for a reported figure).")
    int tasks;

    @Option(names = "--queries", description = "Query points per task (default 100); omniglot: per class "
            + "(default 15).")
    Integer queries;

    @Option(names = "--seed", defaultValue = "43", description = "Seed of the test tasks (training uses 42).")
    long seed;

    @Option(names = "--report", description = "Write the result as JSON to this file.")
    Path report;

    @Override
    public Integer call() throws IOException {
        if (dataset.equals("omniglot")) {
            return OmniglotEval.run(this);
        }
        if (dataset.equals("movielens")) {
            return MovieLensEval.run(this);
        }
        if (!dataset.equals("sinusoid")) {
            throw new IllegalArgumentException("unknown dataset '" + dataset
                    + "' (available: sinusoid, omniglot, movielens)");
        }
        int shots = this.shots != null ? this.shots : 10;
        int queries = this.queries != null ? this.queries : 100;
        String ref = this.ref != null ? this.ref : "sinusoid";
        if (tasks < 2 || shots < 1 || queries < 1) {
            throw new IllegalArgumentException("--tasks must be >= 2 and --shots, --queries >= 1, got " + tasks
                    + ", " + shots + ", " + queries);
        }
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(model);
        int at = ref.indexOf('@');
        String name = at < 0 ? ref : ref.substring(0, at);
        String version = at >= 0 ? ref.substring(at + 1) : newest(store.versions(name));
        BaseModel base = BaseModelArtifacts.load(store, name, version);
        if (steps != null && BaseModelArtifacts.STEP_FREE_LEARNERS.contains(base.learner())) {
            throw new IllegalArgumentException(base.version() + " is a " + base.learner() + " base, which adapts "
                    + "without inner steps: drop --steps (the report's 'unadapted' is the cold prediction)");
        }
        AdaptationSettings settings = steps == null ? base.adaptation() : base.adaptation().withSteps(steps);
        Evaluation.Report r;
        long start = System.nanoTime();
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            r = Evaluation.evaluate(learner, base, settings, new SinusoidTasks(), tasks, shots, queries, seed, 200);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("metric", "mse");
        out.put("mean", r.adapted().mean());
        out.put("ci95", r.adapted().ci95());
        out.put("tasks", r.adapted().tasks());
        out.put("model", base.version());
        out.put("learner", base.learner());
        out.put("dataset", new SinusoidTasks().id());
        out.put("shots", shots);
        out.put("steps", settings.steps());
        out.put("step_size", base.hasStepSizes() ? "per-parameter"
                : BaseModelArtifacts.STEP_FREE_LEARNERS.contains(base.learner()) ? "none" : settings.stepSize());
        out.put("queries_per_task", queries);
        out.put("seed", seed);
        out.put("unadapted", Map.of("mean", r.base().mean(), "ci95", r.base().ci95()));
        out.put("seconds", Math.round(seconds * 100) / 100.0);
        String loop = BaseModelArtifacts.STEP_FREE_LEARNERS.contains(base.learner()) ? "no inner steps"
                : settings.steps() + " steps";
        System.out.printf(Locale.ROOT, "%s (%s) %d-shot, %s: MSE %.4f ± %.4f over %d tasks (unadapted %.4f ± %.4f)%n",
                base.version(), base.learner(), shots, loop, r.adapted().mean(), r.adapted().ci95(),
                r.adapted().tasks(), r.base().mean(), r.base().ci95());
        if (report != null) {
            Path parent = report.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(report.toFile(), out);
        }
        return 0;
    }

    static String newest(List<ModelManifest> versions) {
        return versions.get(versions.size() - 1).version();
    }
}

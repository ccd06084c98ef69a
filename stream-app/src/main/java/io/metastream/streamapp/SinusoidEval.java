package io.metastream.streamapp;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code eval sinusoid}: query MSE of a stored base after K-shot adaptation to fresh sine waves. */
@Command(name = "sinusoid", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Score a stored base (default ref: sinusoid) on fresh sine-wave tasks: query MSE after "
                + "K-shot adaptation, mean and 95%% confidence interval over tasks, printed and written as JSON.")
final class SinusoidEval implements Callable<Integer> {
    @Option(names = "--shots", paramLabel = "K", defaultValue = "10",
            description = "Support points per task. Default: ${DEFAULT-VALUE}.")
    int shots;

    @Option(names = "--queries", defaultValue = "100", description = "Query points per task. Default: "
            + "${DEFAULT-VALUE}.")
    int queries;

    @Option(names = "--steps", description = "Inner steps (default: the model's own; 0 scores the unadapted base). "
            + "Not for task-encoder and anil-ridge, which adapt without steps.")
    Integer steps;

    @Mixin
    EvalTasksOptions test = new EvalTasksOptions();

    @Mixin
    EvalOptions options = new EvalOptions();

    @Override
    public Integer call() throws IOException {
        if (test.tasks < 2 || shots < 1 || queries < 1) {
            throw new IllegalArgumentException("--tasks must be >= 2 and --shots, --queries >= 1, got " + test.tasks
                    + ", " + shots + ", " + queries);
        }
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = options.open();
        BaseModel base = BaseModelArtifacts.load(store, options.name("sinusoid"),
                options.versionOrNewest(store, "sinusoid"));
        boolean stepFree = base.kind().map(LearnerKind::stepFree).orElse(false);
        if (steps != null && stepFree) {
            throw new IllegalArgumentException(base.version() + " is a " + base.learner() + " base, which adapts "
                    + "without inner steps: drop --steps (the report's 'unadapted' is the cold prediction)");
        }
        AdaptationSettings settings = steps == null ? base.adaptation() : base.adaptation().withSteps(steps);
        Evaluation.Report r;
        long start = System.nanoTime();
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            r = Evaluation.evaluate(learner, base, settings, new SinusoidTasks(), test.tasks, shots, queries,
                    test.seed, 200);
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
        out.put("step_size", base.hasStepSizes() ? "per-parameter" : stepFree ? "none" : settings.stepSize());
        out.put("queries_per_task", queries);
        out.put("seed", test.seed);
        out.put("unadapted", Map.of("mean", r.base().mean(), "ci95", r.base().ci95()));
        out.put("seconds", Math.round(seconds * 100) / 100.0);
        String loop = stepFree ? "no inner steps" : settings.steps() + " steps";
        System.out.printf(Locale.ROOT, "%s (%s) %d-shot, %s: MSE %.4f ± %.4f over %d tasks (unadapted %.4f ± %.4f)%n",
                base.version(), base.learner(), shots, loop, r.adapted().mean(), r.adapted().ci95(),
                r.adapted().tasks(), r.base().mean(), r.base().ci95());
        options.write(out);
        return 0;
    }
}

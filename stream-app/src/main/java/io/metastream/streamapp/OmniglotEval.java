package io.metastream.streamapp;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.AdaptationSettings;
import io.metastream.data.omniglot.OneShotRuns;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.ClassProbabilities;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.SampleSet;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.training.OmniglotMlpTraining;
import io.metastream.training.protonet.ProtoNetEvaluation;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code eval omniglot}: N-way K-shot accuracy of a stored protonet, or of an MLP base with a
 * softmax head, on held-out alphabets; or, with {@code --official-runs}, on the twenty fixed
 * 20-way 1-shot runs of Lake et al. 2015.
 */
@Command(name = "omniglot", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Score a stored prototypical network or cross-entropy MLP base (default ref: omniglot) on "
                + "N-way K-shot tasks of held-out alphabets: accuracy, mean and 95%% confidence interval over tasks, "
                + "printed and written as JSON. An MLP base adapts with its own inner loop and classifies over the "
                + "task's N classes. A protonet uses every core, an MLP one. With --official-runs it scores "
                + "Lake et al.'s (2015) fixed one-shot runs instead.")
final class OmniglotEval implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", description = "A folder in the full Omniglot layout. Default: "
            + "the bundled background-small archives.")
    Path data;

    @Option(names = "--test-alphabets", split = ",",
            description = "Alphabets to test on. Default: the model's held-out alphabets.")
    List<String> testAlphabets;

    @Option(names = "--ways", defaultValue = "5", description = "Classes per test task (N). Default: "
            + "${DEFAULT-VALUE}.")
    int ways;

    @Option(names = "--shots", paramLabel = "K", defaultValue = "1",
            description = "Support images per class. Default: ${DEFAULT-VALUE}.")
    int shots;

    @Option(names = "--queries", defaultValue = "15", description = "Query images per class. Default: "
            + "${DEFAULT-VALUE}.")
    int queries;

    @Option(names = "--steps", description = "MLP bases: inner steps to adapt with, in place of the base's own "
            + "(Finn et al. 2017 train with 1 and test with 3).")
    Integer steps;

    @Option(names = "--official-runs", paramLabel = "DIR", description = "Score Lake et al.'s (Science 2015) "
            + "one-shot classification runs instead of drawn tasks: a folder of run folders (run01..run20), each "
            + "with training/, test/ and class_labels.txt, or one run folder. Each run is adapted on its training "
            + "images (one per class) and its test images classified among them; prints each run's accuracy and "
            + "the mean with its 95%% CI over runs. --data, --test-alphabets, --ways, --shots, --queries, --tasks "
            + "and --seed do not apply.")
    Path officialRuns;

    @Mixin
    EvalTasksOptions test = new EvalTasksOptions();

    @Mixin
    EvalOptions options = new EvalOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (officialRuns != null) {
            return scoreOfficialRuns();
        }
        if (test.tasks < 2 || ways < 2 || shots < 1 || queries < 1) {
            throw new IllegalArgumentException("--tasks and --ways must be >= 2 and --shots, --queries >= 1, got "
                    + test.tasks + ", " + ways + ", " + shots + ", " + queries);
        }
        LocalDirectoryModelStore store = options.open();
        String name = options.name("omniglot");
        String version = options.versionOrNewest(store, "omniglot");
        ModelManifest manifest = startEngineFor(store, name, version);
        boolean protoNet = LearnerKind.PROTONET.id().equals(manifest.learner());
        Omniglot omniglot = OmniglotData.load(data);
        List<String> alphabets = testAlphabets != null ? testAlphabets : heldOut(manifest);
        List<Omniglot.Character> characters = omniglot.characters(alphabets); // throws naming an unknown alphabet
        long start = System.nanoTime();
        Evaluation.Estimate e;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("metric", "accuracy");
        if (protoNet && steps != null) {
            throw new IllegalArgumentException(manifest.ref() + " is a protonet: it adapts without steps, drop --steps");
        }
        if (protoNet) {
            BaseModelArtifacts.ProtoNetArtifact model = BaseModelArtifacts.loadProtoNet(store, name, version);
            e = ProtoNetEvaluation.evaluate(model.embedding(), characters, ways, shots, queries, test.tasks, test.seed,
                    DjlRuntime.defaultDevice());
        } else {
            BaseModel base = BaseModelArtifacts.load(store, name, version);
            if (!base.classifies()) {
                throw new IllegalArgumentException(manifest.ref() + " does not classify: it was trained with loss "
                        + base.adaptation().loss().id() + ", not cross-entropy");
            }
            Evaluation.Report r;
            try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
                AdaptationSettings settings = steps == null ? base.adaptation() : base.adaptation().withSteps(steps);
                r = OmniglotMlpTraining.evaluate(learner, base, settings, characters, ways, shots, queries, test.tasks,
                        test.seed);
            }
            e = r.adapted();
            out.put("inner_steps", steps == null ? base.adaptation().steps() : steps);
            out.put("unadapted_mean", r.base().mean());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        out.put("mean", e.mean());
        out.put("ci95", e.ci95());
        out.put("tasks", e.tasks());
        out.put("model", manifest.ref());
        out.put("learner", manifest.learner());
        out.put("dataset", "omniglot");
        out.put("data_source", omniglot.source());
        out.put("test_alphabets", alphabets);
        out.put("ways", ways);
        out.put("shots", shots);
        out.put("queries_per_class", queries);
        out.put("protocol", "classes within one alphabet, no rotations");
        out.put("seed", test.seed);
        out.put("seconds", Math.round(seconds * 100) / 100.0);
        System.out.printf(Locale.ROOT, "%s (%s) %d-way %d-shot on %s: accuracy %.4f ± %.4f over %d tasks%n",
                manifest.ref(), manifest.learner(), ways, shots, alphabets, e.mean(), e.ci95(), e.tasks());
        options.write(out);
        return 0;
    }

    /**
     * The manifest of the version to score, with libtorch started for it: every core for a
     * protonet's convolutions, one for an MLP, whose ops are small (as in train omniglot).
     */
    private static ModelManifest startEngineFor(LocalDirectoryModelStore store, String name, String version) {
        ModelManifest manifest = store.load(name, version).manifest();
        boolean protoNet = LearnerKind.PROTONET.id().equals(manifest.learner());
        DjlRuntime.start(protoNet ? Runtime.getRuntime().availableProcessors() : 1);
        return manifest;
    }

    /**
     * Every run adapted in one call through the learner the stream serves the base with, and its
     * test images classified over its classes (the training images, in file-name order).
     */
    private int scoreOfficialRuns() throws IOException {
        // The runs are scored with the base's own adaptation, as the stream serves it.
        for (String drawn : List.of("--data", "--test-alphabets", "--ways", "--shots", "--queries", "--tasks",
                "--seed", "--steps")) {
            if (spec.commandLine().getParseResult().hasMatchedOption(drawn)) {
                throw new ParameterException(spec.commandLine(), "--official-runs takes no " + drawn
                        + ": the runs fix their images and classes");
            }
        }
        LocalDirectoryModelStore store = options.open();
        String name = options.name("omniglot");
        String version = options.versionOrNewest(store, "omniglot");
        ModelManifest manifest = startEngineFor(store, name, version);
        boolean protoNet = LearnerKind.PROTONET.id().equals(manifest.learner());
        BaseModel base = BaseModelArtifacts.load(store, name, version);
        if (!base.classifies()) {
            throw new IllegalArgumentException(manifest.ref() + " (" + manifest.learner() + ") does not classify: it "
                    + "was trained with loss " + base.adaptation().loss().id() + "; the runs need a protonet or a "
                    + "base trained with --loss cross-entropy");
        }
        List<OneShotRuns.Run> runs = OneShotRuns.read(officialRuns);
        int ways = runs.stream().mapToInt(OneShotRuns.Run::classes).max().orElseThrow();
        if (ways > base.maxClasses()) {
            throw new IllegalArgumentException(manifest.ref() + " classifies at most " + base.maxClasses()
                    + " classes; a run has " + ways);
        }
        long start = System.nanoTime();
        List<SampleSet> supports = new ArrayList<>(runs.size());
        List<float[][]> queries = new ArrayList<>(runs.size());
        int[] classes = new int[runs.size()];
        for (int r = 0; r < runs.size(); r++) {
            OneShotRuns.Run run = runs.get(r);
            float[] targets = new float[run.classes()];
            for (int c = 0; c < targets.length; c++) {
                targets[c] = c;
            }
            supports.add(new SampleSet(run.training(), targets));
            queries.add(run.test());
            classes[r] = run.classes();
        }
        float[][][] probabilities;
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            AdaptedBatch adapted = learner.adapt(base, supports, base.adaptation());
            List<float[]> states = adapted.tasks().stream().map(t -> t.state()).toList();
            probabilities = learner.classify(base, states, queries, classes);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double[] accuracy = new double[runs.size()];
        Map<String, Object> perRun = new LinkedHashMap<>();
        for (int r = 0; r < runs.size(); r++) {
            OneShotRuns.Run run = runs.get(r);
            int right = 0;
            for (int k = 0; k < run.testClasses().length; k++) {
                if (ClassProbabilities.top(probabilities[r][k]) == run.testClasses()[k]) {
                    right++;
                }
            }
            accuracy[r] = (double) right / run.testClasses().length;
            perRun.put(run.name(), accuracy[r]);
            System.out.printf(Locale.ROOT, "%s: %d-way 1-shot, %d/%d right, accuracy %.4f%n", run.name(),
                    run.classes(), right, run.testClasses().length, accuracy[r]);
        }
        Evaluation.Estimate e = Evaluation.Estimate.of(accuracy);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("metric", "accuracy");
        out.put("mean", e.mean());
        out.put("ci95", e.ci95());
        out.put("error_rate", 1 - e.mean());
        out.put("runs", e.tasks());
        out.put("per_run", perRun);
        out.put("model", manifest.ref());
        out.put("learner", manifest.learner());
        if (!protoNet) {
            out.put("inner_steps", base.adaptation().steps());
        }
        out.put("dataset", "omniglot");
        out.put("data_source", officialRuns.toAbsolutePath().toString());
        out.put("protocol", "Lake et al. 2015 one-shot classification runs: each run adapted on its training images, "
                + "one per class, and its test images classified among them; CI over runs");
        out.put("ways", ways);
        out.put("shots", 1);
        out.put("seconds", Math.round(seconds * 100) / 100.0);
        System.out.printf(Locale.ROOT, "%s (%s) on %d official one-shot run%s (%s): accuracy %.4f ± %.4f, error "
                + "rate %.2f%%%n", manifest.ref(), manifest.learner(), e.tasks(), e.tasks() == 1 ? "" : "s",
                officialRuns, e.mean(), e.ci95(), 100 * (1 - e.mean()));
        options.write(out);
        return 0;
    }

    /** The test alphabets recorded in the model's provenance at training time. */
    @SuppressWarnings("unchecked")
    private static List<String> heldOut(ModelManifest manifest) {
        Object v = manifest.provenance().get("test_alphabets");
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(manifest.ref() + " records no test_alphabets; pass "
                    + "--test-alphabets");
        }
        return (List<String>) list;
    }
}

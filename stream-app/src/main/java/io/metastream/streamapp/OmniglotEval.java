package io.metastream.streamapp;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.training.OmniglotMlpTraining;
import io.metastream.training.protonet.ProtoNetEvaluation;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code eval omniglot}: N-way K-shot accuracy of a stored protonet, or of an MLP base with a
 * softmax head, on held-out alphabets.
 */
@Command(name = "omniglot", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Score a stored prototypical network or cross-entropy MLP base (default ref: omniglot) on "
                + "N-way K-shot tasks of held-out alphabets: accuracy, mean and 95%% confidence interval over tasks, "
                + "printed and written as JSON. An MLP base adapts with its own inner loop and classifies over the "
                + "task's N classes. A protonet uses every core, an MLP one.")
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

    @Mixin
    EvalTasksOptions test = new EvalTasksOptions();

    @Mixin
    EvalOptions options = new EvalOptions();

    @Override
    public Integer call() throws IOException {
        if (test.tasks < 2 || ways < 2 || shots < 1 || queries < 1) {
            throw new IllegalArgumentException("--tasks and --ways must be >= 2 and --shots, --queries >= 1, got "
                    + test.tasks + ", " + ways + ", " + shots + ", " + queries);
        }
        LocalDirectoryModelStore store = options.open();
        String name = options.name("omniglot");
        String version = options.versionOrNewest(store, "omniglot");
        ModelManifest manifest = store.load(name, version).manifest();
        boolean protoNet = LearnerKind.PROTONET.id().equals(manifest.learner());
        // An MLP's ops are small: one thread, as in train omniglot.
        DjlRuntime.start(protoNet ? Runtime.getRuntime().availableProcessors() : 1);
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

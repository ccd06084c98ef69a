package io.metastream.streamapp;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
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

/** {@code eval omniglot}: N-way K-shot accuracy of a stored protonet on held-out alphabets. */
@Command(name = "omniglot", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Score a stored prototypical network (default ref: omniglot) on N-way K-shot tasks of "
                + "held-out alphabets: accuracy, mean and 95%% confidence interval over tasks, printed and written "
                + "as JSON. Uses every core.")
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
        DjlRuntime.start(Runtime.getRuntime().availableProcessors());
        LocalDirectoryModelStore store = options.open();
        BaseModelArtifacts.ProtoNetArtifact model = BaseModelArtifacts.loadProtoNet(store, options.name("omniglot"),
                options.versionOrNewest(store, "omniglot"));
        Omniglot omniglot = OmniglotData.load(data);
        List<String> alphabets = testAlphabets != null ? testAlphabets : heldOut(model);
        omniglot.characters(alphabets); // throws naming an unknown alphabet
        long start = System.nanoTime();
        Evaluation.Estimate e = ProtoNetEvaluation.evaluate(model.embedding(), omniglot.characters(alphabets), ways,
                shots, queries, test.tasks, test.seed, DjlRuntime.defaultDevice());
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("metric", "accuracy");
        out.put("mean", e.mean());
        out.put("ci95", e.ci95());
        out.put("tasks", e.tasks());
        out.put("model", model.manifest().ref());
        out.put("learner", model.manifest().learner());
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
                model.manifest().ref(), LearnerKind.PROTONET.id(), ways, shots, alphabets, e.mean(), e.ci95(),
                e.tasks());
        options.write(out);
        return 0;
    }

    /** The test alphabets recorded in the model's provenance at training time. */
    @SuppressWarnings("unchecked")
    private static List<String> heldOut(BaseModelArtifacts.ProtoNetArtifact model) {
        Object v = model.manifest().provenance().get("test_alphabets");
        if (!(v instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(model.manifest().ref() + " records no test_alphabets; pass "
                    + "--test-alphabets");
        }
        return (List<String>) list;
    }
}

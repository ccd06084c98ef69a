package io.metastream.streamapp;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.LearnerKind;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.ProtoNetTraining;
import io.metastream.training.protonet.ProtoNetPlan;
import java.io.IOException;
import java.nio.file.Path;
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

/** {@code train omniglot}: a prototypical network for few-shot character classification. */
@Command(name = "omniglot", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a prototypical network (Snell et al. 2017) on N-way K-shot episodes of Omniglot "
                + "characters, the test alphabets held out, and publish it as <name> (default: omniglot). Uses "
                + "every core.",
                "Defaults: 1500 episodes of 20-way 5-shot, 5 queries per class, rotations as extra classes."})
final class OmniglotTrain implements Callable<Integer> {
    @Option(names = "--data", paramLabel = "DIR", description = "A folder in the full Omniglot layout "
            + "<split>/<Alphabet>/characterNN/*.png. Default: the bundled background-small archives.")
    Path data;

    @Option(names = "--test-alphabets", split = ",", description = "Alphabets kept out of training. Default: "
            + "Balinese, Early_Aramaic, Greek for the bundled data; the images_evaluation alphabets of --data.")
    List<String> testAlphabets;

    @Option(names = "--iterations", description = "Training episodes.")
    Integer episodes;

    @Option(names = "--ways", description = "Classes per training episode (N).")
    Integer ways;

    @Option(names = "--shots", paramLabel = "K", description = "Support images per class.")
    Integer shots;

    @Mixin
    PublishOptions publish = new PublishOptions();

    /**
     * {@code --learner protonet} (and {@code --algorithm protonet}): the one learner here, which
     * scripts from before the subcommands name; any other is refused.
     */
    @Option(names = {"--learner", "--algorithm"}, hidden = true, converter = LearnerOption.KindConverter.class)
    void learner(LearnerKind kind) {
        if (kind != LearnerKind.PROTONET) {
            throw new ParameterException(spec.commandLine(), "omniglot trains a " + LearnerKind.PROTONET.id()
                    + ", not " + kind.id());
        }
    }

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        // Offline training owns the machine: use every core for libtorch's intra-op pool.
        DjlRuntime.start(Runtime.getRuntime().availableProcessors());
        Omniglot omniglot = OmniglotData.load(data);
        List<String> test = OmniglotData.testAlphabets(omniglot, data, testAlphabets);
        List<String> train = omniglot.alphabets().stream().filter(a -> !test.contains(a)).toList();
        ProtoNetPlan d = ProtoNetPlan.bundledDefault();
        ProtoNetPlan plan = new ProtoNetPlan(train, episodes != null ? episodes : d.episodes(),
                ways != null ? ways : d.ways(), shots != null ? shots : d.shots(), d.queries(), d.rotations(),
                d.learningRate(), d.halveEvery(), publish.seed);
        String name = publish.name("omniglot");
        System.out.printf(Locale.ROOT, "omniglot from %s: training alphabets %s, test alphabets %s%n",
                omniglot.source(), train, test);
        LocalDirectoryModelStore store = publish.open();
        ConsoleProgress bar = new ConsoleProgress(System.out, "training " + LearnerKind.PROTONET.id());
        ProtoNetTraining.TrainingRun run = ProtoNetTraining.train(store, name, omniglot, test, plan,
                (done, total, loss) -> bar.update(done, total, String.format(Locale.ROOT, "episode loss %.3f", loss)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", LearnerKind.PROTONET.id());
        log.put("train_seconds", run.trainSeconds());
        log.put("plan", plan);
        log.put("provenance", manifest.provenance());
        log.put("episode_loss", run.loss());
        log.put("episode_accuracy", run.accuracy());
        return publish.finish(store, manifest, run.trainSeconds(), run.loss(), manifest.ref() + " ("
                + LearnerKind.PROTONET.id() + ", " + plan.ways() + "-way " + plan.shots() + "-shot episodes, loss)",
                log);
    }
}

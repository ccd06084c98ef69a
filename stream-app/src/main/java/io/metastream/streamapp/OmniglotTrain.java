package io.metastream.streamapp;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.BaseModelTraining;
import io.metastream.training.OmniglotMlpTraining;
import io.metastream.training.ProtoNetTraining;
import io.metastream.training.protonet.ProtoNetPlan;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code train omniglot}: a base for few-shot character classification, a prototypical network
 * (the default) or an MLP with a softmax head meta-trained by a gradient learner.
 */
@Command(name = "omniglot", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a base for N-way K-shot classification of Omniglot characters, the test alphabets "
                + "held out, and publish it as <name> (default: omniglot). A protonet uses every core, an MLP one.",
                "protonet (the default): a prototypical network (Snell et al. 2017), a conv-4 embedding. Defaults: "
                        + "1500 episodes of 20-way 5-shot, 5 queries per class, rotations as extra classes.",
                "anil, maml, fomaml, metasgd: an MLP 784-256-128-64-N on the flat 28x28 pixels with a softmax head, "
                        + "meta-trained with --loss cross-entropy (the default and only loss here; Finn et al. 2017, "
                        + "section 5.2). Defaults: 2000 iterations of 5-way 1-shot, 5 queries per class, rotations, "
                        + "meta-batch 16, Adam at 0.001 decaying to a tenth; anil 5 inner steps of 0.4 on the head "
                        + "(learned sizes), maml and metasgd 1 of 0.4, fomaml 5 of 0.1. One libtorch thread."})
final class OmniglotTrain implements Callable<Integer> {
    /** The learners this family trains: the protonet and the gradient learners of a softmax head. */
    static final List<LearnerKind> LEARNERS = List.of(LearnerKind.PROTONET, LearnerKind.ANIL, LearnerKind.MAML,
            LearnerKind.FOMAML, LearnerKind.METASGD);

    /** {@link #LEARNERS}' ids, for the help. */
    static final class Learners implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return LEARNERS.stream().map(LearnerKind::id).iterator();
        }
    }

    @Option(names = "--data", paramLabel = "DIR", description = "A folder in the full Omniglot layout "
            + "<split>/<Alphabet>/characterNN/*.png. Default: the bundled background-small archives.")
    Path data;

    @Option(names = "--test-alphabets", split = ",", description = "Alphabets kept out of training. Default: "
            + "Balinese, Early_Aramaic, Greek for the bundled data; the images_evaluation alphabets of --data.")
    List<String> testAlphabets;

    @Option(names = "--learner", defaultValue = "protonet", paramLabel = "ID",
            converter = LearnerOption.KindConverter.class, completionCandidates = Learners.class,
            description = "${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    LearnerKind learner;

    /**
     * {@code --algorithm}, the name {@code --learner} had; kept so that existing scripts still run.
     * (A field of its own: picocli writes {@code --learner}'s default after parsing.)
     */
    @Option(names = "--algorithm", hidden = true, converter = LearnerOption.KindConverter.class)
    LearnerKind algorithm;

    @Option(names = "--ways", description = "Classes per training episode (N); for an MLP also its outputs.")
    Integer ways;

    @Option(names = "--hidden", split = ",", paramLabel = "WIDTH",
            description = "MLP learners: hidden layer widths. Default: 256,128,64.")
    List<Integer> hidden;

    @Mixin
    MetaLearningOptions loop = new MetaLearningOptions();

    @Mixin
    PublishOptions publish = new PublishOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (algorithm != null) {
            learner = algorithm;
        }
        if (!LEARNERS.contains(learner)) {
            throw new ParameterException(spec.commandLine(), "omniglot trains "
                    + LEARNERS.stream().map(LearnerKind::id).collect(Collectors.joining(", ")) + ", not " + learner.id());
        }
        if (learner == LearnerKind.PROTONET) {
            refuse(loop.loss != null, "--loss: a protonet's loss is its softmax over distances");
            refuse(hidden != null || loop.innerSteps != null || loop.innerStepSize != null || loop.innerStep != null
                    || loop.metaBatch != null || loop.outerStepSize != null || loop.outerDecayTo != null,
                    "--hidden and the inner- and outer-loop options: they are for the MLP learners");
        } else {
            refuse(loop.loss().filter(l -> l != Loss.CROSS_ENTROPY).isPresent(), "--loss " + loop.loss
                    + ": an Omniglot MLP classifies, its loss is " + Loss.CROSS_ENTROPY.id());
        }
        // Offline training owns the machine: the protonet's convolutions use every core for
        // libtorch's intra-op pool. The MLP's ops are small (about 17 ms a meta-batch of 16 5-way
        // 1-shot tasks on one thread), and on a machine whose cores are busy, two threads made them
        // 20 to 50 times slower, waiting on each other.
        DjlRuntime.start(learner == LearnerKind.PROTONET ? Runtime.getRuntime().availableProcessors() : 1);
        Omniglot omniglot = OmniglotData.load(data);
        List<String> test = OmniglotData.testAlphabets(omniglot, data, testAlphabets);
        List<String> train = omniglot.alphabets().stream().filter(a -> !test.contains(a)).toList();
        System.out.printf(Locale.ROOT, "omniglot from %s: training alphabets %s, test alphabets %s%n",
                omniglot.source(), train, test);
        return learner == LearnerKind.PROTONET ? protoNet(omniglot, train, test) : mlp(omniglot, train, test);
    }

    private int protoNet(Omniglot omniglot, List<String> train, List<String> test) throws IOException {
        ProtoNetPlan d = ProtoNetPlan.bundledDefault();
        ProtoNetPlan plan = new ProtoNetPlan(train, loop.iterations != null ? loop.iterations : d.episodes(),
                ways != null ? ways : d.ways(), loop.shots != null ? loop.shots : d.shots(), d.queries(), d.rotations(),
                d.learningRate(), d.halveEvery(), publish.seed);
        String name = publish.name("omniglot");
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

    private int mlp(Omniglot omniglot, List<String> train, List<String> test) throws IOException {
        MetaTrainer.Algorithm a = MetaTrainer.Algorithm.of(learner);
        int n = ways != null ? ways : 5;
        MetaTrainingPlan d = OmniglotMlpTraining.defaultPlan(a, n, 1, publish.seed);
        if (hidden != null) {
            String widths = hidden.stream().map(String::valueOf).collect(Collectors.joining("-"));
            d = new MetaTrainingPlan(OmniglotMlpTraining.architecture(widths, n), d.adaptation(), d.iterations(),
                    d.metaBatch(), d.shots(), d.queryShots(), d.outerStepSize(), d.seed(), d.finalOuterStepFraction());
        }
        MetaTrainingPlan plan = loop.over(d, publish.seed);
        String name = publish.name("omniglot");
        LocalDirectoryModelStore store = publish.open();
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + learner.id());
        BaseModelTraining.TrainingRun run = OmniglotMlpTraining.train(store, name, a, omniglot, train, test, n, true,
                plan, (done, total, loss) -> bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", loss)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", learner.id());
        log.put("train_seconds", run.trainSeconds());
        log.put("plan", Map.of("architecture", plan.architecture().spec(), "iterations", plan.iterations(),
                "meta_batch", plan.metaBatch(), "ways", n, "shots", plan.shots(), "query_shots", plan.queryShots(),
                "inner_steps", plan.adaptation().steps(), "inner_step_size", plan.adaptation().stepSize(),
                "outer_step_size", plan.outerStepSize(), "seed", plan.seed()));
        log.put("provenance", manifest.provenance());
        log.put("resident_kb", run.memory());
        log.put("query_loss", run.curve());
        int steps = plan.adaptation().steps();
        return publish.finish(store, manifest, run.trainSeconds(), run.curve(), manifest.ref() + " (" + learner.id()
                + ", " + n + "-way " + plan.shots() + "-shot, " + steps + " inner step" + (steps == 1 ? "" : "s")
                + ", query cross-entropy)", log);
    }

    /** A usage error naming what to drop, when {@code given}. */
    private void refuse(boolean given, String what) {
        if (given) {
            throw new ParameterException(spec.commandLine(), learner.id() + " takes no " + what);
        }
    }
}

package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.MovieLensFeatures;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.MlpArchitecture;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.BaseModelTraining;
import io.metastream.training.ColdStartModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code train movielens}: a preference model that adapts to a cold user's first ratings. */
@Command(name = "movielens", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Meta-train a preference model on MovieLens users, one task per user, and publish it as "
                + "<name> (default: movielens, or movielens-binary for --target binary).",
                "Default recipe: a task encoder (an embedding of 16 pooled over the user's ratings with a prior of 5, "
                        + "decoder 57-32-16-1), item-statistics features, 32000 iterations of 50 users (16000 of 25 "
                        + "for --target binary), outer step size 0.002 decaying linearly to 0.1 of it; on the time "
                        + "protocol every episode asks the "
                        + "ratings right after its support; loss mae for --target rating, logistic for binary.",
                "Naming a learner that takes inner steps starts from its own plan: 2000 iterations, K = 90, "
                        + "10 inner steps of 0.1, support prior 10."})
final class MovieLensTrain implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "DIR", description = "A MovieLens 100K or 1M folder "
            + "(https://grouplens.org/datasets/movielens/), or a synthetic one from `synthesize --out DIR`.")
    Path data;

    @Mixin
    MovieLensOptions movielens = new MovieLensOptions();

    @Option(names = "--learner", paramLabel = "ID", converter = LearnerOption.KindConverter.class,
            completionCandidates = LearnerOption.Served.class,
            description = "${COMPLETION-CANDIDATES}. Default: the recipe's, task-encoder.")
    LearnerKind learner;

    /**
     * {@code --algorithm}, the name {@code --learner} had; kept so that existing scripts still run.
     */
    @Option(names = "--algorithm", hidden = true, converter = LearnerOption.KindConverter.class)
    LearnerKind algorithm;

    @Option(names = "--embedding-dim", description = "task-encoder: length of the user embedding. Default: the "
            + "recipe's.")
    Integer embeddingDim;

    @Option(names = "--layers", paramLabel = "H1-H2", description = "Hidden layer sizes of the network (of the "
            + "decoder, and of the encoder, for a task encoder), e.g. 32-16.")
    String layers;

    @Option(names = "--support-prior", description = "Pseudo-ratings that agree with the base, added to each "
            + "support set's loss; for a task encoder, pseudo-ratings at the cold embedding in its mean.")
    Float supportPrior;

    @Option(names = "--next-query-share", paramLabel = "SHARE", description = "Time protocol: the share of "
            + "training episodes whose query is the user's next ratings after the support (the rest draw it from "
            + "all their later ratings). Default: the recipe's, 1, for its learner; 0 for another.")
    Double nextQueryShare;

    @Mixin
    MetaLearningOptions loop = new MetaLearningOptions();

    @Mixin
    PublishOptions publish = new PublishOptions();

    @Override
    public Integer call() throws IOException {
        if (algorithm != null && learner == null) {
            learner = algorithm;
        }
        RatingTarget target = movielens.target();
        ColdStartData.Recipe recipe = ColdStartData.defaultRecipe(target);
        LearnerKind kind = learner == null ? recipe.learner() : learner;
        if (!kind.isMlp()) {
            throw new IllegalArgumentException(kind.id() + " does not rate movies: see `train omniglot`");
        }
        ColdStartData data = movielens.read(this.data);
        MetaTrainingPlan plan = loop.over(plan(recipe, kind, target), publish.seed);
        int embedding = kind != LearnerKind.TASK_ENCODER ? 0
                : embeddingDim != null ? embeddingDim : recipe.embeddingDim();
        String name = publish.name(ColdStartModels.modelName(target));
        System.out.printf(Locale.ROOT, "%s %s, target %s, loss %s, %s features: %d meta-train users, %d meta-test "
                + "users (%s)%n", data.data().format(), data.fingerprint(), target.id(),
                plan.adaptation().loss().id(), data.features().featureSet().id(), data.split().train().size(),
                data.split().test().size(), data.split().protocol().describe());
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = publish.open();
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + kind.id());
        double share = nextQueryShare != null ? nextQueryShare : kind == recipe.learner() ? recipe.nextQueryShare() : 0;
        BaseModelTraining.TrainingRun run = ColdStartModels.train(store, name, kind, embedding, data, share, plan,
                (done, total, loss) -> bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", loss)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", kind.id());
        log.put("train_seconds", run.trainSeconds());
        log.put("provenance", manifest.provenance());
        log.put("resident_kb", run.memory());
        log.put("query_loss", run.curve());
        return publish.finish(store, manifest, run.trainSeconds(), run.curve(), manifest.ref() + " (" + kind.id()
                + ", MovieLens users, query " + plan.adaptation().loss().id() + ")", log);
    }

    /** The plan the options start from: the recipe's for its learner, another learner's own otherwise. */
    private MetaTrainingPlan plan(ColdStartData.Recipe recipe, LearnerKind kind, RatingTarget target) {
        MetaTrainingPlan d = kind == recipe.learner() ? recipe.plan() : ColdStartData.defaultPlan(target);
        AdaptationSettings a = d.adaptation();
        if (kind.stepFree()) {
            loop.refuseInnerLoop(kind);
            // A step-free base keeps the loss and prior only: the pooling's prior for a task encoder,
            // nothing for a ridge head (whose prior is its fixed lambda).
            a = new AdaptationSettings(0, 1f, kind == LearnerKind.TASK_ENCODER ? a.supportPrior() : 0f, a.loss());
        }
        if (supportPrior != null) {
            a = new AdaptationSettings(a.steps(), a.stepSize(), supportPrior, a.loss(), a.innerStep());
        }
        MlpArchitecture arch = d.architecture();
        if (layers != null) {
            arch = MlpArchitecture.parse(MovieLensFeatures.DIM + "-" + layers + "-" + arch.outputDim());
        }
        return new MetaTrainingPlan(arch, a, d.iterations(), d.metaBatch(), d.shots(), d.queryShots(),
                d.outerStepSize(), d.seed(), d.finalOuterStepFraction());
    }
}

package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
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
                "Defaults: 2000 iterations, K = 90 ratings, meta-batch 25, outer step size 0.002, 10 inner steps "
                        + "of 0.1, support prior 10; loss mae for --target rating, logistic for binary."})
final class MovieLensTrain implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "DIR", description = "A MovieLens 100K or 1M folder "
            + "(https://grouplens.org/datasets/movielens/), or a synthetic one from `synthesize --out DIR`.")
    Path data;

    @Mixin
    MovieLensOptions movielens = new MovieLensOptions();

    @Option(names = "--learner", defaultValue = "reptile", paramLabel = "ID",
            converter = LearnerOption.AlgorithmConverter.class, completionCandidates = LearnerOption.MetaTrained.class,
            description = "${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.")
    MetaTrainer.Algorithm learner;

    /**
     * {@code --algorithm}, the name {@code --learner} had; kept so that existing scripts still run.
     * (A field of its own: picocli writes {@code --learner}'s default after parsing.)
     */
    @Option(names = "--algorithm", hidden = true, converter = LearnerOption.AlgorithmConverter.class)
    MetaTrainer.Algorithm algorithm;

    @Option(names = "--support-prior", description = "Pseudo-ratings that agree with the base, added to each "
            + "support set's loss.")
    Float supportPrior;

    @Mixin
    MetaLearningOptions loop = new MetaLearningOptions();

    @Mixin
    PublishOptions publish = new PublishOptions();

    @Override
    public Integer call() throws IOException {
        if (algorithm != null) {
            learner = algorithm;
        }
        RatingTarget target = movielens.target();
        ColdStartData data = movielens.read(this.data);
        MetaTrainingPlan d = ColdStartData.defaultPlan(target);
        if (supportPrior != null) {
            AdaptationSettings a = d.adaptation();
            d = d.withAdaptation(new AdaptationSettings(a.steps(), a.stepSize(), supportPrior, a.loss(),
                    a.innerStep()));
        }
        MetaTrainingPlan plan = loop.over(d, publish.seed);
        String name = publish.name(ColdStartModels.modelName(target));
        System.out.printf(Locale.ROOT, "%s %s, target %s, loss %s: %d meta-train users, %d meta-test users (%s)%n",
                data.data().format(), data.fingerprint(), target.id(), plan.adaptation().loss().id(),
                data.split().train().size(), data.split().test().size(), data.split().protocol().describe());
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = publish.open();
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + learner.id());
        BaseModelTraining.TrainingRun run = ColdStartModels.train(store, name, learner, data, plan,
                (done, total, loss) -> bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", loss)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", learner.id());
        log.put("train_seconds", run.trainSeconds());
        log.put("provenance", manifest.provenance());
        log.put("resident_kb", run.memory());
        log.put("query_loss", run.curve());
        return publish.finish(store, manifest, run.trainSeconds(), run.curve(), manifest.ref() + " (" + learner.id()
                + ", MovieLens users, query " + plan.adaptation().loss().id() + ")", log);
    }
}

package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.BaseModelTraining;
import io.metastream.training.ColdStartModels;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** {@code train --dataset movielens}: the preference-model path of {@link TrainCommand}. */
final class MovieLensTrain {
    private MovieLensTrain() {
    }

    static int run(TrainCommand c) throws IOException {
        if (c.data == null) {
            throw new IllegalArgumentException("movielens needs --data DIR: a MovieLens 100K or 1M folder "
                    + "(https://grouplens.org/datasets/movielens/), or a synthetic one from `metastream.jar synthesize --out DIR`");
        }
        MetaTrainer.Algorithm algo = MetaTrainer.Algorithm.fromId(c.algorithm.toLowerCase(Locale.ROOT));
        RatingTarget target = c.movielens.target();
        ColdStartData data = c.movielens.read(c.data);
        MetaTrainingPlan d = ColdStartData.defaultPlan(target);
        AdaptationSettings a = d.adaptation();
        MetaTrainingPlan plan = new MetaTrainingPlan(d.architecture(),
                new AdaptationSettings(c.innerSteps != null ? c.innerSteps : a.steps(),
                        c.innerStepSize != null ? c.innerStepSize : a.stepSize(),
                        c.supportPrior != null ? c.supportPrior : a.supportPrior(),
                        c.loss != null ? Loss.fromId(c.loss) : a.loss(), c.innerStep()),
                c.iterations != null ? c.iterations : d.iterations(), c.metaBatch, c.shots != null ? c.shots : d.shots(),
                d.queryShots(), c.outerStepSize, c.seed, c.outerDecayTo);
        String name = c.name != null ? c.name : ColdStartModels.modelName(target);
        System.out.printf(Locale.ROOT, "%s %s, target %s, loss %s: %d meta-train users, %d meta-test users (%s)%n",
                data.data().format(), data.fingerprint(), target.id(), plan.adaptation().loss().id(),
                data.split().train().size(), data.split().test().size(), data.split().protocol().describe());
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(c.out);
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + algo.id());
        BaseModelTraining.TrainingRun run = ColdStartModels.train(store, name, algo, data, plan,
                (done, total, loss) -> bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", loss)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", algo.id());
        log.put("train_seconds", run.trainSeconds());
        log.put("provenance", manifest.provenance());
        log.put("resident_kb", run.memory());
        log.put("query_loss", run.curve());
        return c.finish(store, name, manifest, run.trainSeconds(), run.curve(),
                manifest.ref() + " (" + algo.id() + ", MovieLens users, query " + plan.adaptation().loss().id() + ")",
                log);
    }
}

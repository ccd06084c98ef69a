package io.metastream.training;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.BaseModel;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;

/**
 * The demo's first-run path: serve {@code name@alias} if the store has it, otherwise meta-train
 * the sinusoid base, publish it, point the alias at it, and serve that.
 */
public final class ModelBootstrap {
    private ModelBootstrap() {
    }

    /** Notified when training is needed, so the caller can show progress. */
    public interface Listener {
        void trainingStarted(MetaTrainingPlan plan);

        MetaTrainer.Progress progress();

        void published(ModelManifest manifest);
    }

    public static BaseModel loadOrTrain(ModelStore store, String name, String alias, MetaTrainingPlan plan,
            Listener listener) {
        boolean present = store.modelNames().contains(name) && store.alias(name, alias).isPresent();
        if (!present) {
            listener.trainingStarted(plan);
            ModelManifest manifest = BaseModelTraining.trainAndPublish(store, name, MetaTrainer.Algorithm.REPTILE,
                    new SinusoidTasks(), plan, listener.progress());
            store.setAlias(name, alias, manifest.version());
            listener.published(manifest);
        }
        return BaseModelArtifacts.load(store, name, alias);
    }
}

package io.metastream.training;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.ColdStartEvaluation;
import io.metastream.data.movielens.MovieLensTasks;
import io.metastream.data.movielens.MatrixFactorization;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Learner;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The preference models of the recommendation workflow: the meta-learned base (trained,
 * evaluated on the cold-start protocol and published with the data's fingerprint), its loading
 * with a check that the data is the one it was trained on, and the pooled-pretraining baseline
 * that every evaluation trains in the same run.
 */
public final class ColdStartModels {
    /** The model name the workflow uses unless told otherwise. */
    public static final String MODEL_NAME = "movielens";

    private ColdStartModels() {
    }

    /** Meta-trains on the meta-train users, scores on the meta-test users, publishes. */
    public static BaseModelTraining.TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            ColdStartData data, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        return train(store, name, algorithm, data.tasks(), data, plan, progress);
    }

    private static BaseModelTraining.TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            MovieLensTasks tasks, ColdStartData data, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        return BaseModelTraining.train(store, name, algorithm, tasks, plan, progress,
                candidate -> heldOutMetrics(data, candidate), data.provenance());
    }

    /**
     * As {@link #train(ModelStore, String, MetaTrainer.Algorithm, ColdStartData, MetaTrainingPlan,
     * MetaTrainer.Progress)} for any learner {@code train movielens} trains: a task encoder with an
     * embedding of {@code embeddingDim}, or a {@link MetaTrainer} algorithm.
     *
     * @throws IllegalArgumentException for a learner neither trains
     */
    public static BaseModelTraining.TrainingRun train(ModelStore store, String name, LearnerKind learner,
            int embeddingDim, ColdStartData data, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        return train(store, name, learner, embeddingDim, data, 0, plan, progress);
    }

    /**
     * As {@link #train(ModelStore, String, LearnerKind, int, ColdStartData, MetaTrainingPlan,
     * MetaTrainer.Progress)}, {@code nextQueryShare} of the time-ordered episodes asking the ratings
     * right after the support ({@link MovieLensTasks}).
     */
    public static BaseModelTraining.TrainingRun train(ModelStore store, String name, LearnerKind learner,
            int embeddingDim, ColdStartData data, double nextQueryShare, MetaTrainingPlan plan,
            MetaTrainer.Progress progress) {
        MovieLensTasks tasks = data.tasks(nextQueryShare);
        if (learner == LearnerKind.TASK_ENCODER) {
            return BaseModelTraining.trainTaskEncoder(store, name, tasks, plan, embeddingDim, progress,
                    candidate -> heldOutMetrics(data, candidate), data.provenance());
        }
        return train(store, name, MetaTrainer.Algorithm.of(learner), tasks, data, plan, progress);
    }

    private static Map<String, Object> heldOutMetrics(ColdStartData data, BaseModel candidate) {
        List<ColdStartEvaluation.Case> cases = ColdStartEvaluation.cases(data.split());
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("protocol", data.split().protocol().describe());
        metrics.put("target", data.target().id());
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            for (boolean adapt : new boolean[] {false, true}) {
                ColdStartEvaluation.Scores s = ColdStartEvaluation.score(cases,
                        ColdStartEvaluation.model(cases, data.features(), learner, candidate, adapt), data.target());
                String suffix = adapt ? "_adapted" : "_unadapted";
                s.metrics().forEach((metric, e) -> {
                    metrics.put(metric + suffix, e.mean());
                    metrics.put(metric + suffix + "_ci95", e.ci95());
                });
            }
        }
        metrics.put("users", cases.size());
        return metrics;
    }

    /** The default model name for {@code target}: one name a target, so their versions never mix. */
    public static String modelName(RatingTarget target) {
        return target == RatingTarget.RATING ? MODEL_NAME : MODEL_NAME + "-" + target.id();
    }

    /**
     * Everything {@link ColdStartEvaluation#predictAll} needs for {@code meta} on {@code data}: the
     * pooled baseline is trained and the matrix factorisation fitted here, in the caller's run.
     */
    public static ColdStartEvaluation.Models peers(ColdStartData data, Learner learner, BaseModel meta,
            MetaTrainer.Progress progress) {
        BaseModel pooled = pooledBaseline(data, meta, progress);
        return new ColdStartEvaluation.Models(data.features(), learner, meta, pooled,
                MatrixFactorization.fit(data.split(), data.target(), 42L));
    }

    /**
     * Loads {@code name@versionOrAlias} for {@code data}.
     *
     * @throws IllegalArgumentException if the model was trained on other data (its item statistics
     *     and split would not be this data's), on another split, for another target or on another
     *     feature set
     */
    public static BaseModel load(ModelStore store, String name, String versionOrAlias, ColdStartData data) {
        ModelManifest m = store.load(name, versionOrAlias).manifest();
        String mismatch = mismatch(m, data);
        if (mismatch != null) {
            throw new IllegalArgumentException(mismatch);
        }
        return BaseModelArtifacts.load(store, name, versionOrAlias);
    }

    /**
     * Why {@code m} cannot serve {@code data} (other data, another target or feature set), with the
     * way out, or {@code null} when it can. Models from before the fields predict ratings from all
     * features.
     */
    private static String mismatch(ModelManifest m, ColdStartData data) {
        Object trainedOn = m.provenance().get("data_fingerprint");
        if (!data.fingerprint().equals(trainedOn)) {
            return m.ref() + " was trained on data " + trainedOn + ", but this folder is " + data.fingerprint()
                    + ": train a model on it first (train movielens --data ...)";
        }
        String features = String.valueOf(m.provenance().getOrDefault("feature_set", "all"));
        if (!data.features().featureSet().id().equals(features)) {
            return m.ref() + " was trained on the '" + features + "' features, not '"
                    + data.features().featureSet().id() + "': pass --features " + features;
        }
        // A model's meta-train users must not be another split's cold users. Models from before the
        // field were trained on the time-ordered split.
        String protocol = String.valueOf(m.provenance().getOrDefault("protocol_id", "time"));
        if (!data.split().protocol().id().equals(protocol)) {
            return m.ref() + " was trained on the '" + protocol + "' split, not '" + data.split().protocol().id()
                    + "': pass " + protocolOptions(protocol) + " or train one for this split";
        }
        String target = String.valueOf(m.provenance().getOrDefault("target", RatingTarget.RATING.id()));
        if (!data.target().id().equals(target)) {
            return m.ref() + " predicts the " + target + " target, not " + data.target().id() + ": pass --target "
                    + target + " or train one for it";
        }
        return null;
    }

    /** The command-line options that select the split {@code protocolId} names ({@code time}, {@code melu:7}, ...). */
    private static String protocolOptions(String protocolId) {
        int colon = protocolId.indexOf(':');
        return colon < 0 ? "--protocol " + protocolId
                : "--protocol " + protocolId.substring(0, colon) + " --split-seed " + protocolId.substring(colon + 1);
    }

    /** The newest version of {@code name} trained on {@code data} for its target, if any. */
    public static Optional<ModelManifest> newestFor(ModelStore store, String name, ColdStartData data) {
        if (!store.modelNames().contains(name)) {
            return Optional.empty();
        }
        List<ModelManifest> versions = store.versions(name);
        for (int i = versions.size() - 1; i >= 0; i--) {
            if (mismatch(versions.get(i), data) == null) {
                return Optional.of(versions.get(i));
            }
        }
        return Optional.empty();
    }

    /**
     * The fine-tuning baseline of Finn et al. 2017 (figure 3) for {@code meta}: the same network
     * pre-trained on all meta-train users pooled, adapted with {@code meta}'s inner loop. A base
     * adapted without inner steps (a task encoder, a ridge head) has no such network or loop: its
     * peer is {@link ColdStartData#fineTuningPlan}'s. Trained in the caller's run, not stored.
     */
    public static BaseModel pooledBaseline(ColdStartData data, BaseModel meta, MetaTrainer.Progress progress) {
        MetaTrainingPlan d = ColdStartData.fineTuningPlan(data.target());
        boolean steps = meta.kind().map(LearnerKind::takesInnerSteps).orElse(false);
        MlpArchitecture arch = steps ? meta.architecture() : d.architecture();
        AdaptationSettings adaptation = steps ? meta.adaptation() : d.adaptation();
        MetaTrainingPlan plan = new MetaTrainingPlan(arch, adaptation, d.iterations(), d.metaBatch(), d.shots(),
                d.queryShots(), d.outerStepSize(), d.seed(), d.finalOuterStepFraction());
        MetaTrainer.Result r = new MetaTrainer(MetaTrainer.Algorithm.PRETRAIN, DjlRuntime.defaultDevice())
                .train(data.tasks(), plan, progress);
        return new BaseModel("pooled-pretraining@in-run", MetaTrainer.Algorithm.PRETRAIN.id(), arch, r.parameters(),
                adaptation);
    }
}

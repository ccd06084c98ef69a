package io.metastream.data.movielens;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.MlpArchitecture;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything the recommendation workflow derives from one MovieLens folder: the ratings, the
 * cold-start split, and the features fitted on the meta-train users. Derivation is deterministic,
 * so training, evaluation and the stream replay of the same folder agree on every split and every
 * feature vector; {@link #fingerprint()} (the data files' hash) ties a stored model to its data.
 */
public record ColdStartData(MovieLens data, ColdStartSplit split, MovieLensFeatures features) {
    /** Reads {@code dir} and prepares it with the time-ordered protocol. */
    public static ColdStartData read(Path dir) {
        return read(dir, RatingTarget.RATING);
    }

    /** Reads {@code dir} for {@code target}. */
    public static ColdStartData read(Path dir, RatingTarget target) {
        return read(dir, target, MovieLensFeatures.FeatureSet.ALL);
    }

    /** Reads {@code dir} for {@code target} with {@code featureSet} on, split by the time-ordered protocol. */
    public static ColdStartData read(Path dir, RatingTarget target, MovieLensFeatures.FeatureSet featureSet) {
        return read(dir, target, featureSet, ColdStartSplit.Protocol.time());
    }

    /** Reads {@code dir} for {@code target} with {@code featureSet} on, split by {@code protocol}. */
    public static ColdStartData read(Path dir, RatingTarget target, MovieLensFeatures.FeatureSet featureSet,
            ColdStartSplit.Protocol protocol) {
        return prepare(MovieLens.read(dir), protocol, target, featureSet);
    }

    public static ColdStartData prepare(MovieLens data, ColdStartSplit.Protocol protocol) {
        return prepare(data, protocol, RatingTarget.RATING);
    }

    public static ColdStartData prepare(MovieLens data, ColdStartSplit.Protocol protocol, RatingTarget target) {
        return prepare(data, protocol, target, MovieLensFeatures.FeatureSet.ALL);
    }

    public static ColdStartData prepare(MovieLens data, ColdStartSplit.Protocol protocol, RatingTarget target,
            MovieLensFeatures.FeatureSet featureSet) {
        ColdStartSplit split = ColdStartSplit.of(data, protocol);
        return new ColdStartData(data, split, MovieLensFeatures.fit(data, split.trainRatings(), target, featureSet));
    }

    public RatingTarget target() {
        return features.target();
    }

    public String fingerprint() {
        return data.fingerprint();
    }

    /** The meta-training task family over the meta-train users, queries drawn from later ratings. */
    public MovieLensTasks tasks() {
        return tasks(0);
    }

    /**
     * As {@link #tasks()}, {@code nextQueryShare} of the time-ordered episodes asking the ratings
     * right after the support ({@link MovieLensTasks}).
     */
    public MovieLensTasks tasks(double nextQueryShare) {
        return new MovieLensTasks(split, features, data.format() + " " + fingerprint(), nextQueryShare);
    }

    /**
     * The meta-training of the learners that adapt by inner steps (Reptile, MAML, ANIL, ...) when
     * {@code train movielens} names one and no more: a 57-32-16-1 ReLU MLP (the dense first layer is
     * MeLU's side-information embedding, the rest its decision layers), Reptile over 25 users a
     * meta-batch, each user's support up to 90 ratings (the protocol's maximum) against 10 query
     * ratings; online, 10 SGD steps of 0.1 with a support prior of 10 pseudo-ratings
     * ({@link AdaptationSettings#supportPrior()}). Chosen on the synthetic data set by the
     * cold-user MAE curve over support sizes 0 to 90 (docs/RESULTS.md); 51-64-32-1 was about 0.03
     * better in MAE there but 2.4 times the arithmetic per adaptation, which the stream pays per rating.
     * On the real MovieLens 100K this plan's fixed steps follow noise; the recipe that works there
     * (ANIL, learned step sizes, item statistics only) is in docs/RESULTS.md.
     */
    public static MetaTrainingPlan defaultPlan() {
        return defaultPlan(RatingTarget.RATING);
    }

    /**
     * How {@code train movielens} trains a preference model when told nothing: the learner, its
     * plan, the length of a task encoder's embedding (0 for other learners), the features the
     * data is read with, and the share of its time-ordered episodes that ask the ratings right
     * after the support ({@link MovieLensTasks}). The learner and features were chosen on MovieLens 100K,
     * the ratings plan's length and meta-batch on MovieLens 1M, each by measuring the candidates side by
     * side (docs/RESULTS.md).
     */
    public record Recipe(LearnerKind learner, MetaTrainingPlan plan, int embeddingDim,
            MovieLensFeatures.FeatureSet features, double nextQueryShare) {
        public Recipe {
            if ((learner == LearnerKind.TASK_ENCODER) != (embeddingDim > 0)) {
                throw new IllegalArgumentException("a task encoder, and only one, has an embedding: " + learner.id()
                        + ", " + embeddingDim);
            }
        }
    }

    /** The default recipe for {@code target} ({@link Recipe}). */
    public static Recipe defaultRecipe(RatingTarget target) {
        // Ratings: 32,000 meta-batches of 50 users met MeLU's protocol on MovieLens 1M by 3% on three
        // seeds, where 16,000 of 25 did not; clicks lost AUC with it (0.681 against 0.694), so they
        // keep the smaller run (docs/RESULTS.md, "Meta-batch and iterations").
        boolean ratings = target == RatingTarget.RATING;
        MetaTrainingPlan plan = new MetaTrainingPlan(MlpArchitecture.parse(MovieLensFeatures.DIM + "-32-16-1"),
                new AdaptationSettings(0, 1f, 5f, target.loss()), ratings ? 32000 : 16000, ratings ? 50 : 25, 90, 10,
                0.002f, 42L, 0.1f);
        return new Recipe(LearnerKind.TASK_ENCODER, plan, 16, MovieLensFeatures.FeatureSet.ITEM_STATISTICS, 1);
    }

    /** {@link #defaultPlan()} with {@code target}'s loss. */
    public static MetaTrainingPlan defaultPlan(RatingTarget target) {
        return new MetaTrainingPlan(MlpArchitecture.parse(MovieLensFeatures.DIM + "-32-16-1"),
                new AdaptationSettings(10, 0.1f, 10f, target.loss()), 2000, 25, 90, 10, 0.002f, 42L, 1f);
    }

    /**
     * The pooled fine-tuning baseline's network and inner loop, for a base that has neither (one
     * adapted without inner steps): the 57-32-16-1 network pre-trained on all warm users, then 3
     * SGD steps of 0.05 on a cold user's support with a prior of 10 pseudo-ratings, the inner loop
     * of the ANIL recipe it was first measured with (docs/RESULTS.md).
     */
    public static MetaTrainingPlan fineTuningPlan(RatingTarget target) {
        return new MetaTrainingPlan(MlpArchitecture.parse(MovieLensFeatures.DIM + "-32-16-1"),
                new AdaptationSettings(3, 0.05f, 10f, target.loss()), 2000, 25, 90, 10, 0.002f, 42L, 1f);
    }

    /** What a stored model records about its data, so a reader can tell it is the same. */
    public Map<String, Object> provenance() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("data_format", data.format().name());
        p.put("data_fingerprint", fingerprint());
        p.put("target", target().id());
        p.put("feature_set", features.featureSet().id());
        p.put("protocol", split.protocol().describe());
        p.put("protocol_id", split.protocol().id());
        p.put("meta_train_users", split.train().size());
        p.put("meta_test_users", split.test().size());
        p.put("features", MovieLensFeatures.DIM + " dense features (genres, year, item mean, count and rating "
                + "distribution from meta-train users, gender, age group, occupation)");
        return p;
    }
}

package io.metastream.learn;

import java.util.List;

/**
 * Online side of a meta-learner: adapt a base to the support sets of many tasks in one batched
 * call, and predict with adapted states. Implementations are thread-safe; every call owns its
 * native memory and frees it before returning.
 */
public interface Learner extends AutoCloseable {
    /** Adapts {@code base} to each support set with the base's own adaptation settings. */
    default AdaptedBatch adapt(BaseModel base, List<Support> supports) {
        return adapt(base, supports, base.adaptation());
    }

    /**
     * Adapts {@code base} to each support set, in one batched call.
     *
     * @throws IllegalArgumentException if a feature vector does not match the base's input size
     */
    AdaptedBatch adapt(BaseModel base, List<Support> supports, AdaptationSettings settings);

    /**
     * Predicts {@code queries.get(t)} with {@code states.get(t)}, or with the unadapted base where
     * that state is {@code null}; one batched call for all tasks.
     *
     * @return one array of predictions per task, in order
     */
    float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries);

    /**
     * Whether this learner can adapt and predict with {@code base} (a registry of learners answers
     * by the base's learner id); a hot swap to a base no learner serves is refused.
     */
    default boolean serves(BaseModel base) {
        return true;
    }

    /** Where this learner computes, e.g. {@code cpu()} or {@code gpu(0)}. */
    String device();

    @Override
    void close();
}

package io.metastream.learn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Online side of a meta-learner: adapt a base to the support sets of many tasks in one batched
 * call, and predict with adapted states. Implementations are thread-safe; every call owns its
 * native memory and frees it before returning.
 */
public interface Learner extends AutoCloseable {
    /** Adapts {@code base} to each support set with the base's own adaptation settings. */
    default AdaptedBatch adapt(BaseModel base, List<SampleSet> supports) {
        return adapt(base, supports, base.adaptation());
    }

    /**
     * Adapts {@code base} to each support set, in one batched call.
     *
     * @throws IllegalArgumentException if a feature vector does not match the base's input size
     */
    AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings);

    /**
     * Predicts {@code queries.get(t)} with {@code states.get(t)}, or with the unadapted base where
     * that state is {@code null}; one batched call for all tasks.
     *
     * @return one array of predictions per task, in order
     */
    float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries);

    /**
     * {@link #predict}, checked before anything is published: a task whose state answers a
     * non-finite value (a state adapted on an extreme sample can be finite yet huge) is answered by
     * the base instead, all its queries together, in one more batched call for all such tasks; a
     * task whose values are still not finite (the base, too, overflows on extreme features) is
     * flagged, and its values must not be published.
     */
    default CheckedPredictions predictChecked(BaseModel base, List<float[]> states, List<float[][]> queries) {
        float[][] values = predict(base, states, queries);
        boolean[] fellBack = new boolean[values.length];
        boolean[] finite = new boolean[values.length];
        List<Integer> retry = new ArrayList<>();
        for (int t = 0; t < values.length; t++) {
            finite[t] = Finite.all(values[t]);
            if (!finite[t] && states.get(t) != null) {
                retry.add(t);
            }
        }
        if (!retry.isEmpty()) {
            List<float[][]> again = new ArrayList<>(retry.size());
            for (int t : retry) {
                again.add(queries.get(t));
            }
            float[][] byBase = predict(base, Arrays.asList(new float[retry.size()][]), again);
            for (int k = 0; k < retry.size(); k++) {
                int t = retry.get(k);
                values[t] = byBase[k];
                fellBack[t] = true;
                finite[t] = Finite.all(byBase[k]);
            }
        }
        return new CheckedPredictions(values, fellBack, finite);
    }

    /**
     * Class probabilities for the queries of a base that {@link BaseModel#classifies()}: the task's
     * support targets were class indices, class {@code c} being the {@code c}-th label its support
     * set shows, and row {@code [t][q]} holds the probabilities of classes {@code 0 ..
     * classCounts[t] - 1} for query {@code q} of task {@code t} (a softmax head's other outputs are
     * left out: a class the task has not shown cannot be predicted). Where {@code states.get(t)} is
     * {@code null}, the unadapted base answers if it can (a softmax head); a learner with nothing
     * to compare with (a protonet has no prototypes without a support set) leaves that task's row
     * {@code null}. One batched call for all tasks.
     *
     * @throws UnsupportedOperationException if this learner does not classify
     */
    default float[][][] classify(BaseModel base, List<float[]> states, List<float[][]> queries, int[] classCounts) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not classify (" + base + ")");
    }

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

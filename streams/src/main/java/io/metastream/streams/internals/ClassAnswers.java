package io.metastream.streams.internals;

import io.metastream.learn.Finite;
import io.metastream.schemas.ClassScore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a classifying base answers for one query, from a task's class probabilities or by the cold
 * rule; the one place both the queries topic and the task API build it.
 *
 * @param label the most probable class, or null for a task that has shown none
 * @param probability the probability of {@code label} (the prediction's {@code value}); 0 without a label
 * @param scores the classes the task has shown, most probable first (ties in class order), at most
 *     {@value #MAX_SCORES} of them
 */
public record ClassAnswers(String label, float probability, List<ClassScore> scores) {
    /**
     * The most classes a prediction lists: a task may show up to {@code support.max.size} classes
     * (10,000) with labels of 200 bytes, and a prediction must stay far below a topic's
     * {@code max.message.bytes} (1 MiB by default), or under exactly-once its transaction aborts.
     */
    public static final int MAX_SCORES = 100;

    /**
     * The cold rule, for a task without an adapted state of two classes or more: a task that has
     * shown one class is answered with it, probability 1; a task that has shown none gets no label.
     */
    public static ClassAnswers cold(List<String> labels) {
        if (labels.size() == 1) {
            return new ClassAnswers(labels.get(0), 1f, List.of(new ClassScore(labels.get(0), 1f)));
        }
        return new ClassAnswers(null, 0f, List.of());
    }

    /** The answer from {@code probabilities}, one per label in class-index order. */
    public static ClassAnswers of(float[] probabilities, List<String> labels) {
        Integer[] order = new Integer[probabilities.length];
        Arrays.setAll(order, c -> c);
        Arrays.sort(order, (a, b) -> Float.compare(probabilities[b], probabilities[a]));
        List<ClassScore> scores = new ArrayList<>(Math.min(order.length, MAX_SCORES));
        for (int k = 0; k < order.length && k < MAX_SCORES; k++) {
            scores.add(new ClassScore(labels.get(order[k]), probabilities[order[k]]));
        }
        return new ClassAnswers(scores.get(0).getLabel(), scores.get(0).getProbability(), List.copyOf(scores));
    }

    /**
     * Whether a task with this state and these classes is answered by its model rather than by
     * {@link #cold}: a state of two classes or more, all finite. A state that is not finite (an
     * extreme but finite support image overflows its prototype) is never stored, so a task whose
     * stored state it would have been answers by the cold rule; a query adapted as of its own time
     * on the same samples answers the same way, not with a dead letter.
     */
    public static boolean answeredByModel(float[] state, List<String> labels) {
        return state != null && labels.size() >= 2 && Finite.all(state);
    }
}

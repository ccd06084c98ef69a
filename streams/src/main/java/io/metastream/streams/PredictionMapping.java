package io.metastream.streams;

import io.metastream.schemas.Prediction;

/**
 * Writes a prediction as the application's own output record (then serialised by its serde). A
 * prediction names its query, task, value (a probability for a logistic base), base version,
 * support size, whether an adapted state answered, and the event time that state is adapted
 * through. A classifying base's prediction also names its class: {@code getLabel()} is the most
 * probable of the labels the task's support set has shown ({@code getValue()} its probability),
 * and {@code getScores()} every such label with its probability, most probable first; both are
 * {@code null} for a regression base, and the label also while the task has shown no class.
 */
@FunctionalInterface
public interface PredictionMapping<V> {
    V fromPrediction(Prediction prediction);
}

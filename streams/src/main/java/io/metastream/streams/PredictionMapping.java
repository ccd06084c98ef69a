package io.metastream.streams;

import io.metastream.schemas.Prediction;

/**
 * Writes a prediction as the application's own output record (then serialised by its serde). A
 * prediction names its query, task, value (a probability for a logistic base), base version,
 * support size, whether an adapted state answered, and the event time that state is adapted
 * through.
 */
@FunctionalInterface
public interface PredictionMapping<V> {
    V fromPrediction(Prediction prediction);
}

package io.metastream.learn;

/**
 * How a base is adapted to one task: {@code steps} plain SGD steps of size {@code stepSize} on the
 * task's support-set mean squared error. Stored with the base model, because a meta-learned
 * initialisation is only good for the inner loop it was trained with.
 */
public record AdaptationSettings(int steps, float stepSize) {
    public AdaptationSettings {
        if (steps < 0 || steps > 1000) {
            throw new IllegalArgumentException("steps must be in [0, 1000], got " + steps);
        }
        if (!(stepSize > 0) || !Float.isFinite(stepSize)) {
            throw new IllegalArgumentException("stepSize must be positive and finite, got " + stepSize);
        }
    }

    public AdaptationSettings withSteps(int newSteps) {
        return new AdaptationSettings(newSteps, stepSize);
    }
}

package io.metastream.learn;

/**
 * How a base is adapted to one task: {@code steps} plain SGD steps of size {@code stepSize} on the
 * task's support-set mean squared error. Stored with the base model, because a meta-learned
 * initialisation is only good for the inner loop it was trained with.
 */
public record AdaptationSettings(int steps, float stepSize) {
    /**
     * No inner steps: the settings of learners that adapt without gradient steps (the task
     * encoder's forward pass, ANIL's closed-form ridge head). The step size is never used.
     */
    public static final AdaptationSettings NONE = new AdaptationSettings(0, 1f);

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

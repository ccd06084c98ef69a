package io.metastream.learn;

/**
 * How a base is adapted to one task: {@code steps} plain SGD steps of size {@code stepSize} on the
 * task's support-set squared error. Stored with the base model, because a meta-learned
 * initialisation is only good for the inner loop it was trained with.
 *
 * <p>The support loss is the squared error summed over the task's {@code n} samples and divided by
 * {@code n + supportPrior}. With the default prior of 0 that is the mean (Finn et al. 2017). A
 * positive prior is a pseudo-count of samples that agree with the base: a task with one sample
 * moves {@code 1 / (1 + supportPrior)} as far as one with many, the way a shrunk mean moves. A
 * recommender needs it: one rating says little about a user's taste.
 *
 * <p>{@code loss} replaces the squared error where the base was trained for another ({@link Loss}):
 * the support loss, the query loss of meta-training, and the link of the predictions.
 */
public record AdaptationSettings(int steps, float stepSize, float supportPrior, Loss loss) {
    /**
     * No inner steps: the settings of learners that adapt without gradient steps (the task
     * encoder's forward pass, ANIL's closed-form ridge head). The step size is never used.
     */
    public static final AdaptationSettings NONE = new AdaptationSettings(0, 1f);

    public AdaptationSettings {
        java.util.Objects.requireNonNull(loss, "loss");
        if (steps < 0 || steps > 1000) {
            throw new IllegalArgumentException("steps must be in [0, 1000], got " + steps);
        }
        if (!(stepSize > 0) || !Float.isFinite(stepSize)) {
            throw new IllegalArgumentException("stepSize must be positive and finite, got " + stepSize);
        }
        if (!(supportPrior >= 0) || !Float.isFinite(supportPrior)) {
            throw new IllegalArgumentException("supportPrior must be >= 0 and finite, got " + supportPrior);
        }
    }

    /** Squared-error settings. */
    public AdaptationSettings(int steps, float stepSize, float supportPrior) {
        this(steps, stepSize, supportPrior, Loss.MSE);
    }

    /** Settings with the mean support loss (no prior). */
    public AdaptationSettings(int steps, float stepSize) {
        this(steps, stepSize, 0f);
    }

    public AdaptationSettings withSteps(int newSteps) {
        return new AdaptationSettings(newSteps, stepSize, supportPrior, loss);
    }

    public AdaptationSettings withLoss(Loss newLoss) {
        return new AdaptationSettings(steps, stepSize, supportPrior, newLoss);
    }
}

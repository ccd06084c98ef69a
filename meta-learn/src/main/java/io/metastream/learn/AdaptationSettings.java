package io.metastream.learn;

import java.util.Arrays;
import java.util.Objects;

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
 *
 * <p>{@code innerStep} says whether a step may be shortened ({@link InnerStep}). Artifacts from
 * before the field take plain steps.
 */
public record AdaptationSettings(int steps, float stepSize, float supportPrior, Loss loss, InnerStep innerStep) {
    /**
     * How long one inner step is.
     * <ul>
     *   <li>{@link #SGD}: always {@code stepSize} times the gradient.</li>
     *   <li>{@link #BOUNDED}: the same step, shortened per task where it would pass the minimum of
     *       the support loss's Gauss-Newton model along it (the step size that minimises that model
     *       along the step, when it is shorter). On most tasks nothing changes. On a support set of
     *       one or two points where the network's output is steep (large activations at the edge
     *       of the input range) a plain step overshoots the target several times over, the next
     *       one overshoots back, and after a few steps the parameters have moved by hundreds while
     *       the support error happens to be small again: the adapted model then extrapolates to
     *       other inputs by thousands. A bounded step lands on the linearised target instead; for
     *       one point that is the smallest parameter change that fits it. The model's curvature
     *       in the output is the loss's largest: 2 for the squared error, 1/4 for the log-loss;
     *       the absolute error has none and its steps are never shortened.</li>
     * </ul>
     * The rule is the stream's: meta-training always takes plain steps, whatever the plan says. A
     * Reptile base meta-trained with bounded steps adapted worse at every shot count on the
     * sinusoids than one trained with plain steps and adapted with bounded ones (docs/RESULTS.md),
     * which in turn matched plain steps at 5 and 10 shots and removed the 1-shot blow-ups.
     */
    public enum InnerStep {
        SGD("sgd"), BOUNDED("bounded-sgd");

        private final String id;

        InnerStep(String id) {
            this.id = id;
        }

        /** The id in manifests ({@code adaptation.optimizer}) and on the command line. */
        public String id() {
            return id;
        }

        /** @throws IllegalArgumentException naming the known ids */
        public static InnerStep fromId(String id) {
            for (InnerStep s : values()) {
                if (s.id.equals(id)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown optimizer '" + id + "' (known: "
                    + Arrays.stream(values()).map(InnerStep::id).toList() + ")");
        }
    }

    /**
     * No inner steps: the settings of learners that adapt without gradient steps (the task
     * encoder's forward pass, ANIL's closed-form ridge head). The step size is never used.
     */
    public static final AdaptationSettings NONE = new AdaptationSettings(0, 1f);

    public AdaptationSettings {
        Objects.requireNonNull(loss, "loss");
        Objects.requireNonNull(innerStep, "innerStep");
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

    /** Plain steps. */
    public AdaptationSettings(int steps, float stepSize, float supportPrior, Loss loss) {
        this(steps, stepSize, supportPrior, loss, InnerStep.SGD);
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
        return new AdaptationSettings(newSteps, stepSize, supportPrior, loss, innerStep);
    }

    public AdaptationSettings withLoss(Loss newLoss) {
        return new AdaptationSettings(steps, stepSize, supportPrior, newLoss, innerStep);
    }

    public AdaptationSettings withInnerStep(InnerStep newInnerStep) {
        return new AdaptationSettings(steps, stepSize, supportPrior, loss, newInnerStep);
    }
}

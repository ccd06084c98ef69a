package io.metastream.streamapp;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainingPlan;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * The meta-training loop's options, shared by the families trained by gradient meta-learning
 * (sinusoid, movielens, records, and omniglot's MLP learners). Each is optional: what is not given comes from the family's
 * plan, whose values its command's description lists ({@link #over}).
 */
final class MetaLearningOptions {
    @Option(names = "--iterations", description = "Meta-training iterations.")
    Integer iterations;

    @Option(names = "--shots", paramLabel = "K", description = "Support examples per task.")
    Integer shots;

    @Option(names = "--inner-steps", description = "Inner SGD steps, also the number the stream takes online.")
    Integer innerSteps;

    @Option(names = "--inner-step-size", description = "Inner SGD step size; for metasgd and anil, the size the "
            + "learned per-parameter sizes start from.")
    Float innerStepSize;

    @Option(names = "--loss", description = "Loss of the inner and outer loop: mse, mae (absolute error, the "
            + "median's loss), logistic (targets 0/1, predictions served as probabilities) or cross-entropy "
            + "(N-way classification with a softmax head: train omniglot).")
    String loss;

    @Option(names = "--inner-step", description = "How the stream takes each inner step: sgd (always the step "
            + "size times the gradient) or bounded-sgd (a step that would pass the minimum of the support loss's "
            + "Gauss-Newton model is shortened to land on it; keeps 1- and 2-shot adaptations from blowing up). "
            + "Meta-training takes plain steps either way. Default: sgd.")
    String innerStep;

    @Option(names = "--meta-batch", description = "Tasks per meta-iteration.")
    Integer metaBatch;

    @Option(names = "--outer-step-size", description = "Adam step size of the outer loop.")
    Float outerStepSize;

    @Option(names = "--outer-decay-to", description = "Decay the outer step size linearly to this fraction of "
            + "itself by the last iteration (1: constant).")
    Float outerDecayTo;

    /** {@code --loss}, if given. */
    Optional<Loss> loss() {
        return Optional.ofNullable(loss).map(Loss::fromId);
    }

    /**
     * The family's {@code defaults} with every option the user gave in its place, and {@code seed}.
     *
     * @throws IllegalArgumentException if a given value is invalid, naming it
     */
    MetaTrainingPlan over(MetaTrainingPlan defaults, long seed) {
        AdaptationSettings a = defaults.adaptation();
        AdaptationSettings adaptation = new AdaptationSettings(
                innerSteps != null ? innerSteps : a.steps(),
                innerStepSize != null ? innerStepSize : a.stepSize(),
                a.supportPrior(),
                loss().orElse(a.loss()),
                innerStep != null ? AdaptationSettings.InnerStep.fromId(innerStep) : a.innerStep());
        return new MetaTrainingPlan(defaults.architecture(), adaptation,
                iterations != null ? iterations : defaults.iterations(),
                metaBatch != null ? metaBatch : defaults.metaBatch(),
                shots != null ? shots : defaults.shots(),
                defaults.queryShots(),
                outerStepSize != null ? outerStepSize : defaults.outerStepSize(),
                seed,
                outerDecayTo != null ? outerDecayTo : defaults.finalOuterStepFraction());
    }

    /**
     * Refuses the inner-loop options for a learner that adapts without inner steps, rather than
     * silently ignoring them.
     *
     * @throws IllegalArgumentException naming the options to drop
     */
    void refuseInnerLoop(LearnerKind learner) {
        if (innerSteps != null || innerStepSize != null || innerStep != null) {
            throw new IllegalArgumentException(learner.id() + " has no inner steps: drop --inner-steps, "
                    + "--inner-step-size and --inner-step");
        }
        if (loss().filter(l -> l == Loss.LOGISTIC).isPresent()) {
            // Both fit squared error or the absolute error; neither has a link to a probability.
            throw new IllegalArgumentException(learner.id() + " is trained with squared or absolute error only: "
                    + "drop --loss " + loss);
        }
    }
}

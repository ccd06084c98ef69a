package io.metastream.learn;

/**
 * Hyper-parameters of one meta-training run. The inner loop ({@code adaptation}) is the one the
 * stream will run, so the trained base is stored together with it. The outer step size decays
 * linearly from {@code outerStepSize} to {@code finalOuterStepFraction} times it over the run (1,
 * the default, keeps it constant as in Finn et al. 2017); a decay averages out the meta-batch noise
 * that otherwise sets the floor of the learning curve.
 */
public record MetaTrainingPlan(MlpArchitecture architecture, AdaptationSettings adaptation, int iterations,
        int metaBatch, int shots, int queryShots, float outerStepSize, long seed, float finalOuterStepFraction) {
    /** A plan with a constant outer step size. */
    public MetaTrainingPlan(MlpArchitecture architecture, AdaptationSettings adaptation, int iterations,
            int metaBatch, int shots, int queryShots, float outerStepSize, long seed) {
        this(architecture, adaptation, iterations, metaBatch, shots, queryShots, outerStepSize, seed, 1f);
    }

    public MetaTrainingPlan {
        if (!(finalOuterStepFraction >= 0 && finalOuterStepFraction <= 1)) {
            throw new IllegalArgumentException("finalOuterStepFraction must be in [0, 1], got "
                    + finalOuterStepFraction);
        }
        if (iterations < 1 || metaBatch < 1 || shots < 1 || queryShots < 1) {
            throw new IllegalArgumentException("iterations, metaBatch, shots and queryShots must be positive: "
                    + iterations + ", " + metaBatch + ", " + shots + ", " + queryShots);
        }
        if (!(outerStepSize > 0)) {
            throw new IllegalArgumentException("outerStepSize must be positive, got " + outerStepSize);
        }
    }

    /**
     * The sinusoid setting of Finn et al. 2017 (1-40-40-1 ReLU, 10 shots, 25 tasks a meta-batch)
     * with the inner loop the stream runs: 5 SGD steps of 0.02. Reptile reaches a query MSE of
     * about 0.21 after 10 shots with it (docs/RESULTS.md).
     */
    public static MetaTrainingPlan sinusoidDefault() {
        return new MetaTrainingPlan(MlpArchitecture.parse("1-40-40-1"), new AdaptationSettings(5, 0.02f),
                5000, 25, 10, 10, 0.002f, 42L);
    }

    public MetaTrainingPlan withIterations(int n) {
        return new MetaTrainingPlan(architecture, adaptation, n, metaBatch, shots, queryShots, outerStepSize, seed,
                finalOuterStepFraction);
    }

    public MetaTrainingPlan withShots(int k) {
        return new MetaTrainingPlan(architecture, adaptation, iterations, metaBatch, k, queryShots, outerStepSize,
                seed, finalOuterStepFraction);
    }

    public MetaTrainingPlan withAdaptation(AdaptationSettings a) {
        return new MetaTrainingPlan(architecture, a, iterations, metaBatch, shots, queryShots, outerStepSize, seed,
                finalOuterStepFraction);
    }

    public MetaTrainingPlan withSeed(long s) {
        return new MetaTrainingPlan(architecture, adaptation, iterations, metaBatch, shots, queryShots,
                outerStepSize, s, finalOuterStepFraction);
    }

    /** The outer step size at iteration {@code it} (0-based) of the linear decay. */
    public float outerStepSizeAt(int it) {
        double progress = iterations == 1 ? 0 : (double) it / (iterations - 1);
        return (float) (outerStepSize * (1 - (1 - finalOuterStepFraction) * progress));
    }
}

package io.metastream.data.sinusoid;

import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskFamily;
import java.util.Random;

/**
 * Sinusoid regression of Finn, Abbeel and Levine, "Model-Agnostic Meta-Learning for Fast Adaptation
 * of Deep Networks", ICML 2017, section 5.1: each task is {@code y = A sin(x + phase)} with amplitude
 * A uniform in [0.1, 5], phase uniform in [0, pi], and inputs uniform in [-5, 5]; no label noise.
 */
public final class SinusoidTasks implements TaskFamily {
    public static final float MIN_AMPLITUDE = 0.1f;
    public static final float MAX_AMPLITUDE = 5.0f;
    public static final float MAX_PHASE = (float) Math.PI;
    public static final float MIN_X = -5f;
    public static final float MAX_X = 5f;

    private final float minAmplitude;
    private final float maxAmplitude;
    private final float minPhase;
    private final float maxPhase;

    /** The family of the paper. */
    public SinusoidTasks() {
        this(MIN_AMPLITUDE, MAX_AMPLITUDE, 0f, MAX_PHASE);
    }

    /**
     * Another prior over amplitude and phase (inputs stay uniform in [-5, 5]): a population that
     * has drifted away from the paper's, for the continual meta-training scenarios.
     */
    public SinusoidTasks(float minAmplitude, float maxAmplitude, float minPhase, float maxPhase) {
        if (!(minAmplitude > 0 && maxAmplitude >= minAmplitude && maxPhase >= minPhase)) {
            throw new IllegalArgumentException("amplitude " + minAmplitude + ".." + maxAmplitude + ", phase "
                    + minPhase + ".." + maxPhase);
        }
        this.minAmplitude = minAmplitude;
        this.maxAmplitude = maxAmplitude;
        this.minPhase = minPhase;
        this.maxPhase = maxPhase;
    }

    /** One sinusoid. */
    public record Sinusoid(float amplitude, float phase) {
        public float value(float x) {
            return (float) (amplitude * Math.sin(x + phase));
        }

        /** {@code n} labelled points at inputs uniform in [-5, 5]. */
        public SampleSet sample(Random random, int n) {
            float[][] features = new float[n][];
            float[] targets = new float[n];
            for (int i = 0; i < n; i++) {
                float x = MIN_X + random.nextFloat() * (MAX_X - MIN_X);
                features[i] = new float[] {x};
                targets[i] = value(x);
            }
            return new SampleSet(features, targets);
        }
    }

    /** A task drawn from the family's prior. */
    public Sinusoid sampleTask(Random random) {
        return new Sinusoid(minAmplitude + random.nextFloat() * (maxAmplitude - minAmplitude),
                minPhase + random.nextFloat() * (maxPhase - minPhase));
    }

    @Override
    public Episode sample(Random random, int supportSize, int querySize) {
        Sinusoid task = sampleTask(random);
        return new Episode(task.sample(random, supportSize), task.sample(random, querySize));
    }

    @Override
    public int inputDim() {
        return 1;
    }

    @Override
    public String id() {
        if (minAmplitude == MIN_AMPLITUDE && maxAmplitude == MAX_AMPLITUDE && minPhase == 0f
                && maxPhase == MAX_PHASE) {
            return "sinusoid(A=0.1..5,phase=0..pi,x=-5..5)";
        }
        return "sinusoid(A=" + minAmplitude + ".." + maxAmplitude + ",phase=" + minPhase + ".." + maxPhase
                + ",x=-5..5)";
    }
}

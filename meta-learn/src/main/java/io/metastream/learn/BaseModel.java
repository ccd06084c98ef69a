package io.metastream.learn;

import java.util.Objects;

/**
 * An immutable meta-learned base: architecture, parameters (host floats in the
 * {@link MlpArchitecture} layout), the inner loop it was meta-trained for, and the version that
 * names it on every prediction. Holds no native memory, so one instance is safely shared by all
 * stream threads; each batched call copies the few kilobytes of parameters into its own scratch
 * manager (on the GPU when there is one).
 */
public final class BaseModel {
    private final String version;
    private final String learner;
    private final MlpArchitecture architecture;
    private final float[] parameters;
    private final AdaptationSettings adaptation;

    /**
     * @throws IllegalArgumentException if the parameter count does not match the architecture
     */
    public BaseModel(String version, String learner, MlpArchitecture architecture, float[] parameters,
            AdaptationSettings adaptation) {
        this.version = Objects.requireNonNull(version, "version");
        this.learner = Objects.requireNonNull(learner, "learner");
        this.architecture = Objects.requireNonNull(architecture, "architecture");
        this.adaptation = Objects.requireNonNull(adaptation, "adaptation");
        if (parameters.length != architecture.parameterCount()) {
            throw new IllegalArgumentException(architecture + " has " + architecture.parameterCount()
                    + " parameters, got " + parameters.length);
        }
        for (int i = 0; i < parameters.length; i++) {
            if (!Float.isFinite(parameters[i])) {
                throw new IllegalArgumentException("parameter " + i + " is not finite: " + parameters[i]);
            }
        }
        this.parameters = parameters.clone();
    }

    /** {@code name@version}, as carried by predictions and adaptation events. */
    public String version() {
        return version;
    }

    public String learner() {
        return learner;
    }

    public MlpArchitecture architecture() {
        return architecture;
    }

    public int inputDim() {
        return architecture.inputDim();
    }

    /** A copy of the parameters. */
    public float[] parameters() {
        return parameters.clone();
    }

    /** The parameters without copying; callers must not modify the array. */
    float[] parametersView() {
        return parameters;
    }

    public AdaptationSettings adaptation() {
        return adaptation;
    }

    @Override
    public String toString() {
        return version + " (" + learner + ", " + architecture + ", " + adaptation.steps() + " steps of "
                + adaptation.stepSize() + ")";
    }
}

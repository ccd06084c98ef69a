package io.metastream.learn;

import java.util.Objects;
import java.util.Optional;

/**
 * An immutable meta-learned base: architecture, parameters (host floats in the
 * {@link MlpArchitecture} layout), the inner loop it was meta-trained for, and the version that
 * names it on every prediction. Optionally a per-parameter inner step-size vector {@code alpha} in
 * the same layout, so the inner update is {@code phi = theta - alpha * grad}: Meta-SGD learns it,
 * ANIL sets it to the step size on the head and 0 on the body. Without it the scalar step size of
 * the adaptation settings applies to every parameter (MAML, Reptile, fine-tuning).
 *
 * <p>A task-encoder base ({@link #taskEncoder}) has a second network, the encoder, that maps each
 * support point {@code [x, y]} to a vector; their mean is the task embedding, and the main network
 * (the decoder) reads {@code [x, embedding]}. Its {@link #inputDim()} is that of {@code x}.
 *
 * <p>A prototypical-network base ({@link #protoNet}) has no MLP: its network is a conv4 image
 * embedding ({@link #embedding()}), its {@link #architecture()} is {@code null} and its
 * {@link #parameters()} are empty; its adapted state is the task's class prototypes.
 *
 * <p>A base that {@link #classifies()} answers N-way questions: the targets of its support sets are
 * class indices, and {@link Learner#classify} gives class probabilities.
 *
 * <p>Holds no native memory, so one instance is safely shared by all stream threads; each batched
 * call copies the few kilobytes of parameters into its own scratch manager (on the GPU when there
 * is one).
 */
public final class BaseModel {
    private final String version;
    private final String learner;
    private final MlpArchitecture architecture;
    private final float[] parameters;
    private final AdaptationSettings adaptation;
    private final float[] stepSizes;
    private final MlpArchitecture encoder;
    private final float[] encoderParameters;
    /** A protonet's {@code ConvEmbedding} file; null for every other base. */
    private final byte[] embedding;
    private final int embeddingInputDim;

    /**
     * A base adapted with the scalar step size of {@code adaptation}.
     *
     * @throws IllegalArgumentException if the parameter count does not match the architecture
     */
    public BaseModel(String version, String learner, MlpArchitecture architecture, float[] parameters,
            AdaptationSettings adaptation) {
        this(version, learner, architecture, parameters, adaptation, null);
    }

    /**
     * @param stepSizes per-parameter inner step sizes in the parameter layout, or {@code null} for
     *     the scalar step size of {@code adaptation}
     * @throws IllegalArgumentException if a vector's length does not match the architecture or a
     *     value is not finite
     */
    public BaseModel(String version, String learner, MlpArchitecture architecture, float[] parameters,
            AdaptationSettings adaptation, float[] stepSizes) {
        this(version, learner, architecture, parameters, adaptation, stepSizes, null, null);
    }

    private BaseModel(String version, String learner, MlpArchitecture architecture, float[] parameters,
            AdaptationSettings adaptation, float[] stepSizes, MlpArchitecture encoder, float[] encoderParameters) {
        this.version = Objects.requireNonNull(version, "version");
        this.learner = Objects.requireNonNull(learner, "learner");
        this.architecture = Objects.requireNonNull(architecture, "architecture");
        this.adaptation = Objects.requireNonNull(adaptation, "adaptation");
        checkVector("parameter", parameters, architecture);
        this.parameters = parameters.clone();
        if (stepSizes != null) {
            checkVector("step size", stepSizes, architecture);
        }
        this.stepSizes = stepSizes == null ? null : stepSizes.clone();
        this.encoder = encoder;
        if (encoder != null) {
            checkVector("encoder parameter", encoderParameters, encoder);
            int embedding = encoder.outputDim();
            int x = encoder.inputDim() - 1;
            if (x < 1 || architecture.inputDim() != x + embedding) {
                throw new IllegalArgumentException("the decoder " + architecture + " must read [x, embedding] of "
                        + "the encoder " + encoder + ": " + (x + embedding) + " inputs");
            }
        }
        this.encoderParameters = encoder == null ? null : encoderParameters.clone();
        this.embedding = null;
        this.embeddingInputDim = 0;
    }

    private BaseModel(String version, byte[] embedding, int inputDim) {
        this.version = Objects.requireNonNull(version, "version");
        this.learner = LearnerKind.PROTONET.id();
        this.architecture = null;
        this.parameters = new float[0];
        this.adaptation = AdaptationSettings.NONE.withLoss(Loss.CROSS_ENTROPY);
        this.stepSizes = null;
        this.encoder = null;
        this.encoderParameters = null;
        this.embedding = Objects.requireNonNull(embedding, "embedding").clone();
        if (inputDim < 1) {
            throw new IllegalArgumentException("a protonet's input has at least one value, got " + inputDim);
        }
        this.embeddingInputDim = inputDim;
    }

    /**
     * A prototypical-network base (Snell et al. 2017): {@code embedding} is its image embedding as
     * {@code io.metastream.learn.omniglot.ConvEmbedding} writes it, reading {@code inputDim}
     * pixels. Adapted without steps: a task's state is the mean embedding of each of its classes.
     */
    public static BaseModel protoNet(String version, byte[] embedding, int inputDim) {
        return new BaseModel(version, embedding, inputDim);
    }

    /**
     * A task-encoder base: {@code encoder} maps a support point {@code [x, y]} ({@code d + 1}
     * inputs) to {@code R} outputs, and {@code decoder} maps {@code [x, embedding]} ({@code d + R}
     * inputs) to the prediction. Adapted without inner steps ({@link AdaptationSettings#NONE}).
     *
     * @throws IllegalArgumentException if the shapes do not fit together or a value is not finite
     */
    public static BaseModel taskEncoder(String version, MlpArchitecture encoder, float[] encoderParameters,
            MlpArchitecture decoder, float[] decoderParameters) {
        return taskEncoder(version, encoder, encoderParameters, decoder, decoderParameters, AdaptationSettings.NONE);
    }

    /**
     * As {@link #taskEncoder(String, MlpArchitecture, float[], MlpArchitecture, float[])}, with the
     * pooling's {@link AdaptationSettings#supportPrior() support prior} (the embedding is the sum of
     * the encoder's outputs over {@code n + prior}: shrunk towards the cold embedding while a task
     * has few points) and the {@link AdaptationSettings#loss() loss} it was trained with (whose link
     * turns the decoder's output into a prediction). Its steps must be 0.
     *
     * @throws IllegalArgumentException if the shapes do not fit together, a value is not finite, or
     *     {@code adaptation} has inner steps
     */
    public static BaseModel taskEncoder(String version, MlpArchitecture encoder, float[] encoderParameters,
            MlpArchitecture decoder, float[] decoderParameters, AdaptationSettings adaptation) {
        if (adaptation.steps() != 0) {
            throw new IllegalArgumentException("a task encoder takes no inner steps, got " + adaptation.steps());
        }
        return new BaseModel(version, LearnerKind.TASK_ENCODER.id(), decoder, decoderParameters, adaptation, null,
                Objects.requireNonNull(encoder, "encoder"), encoderParameters);
    }

    private static void checkVector(String what, float[] v, MlpArchitecture architecture) {
        if (v.length != architecture.parameterCount()) {
            throw new IllegalArgumentException(architecture + " has " + architecture.parameterCount() + " "
                    + what + "s, got " + v.length);
        }
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException(what + " " + i + " is not finite: " + v[i]);
            }
        }
    }

    /** {@code name@version}, as carried by predictions and adaptation events. */
    public String version() {
        return version;
    }

    /** The manifest's learner id: a {@link LearnerKind#id()}, or an application's own learner's. */
    public String learner() {
        return learner;
    }

    /** The built-in kind of {@link #learner()}; empty for an application's own learner. */
    public Optional<LearnerKind> kind() {
        return LearnerKind.find(learner);
    }

    /** The MLP (the decoder, for a task encoder); {@code null} for a protonet, which has none. */
    public MlpArchitecture architecture() {
        return architecture;
    }

    /** Length of a feature vector {@code x}. */
    public int inputDim() {
        if (embedding != null) {
            return embeddingInputDim;
        }
        return encoder == null ? architecture.inputDim() : encoder.inputDim() - 1;
    }

    /**
     * Whether this base classifies: a protonet, or a base trained with {@link Loss#CROSS_ENTROPY}.
     * Its samples need a class label, and its predictions name one.
     */
    public boolean classifies() {
        return adaptation.loss().classifies();
    }

    /**
     * How many classes one task may use: a softmax head's outputs, or, for a protonet, any number
     * (a prototype per class the support set shows); 0 for a base that does not classify.
     */
    public int maxClasses() {
        if (!classifies()) {
            return 0;
        }
        return embedding != null ? Integer.MAX_VALUE : architecture.outputDim();
    }

    /** A copy of a protonet's embedding file, or {@code null} for any other base. */
    public byte[] embedding() {
        return embedding == null ? null : embedding.clone();
    }

    /** The embedding file without copying; callers must not modify the array. */
    byte[] embeddingView() {
        return embedding;
    }

    /** The task encoder's architecture, or {@code null} for a base without one. */
    public MlpArchitecture encoderArchitecture() {
        return encoder;
    }

    /** A copy of the task encoder's parameters, or {@code null} for a base without one. */
    public float[] encoderParameters() {
        return encoderParameters == null ? null : encoderParameters.clone();
    }

    /** The encoder parameters without copying; callers must not modify the array. */
    float[] encoderParametersView() {
        return encoderParameters;
    }

    /** Length of the task embedding, 0 for a base without a task encoder. */
    public int embeddingDim() {
        return encoder == null ? 0 : encoder.outputDim();
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

    /** A copy of the per-parameter inner step sizes, or {@code null} when the scalar one applies. */
    public float[] stepSizes() {
        return stepSizes == null ? null : stepSizes.clone();
    }

    public boolean hasStepSizes() {
        return stepSizes != null;
    }

    /**
     * The step sizes to run {@code settings} with: the base's own vector scaled by the ratio of the
     * requested to the trained scalar step size (so an override still scales the whole update), or
     * {@code null} when the base has no vector. Callers must not modify the array.
     */
    float[] stepSizesFor(AdaptationSettings settings) {
        if (stepSizes == null) {
            return null;
        }
        if (settings.stepSize() == adaptation.stepSize()) {
            return stepSizes;
        }
        float scale = settings.stepSize() / adaptation.stepSize();
        float[] scaled = new float[stepSizes.length];
        for (int i = 0; i < scaled.length; i++) {
            scaled[i] = stepSizes[i] * scale;
        }
        return scaled;
    }

    @Override
    public String toString() {
        if (embedding != null) {
            return version + " (" + learner + ", conv4 embedding of " + embeddingInputDim + " inputs)";
        }
        if (encoder != null) {
            return version + " (" + learner + ", encoder " + encoder + ", decoder " + architecture + ")";
        }
        return version + " (" + learner + ", " + architecture + ", " + adaptation.steps() + " steps of "
                + (stepSizes == null ? Float.toString(adaptation.stepSize()) : "per-parameter sizes") + ")";
    }
}

package io.metastream.learn.artifact;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.ParameterFile;
import io.metastream.learn.RidgeHeadLearner;
import io.metastream.learn.omniglot.ConvEmbedding;
import io.metastream.store.LoadedArtifact;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import io.metastream.store.ModelStoreException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns model-store artifacts into {@link BaseModel}s and back. The store checks bytes and
 * checksums; this class checks that the manifest describes something the running code can serve
 * (a known learner, an MLP whose parameter file agrees with the manifest).
 */
public final class BaseModelArtifacts {
    public static final String PARAMETERS_FILE = "parameters.msp";
    /**
     * Per-parameter inner step sizes, in the parameter file format and layout; present for the
     * {@link LearnerKind#hasStepSizes()} learners, absent for the rest.
     */
    public static final String STEP_SIZES_FILE = "step-sizes.msp";
    public static final String ARCHITECTURE = "mlp";
    /**
     * A {@link LearnerKind#PROTONET} base (Snell et al. 2017): a {@link ConvEmbedding}, architecture
     * {@link ConvEmbedding#ARCHITECTURE}; adaptation is computing class prototypes, so it has no
     * inner steps. Served by {@link io.metastream.learn.PrototypeLearner}.
     */
    public static final String EMBEDDING_FILE = "embedding.mse";

    /**
     * The task encoder's encoder network, in the parameter file format; present for
     * {@link LearnerKind#TASK_ENCODER} bases, whose {@link #PARAMETERS_FILE} holds the decoder.
     */
    public static final String ENCODER_FILE = "encoder.msp";

    private BaseModelArtifacts() {
    }

    /**
     * Loads and verifies {@code name@versionOrAlias}.
     *
     * @throws ModelStoreException if the artifact is missing, corrupt or not servable by this build
     */
    public static BaseModel load(ModelStore store, String name, String versionOrAlias) {
        return load(store, name, versionOrAlias, null);
    }

    /**
     * Loads and verifies {@code name@versionOrAlias}, and checks that it is the artifact announced
     * with {@code expectedDigest} ({@link ModelStore#digest}).
     *
     * @param expectedDigest the announced digest; null (an announcement from before digests) accepts any
     * @throws io.metastream.store.ArtifactMismatchException if the store holds another artifact under that version
     * @throws ModelStoreException if the artifact is missing, corrupt or not servable by this build
     */
    public static BaseModel load(ModelStore store, String name, String versionOrAlias, String expectedDigest) {
        LoadedArtifact artifact = store.load(name, versionOrAlias).requireDigest(expectedDigest);
        ModelManifest m = artifact.manifest();
        LearnerKind kind = LearnerKind.find(m.learner()).orElse(null);
        if (kind == LearnerKind.PROTONET) {
            ProtoNetArtifact protoNet = protoNet(artifact);
            try {
                // Read once here, so a torn or foreign embedding file fails verify and load, not a query.
                ConvEmbedding.check(protoNet.embedding());
            } catch (IllegalArgumentException e) {
                throw new ModelStoreException(m.ref() + "/" + EMBEDDING_FILE + ": " + e.getMessage(), e);
            }
            return BaseModel.protoNet(m.ref(), protoNet.embedding(), ConvEmbedding.IMAGE_PIXELS);
        }
        // A learner id that is not built in (an application registers its own learner for it) loads
        // as an MLP with inner-loop settings; whether a learner serves it is the ActiveModel's check.
        if (!ARCHITECTURE.equals(m.architecture())) {
            throw new ModelStoreException(m.ref() + ": architecture '" + m.architecture() + "' is not supported");
        }
        ParameterFile.Contents contents = readParameters(artifact, PARAMETERS_FILE);
        float[] stepSizes = null;
        if (m.files().containsKey(STEP_SIZES_FILE)) {
            ParameterFile.Contents alpha = readParameters(artifact, STEP_SIZES_FILE);
            if (!alpha.architecture().equals(contents.architecture())) {
                throw new ModelStoreException(m.ref() + "/" + STEP_SIZES_FILE + " is for " + alpha.architecture()
                        + ", the parameters for " + contents.architecture());
            }
            stepSizes = alpha.parameters();
        } else if (kind != null && kind.hasStepSizes()) {
            throw new ModelStoreException(m.ref() + ": learner '" + m.learner() + "' needs " + STEP_SIZES_FILE
                    + ", files are " + m.files().keySet());
        }
        if (kind == LearnerKind.TASK_ENCODER) {
            return loadTaskEncoder(artifact, contents);
        }
        if (!List.of(contents.architecture().inputDim()).equals(m.inputShape())) {
            throw new ModelStoreException(m.ref() + ": manifest input shape " + m.inputShape()
                    + " disagrees with the parameter file's " + contents.architecture());
        }
        if (kind == LearnerKind.ANIL_RIDGE) {
            // The lambda a ridge head was trained with is its prior; artifacts before it wrote the fixed one.
            AdaptationSettings settings;
            try {
                float lambda = ((Number) m.adaptation().getOrDefault("ridge_lambda", RidgeHeadLearner.LAMBDA))
                        .floatValue();
                settings = lambda == RidgeHeadLearner.LAMBDA ? AdaptationSettings.NONE
                        : new AdaptationSettings(0, 1f, lambda);
            } catch (RuntimeException e) {
                throw new ModelStoreException(m.ref() + ": manifest ridge_lambda is not a lambda: " + m.adaptation(), e);
            }
            return base(m, contents, settings, stepSizes);
        }
        if (kind != null && kind.stepFree()) {
            return base(m, contents, AdaptationSettings.NONE, stepSizes);
        }
        Map<String, Object> a = m.adaptation();
        AdaptationSettings settings;
        try {
            // support_prior came with the recommender; artifacts without it use the mean loss.
            Object prior = a.getOrDefault("support_prior", 0);
            // loss came with the logistic and absolute-error bases; artifacts without it are squared error.
            settings = new AdaptationSettings(((Number) a.get("inner_steps")).intValue(),
                    ((Number) a.get("step_size")).floatValue(), ((Number) prior).floatValue(),
                    Loss.fromId(String.valueOf(a.getOrDefault("loss", Loss.MSE.id()))),
                    // Every artifact before bounded steps says "sgd" (or, step-free, nothing).
                    AdaptationSettings.InnerStep.fromId(String.valueOf(a.getOrDefault("optimizer",
                            AdaptationSettings.InnerStep.SGD.id()))));
        } catch (RuntimeException e) {
            throw new ModelStoreException(m.ref() + ": manifest adaptation settings are incomplete: " + a, e);
        }
        return base(m, contents, settings, stepSizes);
    }

    private static BaseModel base(ModelManifest m, ParameterFile.Contents contents, AdaptationSettings settings,
            float[] stepSizes) {
        try {
            return new BaseModel(m.ref(), m.learner(), contents.architecture(), contents.parameters(), settings,
                    stepSizes);
        } catch (IllegalArgumentException e) {
            throw new ModelStoreException(m.ref() + ": " + e.getMessage(), e);
        }
    }

    /** A task-encoder base: the decoder in {@link #PARAMETERS_FILE}, the encoder in {@link #ENCODER_FILE}. */
    private static BaseModel loadTaskEncoder(LoadedArtifact artifact, ParameterFile.Contents decoder) {
        ModelManifest m = artifact.manifest();
        if (!m.files().containsKey(ENCODER_FILE)) {
            throw new ModelStoreException(m.ref() + ": learner '" + m.learner() + "' needs " + ENCODER_FILE
                    + ", files are " + m.files().keySet());
        }
        ParameterFile.Contents encoder = readParameters(artifact, ENCODER_FILE);
        BaseModel base;
        try {
            // support_prior and loss came with the recommender; earlier task encoders pool by the mean
            // and predict with squared error.
            Map<String, Object> a = m.adaptation();
            AdaptationSettings settings = new AdaptationSettings(0, 1f,
                    ((Number) a.getOrDefault("support_prior", 0)).floatValue(),
                    Loss.fromId(String.valueOf(a.getOrDefault("loss", Loss.MSE.id()))));
            base = BaseModel.taskEncoder(m.ref(), encoder.architecture(), encoder.parameters(),
                    decoder.architecture(), decoder.parameters(), settings);
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new ModelStoreException(m.ref() + ": " + e.getMessage(), e);
        }
        if (!List.of(base.inputDim()).equals(m.inputShape())) {
            throw new ModelStoreException(m.ref() + ": manifest input shape " + m.inputShape()
                    + " disagrees with the encoder " + encoder.architecture());
        }
        return base;
    }

    /** A stored prototypical network: its manifest and its {@link ConvEmbedding} file. */
    public record ProtoNetArtifact(ModelManifest manifest, byte[] embedding) {
    }

    /**
     * Loads {@code name@versionOrAlias} as a prototypical network, for offline evaluation.
     *
     * @throws ModelStoreException if it is missing, corrupt, or not a conv4 protonet
     */
    public static ProtoNetArtifact loadProtoNet(ModelStore store, String name, String versionOrAlias) {
        return protoNet(store.load(name, versionOrAlias));
    }

    private static ProtoNetArtifact protoNet(LoadedArtifact artifact) {
        ModelManifest m = artifact.manifest();
        if (!LearnerKind.PROTONET.id().equals(m.learner()) || !ConvEmbedding.ARCHITECTURE.equals(m.architecture())) {
            throw new ModelStoreException(m.ref() + " is a " + m.learner() + " " + m.architecture()
                    + ", not a " + LearnerKind.PROTONET.id() + " " + ConvEmbedding.ARCHITECTURE);
        }
        return new ProtoNetArtifact(m, artifact.file(EMBEDDING_FILE));
    }

    /**
     * Publishes a trained conv4 embedding as a new version of a {@code protonet} model.
     *
     * @return the stored manifest, with its assigned version
     */
    public static ModelManifest publishProtoNet(ModelStore store, String name, byte[] embedding,
            Map<String, Object> provenance) {
        ModelManifest.Builder draft = ModelManifest.builder()
                .setLearner(LearnerKind.PROTONET.id())
                .setArchitecture(ConvEmbedding.ARCHITECTURE)
                .setInputShape(1, ConvEmbedding.IMAGE_SIZE, ConvEmbedding.IMAGE_SIZE)
                .optArchitectureParams(Map.of("blocks", 4, "filters", ConvEmbedding.FILTERS, "kernel", 3,
                        "block", "conv3x3-batchnorm-relu-maxpool2x2", "embedding_dim", ConvEmbedding.FILTERS,
                        "format_version", ConvEmbedding.CURRENT_VERSION))
                .optAdaptation(Map.of("rule", "class prototypes (mean support embedding)",
                        "distance", "squared euclidean"))
                .optProvenance(provenance);
        return store.publish(name, draft, Map.of(EMBEDDING_FILE, embedding));
    }

    /**
     * The manifest's adaptation section: the inner loop, or, for a {@link LearnerKind#stepFree()}
     * learner, {@code inner_steps: 0} and the rule it uses.
     */
    private static Map<String, Object> adaptation(BaseModel base) {
        AdaptationSettings a = base.adaptation();
        // An application's own learner id is written like a gradient learner's.
        return switch (base.kind().orElse(LearnerKind.REPTILE)) {
            case TASK_ENCODER -> {
                Map<String, Object> m = new LinkedHashMap<>(Map.of("inner_steps", 0,
                        "rule", "task embedding: mean of the encoder over the support points, one forward pass"));
                yield withPriorAndLoss(m, a);
            }
            case ANIL_RIDGE -> Map.of("inner_steps", 0, "ridge_lambda", (double) RidgeHeadLearner.lambda(a),
                    "rule", "closed-form ridge regression of the last layer, shrunk towards the base's");
            default -> {
                Map<String, Object> m = new LinkedHashMap<>(Map.of("inner_steps", a.steps(), "step_size",
                        (double) a.stepSize(), "optimizer", a.innerStep().id(), "step_sizes",
                        base.hasStepSizes() ? "per-parameter" : "scalar"));
                yield withPriorAndLoss(m, a);
            }
        };
    }

    /**
     * Adds the support prior and the loss when they are not the defaults: written only when set, so
     * the artifacts of every earlier learner stay byte-identical. The stream applies the loss's
     * link to predictions.
     */
    private static Map<String, Object> withPriorAndLoss(Map<String, Object> m, AdaptationSettings a) {
        if (a.supportPrior() != 0) {
            m.put("support_prior", (double) a.supportPrior());
        }
        if (a.loss() != Loss.MSE) {
            m.put("loss", a.loss().id());
            m.put("link", switch (a.loss()) {
                case LOGISTIC -> "sigmoid (predictions are probabilities)";
                case CROSS_ENTROPY -> "softmax over a task's classes (outputs are class logits)";
                default -> "identity";
            });
        }
        return m;
    }

    private static ParameterFile.Contents readParameters(LoadedArtifact artifact, String file) {
        try {
            return ParameterFile.read(artifact.file(file));
        } catch (IllegalArgumentException e) {
            throw new ModelStoreException(artifact.ref() + "/" + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Publishes trained parameters as a new immutable version.
     *
     * @return the stored manifest, with its assigned version
     */
    public static ModelManifest publish(ModelStore store, String name, String learner, MlpArchitecture arch,
            float[] parameters, AdaptationSettings adaptation, Map<String, Object> provenance) {
        return publish(store, name, new BaseModel(name + "@draft", learner, arch, parameters, adaptation),
                provenance);
    }

    /**
     * Publishes a base, with its per-parameter step sizes if it has them, as a new version.
     *
     * @return the stored manifest, with its assigned version
     */
    public static ModelManifest publish(ModelStore store, String name, BaseModel base, Map<String, Object> provenance) {
        MlpArchitecture arch = base.architecture();
        String learner = base.learner();
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(PARAMETERS_FILE, ParameterFile.write(arch, base.parameters()));
        if (base.hasStepSizes()) {
            files.put(STEP_SIZES_FILE, ParameterFile.write(arch, base.stepSizes()));
        }
        Map<String, Object> architecture = new LinkedHashMap<>();
        architecture.put("layers", arch.layerList());
        architecture.put("activation", "relu");
        if (base.encoderArchitecture() != null) {
            files.put(ENCODER_FILE, ParameterFile.write(base.encoderArchitecture(), base.encoderParameters()));
            architecture.put("encoder_layers", base.encoderArchitecture().layerList());
            architecture.put("embedding_dim", base.embeddingDim());
            architecture.put("aggregation", "mean");
        }
        ModelManifest.Builder draft = ModelManifest.builder()
                .setLearner(learner)
                .setArchitecture(ARCHITECTURE)
                .setInputShape(base.inputDim())
                .optArchitectureParams(architecture)
                .optAdaptation(adaptation(base))
                .optProvenance(provenance);
        return store.publish(name, draft, files);
    }
}

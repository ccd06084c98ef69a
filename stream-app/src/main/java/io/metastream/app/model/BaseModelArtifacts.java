package io.metastream.app.model;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.ParameterFile;
import io.metastream.store.LoadedArtifact;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import io.metastream.store.ModelStoreException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns model-store artifacts into {@link BaseModel}s and back. The store checks bytes and
 * checksums; this class checks that the manifest describes something the running code can serve
 * (a known learner, an MLP whose parameter file agrees with the manifest).
 */
public final class BaseModelArtifacts {
    public static final String PARAMETERS_FILE = "parameters.msp";
    public static final String ARCHITECTURE = "mlp";
    /** Learners whose online adaptation is {@link io.metastream.learn.GradientLearner}. */
    public static final Set<String> GRADIENT_LEARNERS = Set.of("reptile", "fomaml", "maml");

    private BaseModelArtifacts() {
    }

    /**
     * Loads and verifies {@code name@versionOrAlias}.
     *
     * @throws ModelStoreException if the artifact is missing, corrupt or not servable by this build
     */
    public static BaseModel load(ModelStore store, String name, String versionOrAlias) {
        LoadedArtifact artifact = store.load(name, versionOrAlias);
        ModelManifest m = artifact.manifest();
        if (!GRADIENT_LEARNERS.contains(m.learner())) {
            throw new ModelStoreException(m.ref() + ": learner '" + m.learner() + "' is not supported by this build "
                    + "(supported: " + GRADIENT_LEARNERS + ")");
        }
        if (!ARCHITECTURE.equals(m.architecture())) {
            throw new ModelStoreException(m.ref() + ": architecture '" + m.architecture() + "' is not supported");
        }
        ParameterFile.Contents contents;
        try {
            contents = ParameterFile.read(artifact.file(PARAMETERS_FILE));
        } catch (IllegalArgumentException e) {
            throw new ModelStoreException(m.ref() + "/" + PARAMETERS_FILE + ": " + e.getMessage(), e);
        }
        if (!List.of(contents.architecture().inputDim()).equals(m.inputShape())) {
            throw new ModelStoreException(m.ref() + ": manifest input shape " + m.inputShape()
                    + " disagrees with the parameter file's " + contents.architecture());
        }
        Map<String, Object> a = m.adaptation();
        AdaptationSettings settings;
        try {
            settings = new AdaptationSettings(((Number) a.get("inner_steps")).intValue(),
                    ((Number) a.get("step_size")).floatValue());
        } catch (RuntimeException e) {
            throw new ModelStoreException(m.ref() + ": manifest adaptation settings are incomplete: " + a, e);
        }
        return new BaseModel(m.ref(), m.learner(), contents.architecture(), contents.parameters(), settings);
    }

    /**
     * Publishes trained parameters as a new immutable version.
     *
     * @return the stored manifest, with its assigned version
     */
    public static ModelManifest publish(ModelStore store, String name, String learner, MlpArchitecture arch,
            float[] parameters, AdaptationSettings adaptation, Map<String, Object> provenance) {
        ModelManifest.Builder draft = ModelManifest.builder()
                .setLearner(learner)
                .setArchitecture(ARCHITECTURE)
                .setInputShape(arch.inputDim())
                .optArchitectureParams(Map.of("layers", arch.layerList(), "activation", "relu"))
                .optAdaptation(Map.of("inner_steps", adaptation.steps(), "step_size", (double) adaptation.stepSize(),
                        "optimizer", "sgd"))
                .optProvenance(provenance);
        return store.publish(name, draft, Map.of(PARAMETERS_FILE, ParameterFile.write(arch, parameters)));
    }
}

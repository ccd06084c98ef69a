package io.metastream.training.imports;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Brings an MLP trained elsewhere (PyTorch, saved as safetensors) into the model store as a
 * versioned base the stream serves and adapts with the gradient learner. The file's tensors are
 * checked by {@link MlpImport}; the provenance records the file's SHA-256, its layers and metadata.
 */
public final class WeightImport {
    /** The learners an imported MLP can name: those adapted by SGD steps of one scalar size. */
    public static final Predicate<LearnerKind> IMPORTABLE = k -> k.takesInnerSteps() && !k.hasStepSizes();

    private WeightImport() {
    }

    /**
     * Imports {@code file} and publishes it as the next version of {@code name}.
     *
     * @param layers the Linear layers' name prefixes in order, or empty to discover them
     * @param learner the learner the manifest names, one that takes plain SGD steps (the inner
     *     loop is plain SGD with {@code adaptation}'s step size)
     * @throws IllegalArgumentException if the file does not hold a chain of Linear layers, naming
     *     the tensor
     */
    public static ModelManifest publish(ModelStore store, String name, Path file, List<String> layers,
            LearnerKind learner, AdaptationSettings adaptation) throws IOException {
        if (!IMPORTABLE.test(learner)) {
            throw new IllegalArgumentException("an imported MLP is adapted by plain SGD: learner must be one of "
                    + LearnerKind.ids(IMPORTABLE) + " (" + LearnerKind.ids(LearnerKind::hasStepSizes)
                    + " need step sizes), got '" + learner.id() + "'");
        }
        MlpImport.Imported imported = MlpImport.fromSafetensors(file, layers);
        imported.declaredLoss().ifPresent(declared -> {
            if (declared != adaptation.loss()) {
                throw new IllegalArgumentException(file + " declares loss '" + declared.id() + "' in its metadata, "
                        + "the import asks for '" + adaptation.loss().id() + "'");
            }
        });
        BaseModel base = new BaseModel(name + "@candidate", learner.id(), imported.architecture(),
                imported.parameters(), adaptation);
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("imported_from", file.getFileName().toString());
        provenance.put("format", "safetensors");
        provenance.put("sha256", sha256(file));
        provenance.put("layers", imported.layers());
        provenance.put("file_metadata", imported.metadata());
        provenance.put("imported_at", Instant.now().toString());
        return BaseModelArtifacts.publish(store, name, base, provenance);
    }

    private static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

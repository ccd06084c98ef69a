package io.metastream.streamapp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Option;

/** What every {@code eval} family shares: the store, the model to score, and the report file. */
final class EvalOptions {
    @Option(names = "--store", defaultValue = "metastream-data/models", paramLabel = "DIR",
            description = "Model store root. Default: ${DEFAULT-VALUE}.")
    Path store;

    /**
     * {@code --model}, the name {@code --store} had in eval; kept so that existing scripts still run.
     * (A field of its own: picocli writes {@code --store}'s default after parsing.)
     */
    @Option(names = "--model", hidden = true, paramLabel = "DIR")
    Path model;

    @Option(names = "--ref", description = "name, name@version or name@alias; a bare name means its newest "
            + "version. Default: the family's name, shown above.")
    String ref;

    @Option(names = "--report", paramLabel = "FILE", description = "Write the result as JSON to this file.")
    Path report;

    /** The store root: {@code --store}, or {@code --model}. */
    Path store() {
        return model != null ? model : store;
    }

    LocalDirectoryModelStore open() {
        return new LocalDirectoryModelStore(store());
    }

    /** The model name of {@code --ref}, else {@code familyDefault}. */
    String name(String familyDefault) {
        String r = ref != null ? ref : familyDefault;
        int at = r.indexOf('@');
        return at < 0 ? r : r.substring(0, at);
    }

    /** The version or alias of {@code --ref}; empty for a bare name. */
    Optional<String> version() {
        int at = ref == null ? -1 : ref.indexOf('@');
        return at < 0 ? Optional.empty() : Optional.of(ref.substring(at + 1));
    }

    /** The version of {@code --ref}, else the newest of {@link #name}. */
    String versionOrNewest(LocalDirectoryModelStore models, String familyDefault) {
        return version().orElseGet(() -> {
            List<ModelManifest> versions = models.versions(name(familyDefault));
            return versions.get(versions.size() - 1).version();
        });
    }

    /** Writes {@code result} to {@code --report}, if given. */
    void write(Map<String, Object> result) throws IOException {
        if (report == null) {
            return;
        }
        Path parent = report.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(report.toFile(), result);
    }
}

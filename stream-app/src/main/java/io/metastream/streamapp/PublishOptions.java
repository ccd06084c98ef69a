package io.metastream.streamapp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.server.ModelPromotion;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.training.LearningCurveChart;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What every {@code train} family shares: the store the new version goes to, its name, the seed,
 * the alias to point at it, and the end of the run ({@link #finish}).
 */
final class PublishOptions {
    @Option(names = "--store", defaultValue = "metastream-data/models", paramLabel = "DIR",
            description = "Model store root. Default: ${DEFAULT-VALUE}.")
    Path store;

    /**
     * {@code --out}, the name {@code --store} had in train; kept so that existing scripts still run.
     * (A field of its own: picocli writes {@code --store}'s default after parsing.)
     */
    @Option(names = "--out", hidden = true, paramLabel = "DIR")
    Path out;

    @Option(names = "--name", description = "Model name in the store. Default: the family's, shown above.")
    String name;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the run. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--promote", paramLabel = "ALIAS",
            description = "Point this alias (e.g. production) at the new version; with --bootstrap-server, also "
                    + "write its files to the model-artifacts topic and announce it to running instances.")
    String promote;

    @Mixin
    ModelsCommand.AnnounceOptions announce = new ModelsCommand.AnnounceOptions();

    /** {@code --name}, else the family's default. */
    String name(String familyDefault) {
        return name != null ? name : familyDefault;
    }

    /** The store root: {@code --store}, or {@code --out}. */
    Path store() {
        return out != null ? out : store;
    }

    LocalDirectoryModelStore open() {
        return new LocalDirectoryModelStore(store());
    }

    /**
     * The end of every training run: the learning curve and the JSON log under
     * {@code <store>/_runs/<name>-v<version>/}, a line about what was published, and
     * {@code --promote}.
     */
    int finish(LocalDirectoryModelStore models, ModelManifest manifest, double trainSeconds, float[] curve,
            String chartTitle, Map<String, Object> log) throws IOException {
        Path runDir = store().resolve("_runs").resolve(manifest.name() + "-v" + manifest.version());
        Files.createDirectories(runDir);
        Files.write(runDir.resolve("learning-curve.png"), LearningCurveChart.png(curve, chartTitle));
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(runDir.resolve("training-log.json").toFile(), log);
        System.out.printf(Locale.ROOT, "trained in %.1f s; published %s metrics %s%n", trainSeconds,
                manifest.ref(), manifest.provenance().get("metrics"));
        System.out.println("training log and learning curve in " + runDir);
        if (promote != null) {
            Map<String, Object> client = announce.client();
            if (client == null) {
                models.setAlias(manifest.name(), promote, manifest.version());
            } else {
                ModelPromotion.promote(models, manifest.name(), promote, manifest.version(), true, client,
                        announce.topics());
            }
            System.out.println(promote + " -> " + manifest.ref() + (client == null ? "" : " (announced)"));
        }
        return 0;
    }
}

package io.metastream.streamapp;

import io.metastream.server.continual.ContinualTrainingConfig;
import io.metastream.streams.EnvironmentSettings;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

/**
 * The one place a command reads its pipeline's settings ({@code run}, {@code meta-train},
 * {@code replay}): the {@code --config} file, then {@code METASTREAM_<KEY>} environment variables
 * ({@link EnvironmentSettings}), then the command line's {@code --set}, then
 * {@code --command-config} and {@code --bootstrap-server}, each over the one before.
 */
final class PipelineSettings {
    private PipelineSettings() {
    }

    /** As {@link #load(Path, Map, KafkaClientOptions, Map)} with this process's environment. */
    static Properties load(Path file, Map<String, String> overrides, KafkaClientOptions kafka) throws IOException {
        return load(file, overrides, kafka, System.getenv());
    }

    /**
     * The settings of {@code file} with {@code env}'s over them, then {@code overrides}, then the
     * Kafka options (none when {@code kafka} is null).
     */
    static Properties load(Path file, Map<String, String> overrides, KafkaClientOptions kafka,
            Map<String, String> env) throws IOException {
        Properties fromFile = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            fromFile.load(in);
        }
        // The same file holds the continual trainer's meta.train.* keys (run --meta-train, meta-train).
        Properties props = EnvironmentSettings.over(fromFile, env, ContinualTrainingConfig.configDef());
        props.putAll(overrides);
        if (kafka != null) {
            kafka.applyTo(props);
        }
        return props;
    }
}

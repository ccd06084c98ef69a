package io.metastream.embedded;

import io.metastream.learn.DjlRuntime;
import io.metastream.server.MetastreamApp;
import io.metastream.streams.MetastreamConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The one embedded start-up that the demos, the benchmarks and the integration tests share: the
 * engine with {@code djl.threads} libtorch threads, an in-process KRaft broker, and instances
 * started through {@link MetastreamApp#builder} with settings that point at that broker.
 *
 * <pre>{@code
 * try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().overrides(userSettings).start();
 *         MetastreamApp app = pipeline.app(Map.of(MetastreamConfig.APPLICATION_ID_CONFIG, "demo"))
 *                 .model(base).start()) {
 *     // produce to pipeline.bootstrapServers(), read app.topics()
 * }
 * }</pre>
 *
 * The engine starts first, before anything loads or trains a model, because libtorch takes its
 * thread count once per JVM. Close the instances before the pipeline: closing it stops the broker.
 */
public final class EmbeddedPipeline implements AutoCloseable {
    private final Map<String, Object> overrides;
    private final EmbeddedKafkaBroker broker;
    private final Path directory;
    private final TempDirectory scratch;

    private EmbeddedPipeline(Map<String, Object> overrides, EmbeddedKafkaBroker broker, Path directory,
            TempDirectory scratch) {
        this.overrides = overrides;
        this.broker = broker;
        this.directory = directory;
        this.scratch = scratch;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Where the pipeline runs and what every instance of it is told. */
    public static final class Builder {
        private final Map<String, Object> overrides = new HashMap<>();
        private Path directory;
        private EmbeddedKafkaBroker broker;

        private Builder() {
        }

        /**
         * {@link MetastreamConfig} keys that win over every instance's own settings (the user's
         * {@code --set}, say); {@code djl.threads} among them sets the engine's threads.
         *
         * @throws org.apache.kafka.common.config.ConfigException at {@link #start()} for a
         *     {@code djl.threads} that is not a number from 1 to 256
         */
        public Builder overrides(Map<String, ?> overrides) {
            this.overrides.putAll(overrides);
            return this;
        }

        /**
         * Where the broker's logs and the instances' state go, left there on close; by default a
         * temporary directory deleted on close.
         */
        public Builder directory(Path directory) {
            this.directory = Objects.requireNonNull(directory, "directory");
            return this;
        }

        /**
         * Runs on {@code broker} (a {@link EmbeddedKafkaBroker#startSecured secured} one, say)
         * instead of starting one; the pipeline closes it.
         */
        public Builder broker(EmbeddedKafkaBroker broker) {
            this.broker = Objects.requireNonNull(broker, "broker");
            return this;
        }

        /** Starts the engine, then the broker unless one was given. */
        public EmbeddedPipeline start() {
            DjlRuntime.start(MetastreamConfig.djlThreads(overrides));
            TempDirectory scratch = directory == null ? TempDirectory.create("metastream-embedded-") : null;
            Path dir = directory != null ? directory : scratch.path();
            try {
                EmbeddedKafkaBroker running = broker != null ? broker : EmbeddedKafkaBroker.start(dir.resolve("broker"));
                return new EmbeddedPipeline(Map.copyOf(overrides), running, dir, scratch);
            } catch (RuntimeException e) {
                if (scratch != null) {
                    scratch.close();
                }
                throw e;
            }
        }
    }

    public EmbeddedKafkaBroker broker() {
        return broker;
    }

    public String bootstrapServers() {
        return broker.bootstrapServers();
    }

    /** Where the broker's logs (unless it was given) and the instances' state live. */
    public Path directory() {
        return directory;
    }

    /**
     * The settings of an instance on this pipeline: the broker's address and client security,
     * {@code state.dir} under {@link #directory()} ({@code state}, or {@code state-<instance.id>}
     * when {@code instance.id} is set, so that instances in one JVM keep apart), then
     * {@code instanceSettings}, then the pipeline's overrides.
     */
    public Map<String, Object> settings(Map<String, ?> instanceSettings) {
        Map<String, Object> settings = new HashMap<>();
        settings.put(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        settings.putAll(broker.clientProperties());
        Object instance = instanceSettings.get(MetastreamConfig.INSTANCE_ID_CONFIG);
        settings.put(MetastreamConfig.STATE_DIR_CONFIG,
                directory.resolve(instance == null ? "state" : "state-" + instance).toString());
        settings.putAll(instanceSettings);
        settings.putAll(overrides);
        return settings;
    }

    /** The configuration of {@link #settings(Map)}. */
    public MetastreamConfig config(Map<String, ?> instanceSettings) {
        return new MetastreamConfig(settings(instanceSettings));
    }

    /** An instance with {@link #config(Map)}: say what it serves, then {@link MetastreamApp.Builder#start()}. */
    public MetastreamApp.Builder app(Map<String, ?> instanceSettings) {
        return MetastreamApp.builder(config(instanceSettings));
    }

    /** Stops the broker and deletes the directory if it was temporary; close the instances first. */
    @Override
    public void close() {
        try {
            broker.close();
        } finally {
            if (scratch != null) {
                scratch.close();
            }
        }
    }
}

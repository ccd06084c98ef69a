package io.metastream.streamapp;

import io.metastream.server.MetastreamApp;
import io.metastream.server.continual.ContinualMetaTrainer;
import io.metastream.server.continual.ContinualTrainingConfig;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streams.MetastreamConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the pipeline against an external Kafka cluster until SIGTERM.")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with MetastreamConfig keys; METASTREAM_<KEY> environment "
            + "variables override it (METASTREAM_HTTP_PORT is http.port), --set overrides both.")
    Path config;

    @Option(names = "--set", description = "Override one key, e.g. --set num.stream.threads=2 (repeatable).")
    Map<String, String> overrides = new HashMap<>();

    /** The cluster and its security settings, over the --config file's (Kafka's flags). */
    @picocli.CommandLine.Mixin
    KafkaClientOptions kafka = new KafkaClientOptions();

    @Option(names = "--meta-train", description = "Also run the continual meta-trainer in this process, on its "
            + "own threads (meta.train.* keys; see meta-train).")
    boolean metaTrain;

    @Override
    public Integer call() throws IOException, InterruptedException {
        Properties props = PipelineSettings.load(config, overrides, kafka);
        MetastreamConfig pipeline = new MetastreamConfig(props);
        if (!metaTrain) {
            serve(MetastreamApp.builder(pipeline));
            return 0;
        }
        try (ContinualMetaTrainer trainer = new ContinualMetaTrainer(pipeline, new ContinualTrainingConfig(props),
                new LocalDirectoryModelStore(Path.of(pipeline.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG))))) {
            trainer.start();
            serve(MetastreamApp.builder(pipeline).readinessCheck(
                    "continual meta-trainer not following the samples topic (restarting; no rounds until then)",
                    trainer::isFollowing));
        }
        return 0;
    }

    /** Starts the instance and serves until SIGTERM, saying so on the console. */
    private static void serve(MetastreamApp.Builder instance) throws InterruptedException {
        MetastreamApp app = instance.start();
        System.out.println("serving base " + app.model().base());
        System.out.println("running; topics " + app.topics().names());
        app.serveUntilShutdown(() -> {
            System.out.println("stopped cleanly");
            System.out.flush();
        });
    }
}

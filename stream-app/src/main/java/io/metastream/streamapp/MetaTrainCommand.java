package io.metastream.streamapp;

import io.metastream.learn.DjlRuntime;
import io.metastream.server.continual.ContinualMetaTrainer;
import io.metastream.server.continual.ContinualTrainingConfig;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streams.MetastreamConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "meta-train", mixinStandardHelpOptions = true,
        description = "Keep meta-training the served base from the samples topic until SIGTERM: every "
                + "meta.train.every.new.tasks new tasks, continue it on the recent ones, judge the candidate on "
                + "the most recent users and promote it only when it beats the champion by meta.train.margin.")
final class MetaTrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true,
            description = "Properties file with MetastreamConfig and meta.train.* keys (the same file as run's); "
                    + "METASTREAM_<KEY> environment variables override it, --set overrides both.")
    Path config;

    @Option(names = "--set", description = "Override one key, e.g. --set meta.train.margin=0.1 (repeatable).")
    Map<String, String> overrides = new HashMap<>();

    /** The cluster and its security settings, over the --config file's (Kafka's flags). */
    @picocli.CommandLine.Mixin
    KafkaClientOptions kafka = new KafkaClientOptions();

    @Override
    public Integer call() throws IOException, InterruptedException {
        Properties props = PipelineSettings.load(config, overrides, kafka);
        MetastreamConfig pipeline = new MetastreamConfig(props);
        DjlRuntime.start(pipeline.getInt(MetastreamConfig.DJL_THREADS_CONFIG));
        CountDownLatch stop = new CountDownLatch(1);
        try (ContinualMetaTrainer trainer = new ContinualMetaTrainer(pipeline, new ContinualTrainingConfig(props),
                new LocalDirectoryModelStore(Paths.get(pipeline.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG))))) {
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown, "meta-train-shutdown"));
            trainer.start();
            System.out.println("meta-training from " + pipeline.getString(MetastreamConfig.TOPIC_SAMPLES_CONFIG)
                    + "; decisions go to " + pipeline.getString(MetastreamConfig.TOPIC_MODEL_EVENTS_CONFIG));
            stop.await();
        }
        return 0;
    }
}

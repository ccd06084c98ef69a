package io.metastream.cli;

import io.metastream.app.MetastreamApp;
import io.metastream.app.config.MetastreamConfig;
import io.metastream.app.model.ActiveModel;
import io.metastream.app.model.BaseModelArtifacts;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.store.LocalDirectoryModelStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the pipeline against an external Kafka cluster until SIGTERM.")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with MetastreamConfig keys.")
    Path config;

    @Option(names = "--set", description = "Override one key, e.g. --set num.stream.threads=2 (repeatable).")
    Map<String, String> overrides = new HashMap<>();

    @Override
    public Integer call() throws IOException, InterruptedException {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(config)) {
            props.load(in);
        }
        props.putAll(overrides);
        MetastreamConfig cfg = new MetastreamConfig(props);
        DjlRuntime.start(cfg.getInt(MetastreamConfig.DJL_THREADS_CONFIG));
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(
                Path.of(cfg.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG)));
        BaseModel base = BaseModelArtifacts.load(store, cfg.getString(MetastreamConfig.MODEL_NAME_CONFIG),
                cfg.getString(MetastreamConfig.MODEL_ALIAS_CONFIG));
        System.out.println("serving base " + base);
        CountDownLatch stopped = new CountDownLatch(1);
        try (ActiveModel model = new ActiveModel(base, DjlRuntime.defaultDevice());
                MetastreamApp app = new MetastreamApp(cfg, model, store)) {
            app.ensureTopics();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                // SIGTERM: flush, commit and close the stores before the JVM exits.
                app.close();
                System.out.println("stopped cleanly");
                System.out.flush();
                stopped.countDown();
            }, "metastream-shutdown"));
            app.start(Duration.ofMinutes(5));
            System.out.println("running; topics " + app.topics().names());
            stopped.await();
        }
        return 0;
    }
}

package io.metastream.cli;

import io.metastream.streams.MetastreamApp;
import io.metastream.streams.config.MetastreamConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
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
        MetastreamApp.serveUntilShutdown(new MetastreamConfig(props));
        return 0;
    }
}

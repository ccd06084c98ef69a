package io.metastream.streams.it;

import io.metastream.streams.MetastreamApp;
import io.metastream.streams.config.MetastreamConfig;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/** What {@code metastream run --config FILE} runs, as the main class of a child JVM the tests can kill. */
final class ChildMain {
    private ChildMain() {
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(args[0]))) {
            props.load(in);
        }
        MetastreamApp.serveUntilShutdown(new MetastreamConfig(props));
    }
}

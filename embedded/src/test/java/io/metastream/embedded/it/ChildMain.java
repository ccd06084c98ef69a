package io.metastream.embedded.it;

import io.metastream.server.MetastreamApp;
import io.metastream.streams.MetastreamConfig;
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
        // As run does: the builder, and the console lines the tests wait for.
        MetastreamApp app = MetastreamApp.builder(new MetastreamConfig(props)).start();
        System.out.println("running; topics " + app.topics().names());
        app.serveUntilShutdown(() -> {
            System.out.println("stopped cleanly");
            System.out.flush();
        });
    }
}

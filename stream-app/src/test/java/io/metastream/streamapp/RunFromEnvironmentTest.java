package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.server.PrometheusText;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streams.MetastreamConfig;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code run --config FILE} in a JVM of its own, started as a container starts it: with
 * {@code METASTREAM_HTTP_PORT} in its environment, which must win over the file's {@code http.port}.
 */
@Tag("embedded-broker")
class RunFromEnvironmentTest {
    private static final String MODEL = "sine";

    @TempDir
    Path dir;

    @Test
    void shouldServeOnTheHttpPortTheEnvironmentNamesRatherThanTheFiles() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("broker"))) {
            LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir.resolve("models"));
            MlpArchitecture arch = new MlpArchitecture(new int[] {1, 8, 1});
            BaseModelArtifacts.publish(store, MODEL, "reptile", arch, new float[arch.parameterCount()],
                    new AdaptationSettings(1, 0.01f, 0f, Loss.MSE), Map.of("seed", 1));
            store.setAlias(MODEL, "production", "1");
            int filePort;
            int envPort;
            try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) {
                filePort = a.getLocalPort();
                envPort = b.getLocalPort();
            }
            Path config = dir.resolve("metastream.properties");
            Files.writeString(config, String.join("\n",
                    MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG + "=" + broker.bootstrapServers(),
                    MetastreamConfig.APPLICATION_ID_CONFIG + "=env-config",
                    MetastreamConfig.STATE_DIR_CONFIG + "=" + dir.resolve("state"),
                    MetastreamConfig.MODEL_STORE_DIR_CONFIG + "=" + dir.resolve("models"),
                    MetastreamConfig.MODEL_NAME_CONFIG + "=" + MODEL,
                    MetastreamConfig.DJL_THREADS_CONFIG + "=1",
                    MetastreamConfig.HTTP_PORT_CONFIG + "=" + filePort, ""));

            Path log = dir.resolve("run.log");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder run = new ProcessBuilder(List.of(java, "-Xmx512m", "-Dai.djl.offline=true", "-cp",
                    System.getProperty("java.class.path"), MetastreamCommand.class.getName(), "run", "--config",
                    config.toString())).redirectErrorStream(true).redirectOutput(log.toFile());
            run.environment().keySet().removeIf(name -> name.startsWith("METASTREAM_"));
            run.environment().put("METASTREAM_HTTP_PORT", String.valueOf(envPort));
            run.environment().put("METASTREAM_HTTP_AUTH_TOKEN", "env-secret-never-logged-0123456789");
            run.environment().put("METASTREAM_HTTP_PROT", "1"); // a typo: warned, not silently dropped
            Process child = run.start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (!output(log).contains("running;") && child.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(output(log)).as("the instance started").contains("running;");

                HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + envPort + "/health")).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(health.statusCode()).isEqualTo(200);
                HttpResponse<String> tasks = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + envPort + "/tasks/t1")).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(tasks.statusCode()).as("the token from the environment guards the task API")
                        .isEqualTo(401);
                // The process's own memory, beside the heap's, on the port the environment named.
                String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + envPort + "/metrics")).GET().build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                assertThat(PrometheusText.families(metrics)).containsKeys("jvm_gc_memory_allocated_bytes_total",
                        "metastream_model_info");
                if (Files.isReadable(Path.of("/proc/self/status"))) {
                    double rss = PrometheusText.parse(metrics).sum("process_resident_memory_bytes");
                    assertThat(rss).isGreaterThan(PrometheusText.parse(metrics).sum("jvm_memory_used_bytes"));
                }
                assertThatThrownBy(() -> new Socket().connect(new InetSocketAddress("127.0.0.1", filePort), 2000))
                        .as("nothing listens on the file's port").isInstanceOf(ConnectException.class);
                assertThat(output(log)).contains("http.port (METASTREAM_HTTP_PORT)")
                        .contains("METASTREAM_HTTP_PROT is set but names no setting")
                        .doesNotContain("env-secret-never-logged");
            } finally {
                child.destroy();
                if (!child.waitFor(60, TimeUnit.SECONDS)) {
                    child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static String output(Path log) throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }
}

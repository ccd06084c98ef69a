package io.metastream.streamapp.docker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metastream.server.ProcessMeters;
import io.metastream.server.PrometheusText;
import io.metastream.streamapp.MetastreamCommand;
import io.metastream.streams.EnvironmentSettings;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.MetastreamMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;
import picocli.CommandLine;

/**
 * No Docker engine runs in CI, so what can be checked without one is checked here: the compose
 * file, the app's properties, the Dockerfile, Prometheus' scrape target and the Grafana dashboard
 * agree with each other and with the app's configuration and metrics.
 */
class DockerConfigTest {
    private static final Path DOCKER = Path.of("..", "docker");

    @Test
    void shouldHavePropertiesTheAppAcceptsAndThatMatchTheComposeServices() throws IOException {
        Properties props = properties();
        Set<String> known = MetastreamConfig.configDef().names();
        for (String key : props.stringPropertyNames()) {
            assertThat(known.contains(key) || key.startsWith(MetastreamConfig.STREAMS_PREFIX)
                    || MetastreamConfig.isClientSecuritySetting(key))
                    .as("metastream.properties key %s is a MetastreamConfig key", key).isTrue();
        }
        Map<String, Object> services = map(compose().get("services"));
        Map<String, Object> kafka = map(services.get("kafka"));
        Map<String, Object> app = map(services.get("metastream"));
        // What the container runs with: the file, then the service's METASTREAM_ variables.
        MetastreamConfig config = new MetastreamConfig(EnvironmentSettings.over(props, appEnvironment()));
        Map<String, Object> kafkaEnv = map(kafka.get("environment"));
        List<String> advertised = List.of(String.valueOf(kafkaEnv.get("KAFKA_ADVERTISED_LISTENERS")).split(","));
        String bootstrap = config.getString(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG);
        assertThat(advertised).as("bootstrap.servers is a listener the broker advertises")
                .anyMatch(listener -> listener.endsWith("://" + bootstrap));
        assertThat(bootstrap).startsWith(kafka.get("hostname") + ":");
        assertThat(String.valueOf(kafkaEnv.get("KAFKA_DEFAULT_REPLICATION_FACTOR")))
                .isEqualTo(String.valueOf(config.getShort(MetastreamConfig.TOPIC_REPLICATION_FACTOR_CONFIG)));

        // The Dockerfile's CMD reads the file compose mounts.
        String dockerfile = Files.readString(DOCKER.resolve("Dockerfile"));
        Matcher cmd = Pattern.compile("CMD \\[\"run\", \"--config\", \"([^\"]+)\"]").matcher(dockerfile);
        assertThat(cmd.find()).as("Dockerfile CMD runs --config FILE").isTrue();
        List<String> volumes = strings(app.get("volumes"));
        assertThat(volumes).contains("./metastream.properties:" + cmd.group(1) + ":ro");
        Matcher copy = Pattern.compile("COPY (\\S+) /app/metastream.jar").matcher(dockerfile);
        assertThat(copy.find()).isTrue();
        assertThat(copy.group(1)).isEqualTo("stream-app/target/metastream.jar");
        assertThat(Files.readString(Path.of("pom.xml"))).contains("<finalName>metastream</finalName>");
        assertThat(Files.readString(DOCKER.resolve("Dockerfile.dockerignore"))).contains("!" + copy.group(1));

        // State and models live on the data volume, so they survive a container's restart.
        String dataMount = volumes.stream().filter(v -> v.startsWith("metastream-data:")).findFirst().orElseThrow()
                .split(":")[1];
        assertThat(config.getString(MetastreamConfig.STATE_DIR_CONFIG)).startsWith(dataMount + "/");
        assertThat(config.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG)).startsWith(dataMount + "/");
        assertThat(map(compose().get("volumes"))).containsKeys("metastream-data", "kafka-data");

        // The HTTP API is published, advertised under the service's host name and scraped there.
        int port = config.getInt(MetastreamConfig.HTTP_PORT_CONFIG);
        assertThat(port).isPositive();
        assertThat(strings(app.get("ports"))).anyMatch(p -> p.endsWith(":" + port));
        assertThat(config.getString(MetastreamConfig.HTTP_ADVERTISED_HOST_CONFIG)).isEqualTo(app.get("hostname"));
        assertThat(config.getString(MetastreamConfig.HTTP_HOST_CONFIG)).as("a published port needs more than loopback")
                .isEqualTo("0.0.0.0");
        String prometheus = Files.readString(DOCKER.resolve("prometheus.yml"));
        assertThat(prometheus).contains("\"" + app.get("hostname") + ":" + port + "\"", "metrics_path: /metrics");
        assertThat(strings(map(services.get("prometheus")).get("volumes")))
                .contains("./prometheus.yml:/etc/prometheus/prometheus.yml:ro");
    }

    /** Compose runs the Kafka the build tests against, and the docs say which. */
    @Test
    void shouldRunTheKafkaVersionEveryTestRunsAgainst() throws IOException {
        Matcher version = Pattern.compile("<kafka\\.version>([^<]+)</kafka\\.version>")
                .matcher(Files.readString(Path.of("..", "pom.xml")));
        assertThat(version.find()).as("the root pom names kafka.version").isTrue();
        String image = "apache/kafka:" + version.group(1);
        assertThat(map(map(compose().get("services")).get("kafka")).get("image")).isEqualTo(image);
        assertThat(Files.readString(DOCKER.resolve("README.md"))).contains("`" + image + "`")
                .doesNotContainPattern("apache/kafka:(?!" + Pattern.quote(version.group(1)) + ")");
    }

    /** Every METASTREAM_ variable of the app service names a setting (a typo would be ignored with a warning). */
    @Test
    void shouldSetOnlySettingsTheAppKnowsFromTheEnvironment() throws IOException {
        Map<String, String> env = appEnvironment();
        Properties props = properties();
        EnvironmentSettings fromEnv = EnvironmentSettings.read(env, props.stringPropertyNames());
        assertThat(fromEnv.warnings()).isEmpty();
        assertThat(fromEnv.settings()).isNotEmpty();
        assertThat(fromEnv.settings().keySet()).as("set in one place only: the environment or the file")
                .doesNotContainAnyElementsOf(props.stringPropertyNames());
    }

    /**
     * The app service says when it is ready (on the port and path it serves) and bounds its memory
     * leaving room outside the heap, where libtorch and RocksDB live.
     */
    @Test
    void shouldCheckTheAppsReadinessAndLeaveMemoryOutsideTheHeap() throws IOException {
        Map<String, Object> app = map(map(compose().get("services")).get("metastream"));
        MetastreamConfig config = new MetastreamConfig(EnvironmentSettings.over(properties(), appEnvironment()));
        List<String> check = strings(map(app.get("healthcheck")).get("test"));
        assertThat(check).as("an exec-form check").startsWith("CMD", "curl")
                .contains("http://localhost:" + config.getInt(MetastreamConfig.HTTP_PORT_CONFIG) + "/ready");
        assertThat(check).as("curl -f: a 503 from /ready fails the check").anyMatch(a -> a.matches("-[a-zA-Z]*f.*"));
        // curl is not installed by the Dockerfile: the eclipse-temurin (Ubuntu) base ships it.
        String dockerfile = Files.readString(DOCKER.resolve("Dockerfile"));
        assertThat(dockerfile).containsPattern("(?m)^FROM eclipse-temurin:\\d+-jre\\s*$");
        assertThat(map(app.get("healthcheck"))).containsKeys("interval", "timeout", "retries", "start_period");

        String limit = String.valueOf(map(map(map(app.get("deploy")).get("resources")).get("limits")).get("memory"));
        long limitBytes = bytes(limit);
        String jvm = appEnvironment().get("JAVA_TOOL_OPTIONS");
        assertThat(jvm).as("JAVA_TOOL_OPTIONS of the app service").isNotNull();
        Matcher percent = Pattern.compile("-XX:MaxRAMPercentage=(\\d+(\\.\\d+)?)").matcher(jvm);
        assertThat(percent.find()).as(jvm).isTrue();
        assertThat(jvm + dockerfile).as("a fixed heap would ignore the limit").doesNotContain("-Xmx");
        long offHeap = (long) (limitBytes * (1 - Double.parseDouble(percent.group(1)) / 100));
        assertThat(offHeap).as("bytes of the %s limit left outside the heap", limit)
                .isGreaterThanOrEqualTo(1L << 30);
    }

    @Test
    void shouldChartOnlyMetricsTheAppExports() throws IOException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MetastreamMetrics metrics = MetastreamMetrics.of(registry, "");
        metrics.deadLetter("samples", "UNDECODABLE");
        metrics.modelEvent("SWAPPED");
        metrics.serving("m@1", "reptile");
        metrics.watcher(() -> true);
        metrics.adapted(false, 5);
        metrics.adaptationCall(3, 1_000);
        metrics.prediction(MetastreamMetrics.PredictionPath.ADAPTED, 3);
        // The JVM's and the process's meters as the app binds them; a collection makes the GC pause timer.
        try (ProcessMeters jvm = ProcessMeters.bindTo(registry)) {
            System.gc();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!registry.scrape().contains("jvm_gc_pause_seconds_sum") && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
        }
        Set<String> exported = new TreeSet<>();
        String scrape = registry.scrape();
        scrape.lines().filter(l -> !l.startsWith("#") && l.contains(" "))
                .forEach(l -> exported.add(l.replaceAll("[{ ].*", "")));

        JsonNode dashboard = new ObjectMapper().readTree(DOCKER.resolve("grafana/metastream-dashboard.json").toFile());
        List<String> charted = new ArrayList<>();
        for (JsonNode panel : dashboard.get("panels")) {
            for (JsonNode target : panel.get("targets")) {
                Matcher m = Pattern.compile("\\b(metastream|jvm|process)_[a-z_]+").matcher(target.get("expr").asText());
                while (m.find()) {
                    charted.add(m.group());
                }
            }
        }
        assertThat(charted).isNotEmpty().contains("metastream_model_info", "process_resident_memory_bytes");
        if (!Files.isReadable(Path.of("/proc/self/status"))) {
            charted.remove("process_resident_memory_bytes"); // read from procfs: Linux only
        }
        assertThat(exported).containsAll(charted);
        assertThat(PrometheusText.familiesMixingUnits(scrape)).isEmpty();
        String provisioning = Files.readString(DOCKER.resolve("grafana/provisioning/datasources/prometheus.yaml"));
        assertThat(provisioning).contains("uid: prometheus", "http://prometheus:9090");
    }

    @Test
    void shouldHaveAnUpScriptThatParses() throws Exception {
        Path script = DOCKER.resolve("up.sh");
        assertThat(Files.isExecutable(script)).isTrue();
        Process bash = new ProcessBuilder("bash", "-n", script.toString()).redirectErrorStream(true).start();
        String output = new String(bash.getInputStream().readAllBytes());
        assertThat(bash.waitFor()).as(output).isZero();
        assertThat(Files.readString(script)).contains("docker compose -f docker/compose.yaml", "/ready");
    }

    /** The application commands the script runs in one-off containers are ones this build accepts. */
    @Test
    void shouldRunOnlyCommandLinesTheApplicationParses() throws IOException {
        Matcher m = Pattern.compile("run --rm --no-deps metastream ([^\n]+)").matcher(
                Files.readString(DOCKER.resolve("up.sh")));
        int commands = 0;
        while (m.find()) {
            String[] args = m.group(1).replaceAll("\\s*\\d?[|;&>].*$", "").trim().split("\\s+");
            new CommandLine(new MetastreamCommand()).parseArgs(args); // throws on an unknown option or command
            commands++;
        }
        assertThat(commands).as("models list and train").isGreaterThanOrEqualTo(2);
    }

    private static Properties properties() throws IOException {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(DOCKER.resolve("metastream.properties"))) {
            props.load(in);
        }
        return props;
    }

    /** The app service's environment, as a map whatever form compose.yaml writes it in. */
    private static Map<String, String> appEnvironment() throws IOException {
        Map<String, String> env = new TreeMap<>();
        map(map(map(compose().get("services")).get("metastream")).get("environment"))
                .forEach((k, v) -> env.put(k, String.valueOf(v)));
        return env;
    }

    /** A compose memory size ({@code 3g}, {@code 512m}, {@code 1073741824}) in bytes. */
    private static long bytes(String size) {
        Matcher m = Pattern.compile("(\\d+)([bkmg]?)").matcher(size.toLowerCase(java.util.Locale.ROOT));
        assertThat(m.matches()).as("memory size %s", size).isTrue();
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "k" -> n << 10;
            case "m" -> n << 20;
            case "g" -> n << 30;
            default -> n;
        };
    }

    private static Map<String, Object> compose() throws IOException {
        try (InputStream in = Files.newInputStream(DOCKER.resolve("compose.yaml"))) {
            return new Yaml().load(in);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        assertThat(o).isInstanceOf(Map.class);
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<String> strings(Object o) {
        assertThat(o).isInstanceOf(List.class);
        return ((List<Object>) o).stream().map(String::valueOf).toList();
    }
}

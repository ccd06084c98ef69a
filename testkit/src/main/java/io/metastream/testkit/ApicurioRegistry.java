package io.metastream.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A real schema registry for tests: the Apicurio Registry distribution
 * ({@code io.apicurio:apicurio-registry-app:<version>:tar.gz:all}, a Quarkus application) that the
 * module's build unpacks under {@code target/}, started as a child process under the first JDK of
 * version {@value #MIN_JAVA} or later found, with in-memory storage, every port on the loopback
 * interface, and its log written to a file under {@code target/}. It serves the
 * Confluent-compatible API at {@link #url()}; optionally HTTP basic authentication (Quarkus's
 * embedded users, no identity server) and HTTPS beside HTTP. Starting costs seconds: start one per
 * test class.
 *
 * <p>Where no such JDK exists, {@link Builder#start()} aborts the calling test by a JUnit
 * assumption (the test is reported skipped with the reason); every other failure (no unpacked
 * distribution, a JDK path configured but unusable, a registry that does not come up) fails it.
 */
public final class ApicurioRegistry implements AutoCloseable {
    /** The oldest Java feature release the distribution runs on. */
    public static final int MIN_JAVA = 21;
    /** System property naming the JDK (its home, or its {@code bin/java}) to run the registry on. */
    public static final String JAVA_PROPERTY = "metastream.test.registry.java";
    /** Environment variable with the same meaning, read when the property is not set. */
    public static final String JAVA_ENV = "METASTREAM_TEST_REGISTRY_JAVA";
    /** System property naming the unpacked distribution (the folder holding {@code quarkus-run.jar}). */
    public static final String DISTRIBUTION_PROPERTY = "metastream.test.registry.distribution";
    /** Where the module poms unpack the distribution, relative to the module (surefire's working directory). */
    public static final Path DEFAULT_DISTRIBUTION = Path.of("target", "apicurio-registry");
    /** The Confluent-compatible API's path. */
    public static final String CCOMPAT_PATH = "/apis/ccompat/v7";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern LISTENING =
            Pattern.compile("Listening on: http://127\\.0\\.0\\.1:(\\d+)(?: and https://127\\.0\\.0\\.1:(\\d+))?");
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

    private final Process process;
    private final Path log;
    private final int httpPort;
    private final int httpsPort;
    private final String authorization;
    private final Thread reaper;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private ApicurioRegistry(Process process, Path log, int httpPort, int httpsPort, String authorization) {
        this.process = process;
        this.log = log;
        this.httpPort = httpPort;
        this.httpsPort = httpsPort;
        this.authorization = authorization;
        // A test JVM that exits without close() (System.exit, a fork stopped by SIGTERM or a timeout) must not
        // leave the registry running; only SIGKILL of the test JVM can.
        this.reaper = new Thread(this::stop, "apicurio-registry-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The Confluent-compatible API root over plain HTTP, e.g. {@code http://127.0.0.1:41234/apis/ccompat/v7}. */
    public String url() {
        return "http://127.0.0.1:" + httpPort + CCOMPAT_PATH;
    }

    /**
     * The same API over HTTPS, at {@code 127.0.0.1}: the certificate must name that address.
     *
     * @throws IllegalStateException when the registry was started without {@link Builder#tls}
     */
    public String httpsUrl() {
        if (httpsPort < 0) {
            throw new IllegalStateException("the registry serves no HTTPS: start it with tls(keyStore, password)");
        }
        return "https://127.0.0.1:" + httpsPort + CCOMPAT_PATH;
    }

    /** The file the registry's output goes to. */
    public Path log() {
        return log;
    }

    /** The version numbers registered under {@code subject} (empty for a subject it does not know). */
    public List<Integer> versions(String subject) {
        HttpResponse<String> response = call("GET", "/subjects/" + subject + "/versions", null);
        if (response.statusCode() == 404) {
            return List.of();
        }
        List<Integer> versions = new ArrayList<>();
        parse(expect(response, 200)).forEach(v -> versions.add(v.asInt()));
        return versions;
    }

    /** Sets the compatibility rule of {@code subject} ({@code BACKWARD}, {@code FULL}, {@code NONE}, ...). */
    public void compatibility(String subject, String level) {
        expect(call("PUT", "/config/" + subject, "{\"compatibility\":\"" + level + "\"}"), 200);
    }

    private void refusesAnonymousWrites() {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url() + "/config/metastream-auth-check"))
                .timeout(Duration.ofSeconds(10)).header("Content-Type", CONTENT_TYPE)
                .PUT(HttpRequest.BodyPublishers.ofString("{\"compatibility\":\"NONE\"}")).build();
        int status;
        try {
            status = http.send(request, HttpResponse.BodyHandlers.ofString()).statusCode();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reach the registry at " + url() + " (log: " + log + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted asking the registry", e);
        }
        if (status != 401) {
            throw new IllegalStateException("the registry was started with basic authentication but answered an "
                    + "anonymous write with HTTP " + status + ": its authentication settings did not take (log: " + log
                    + ")");
        }
    }

    private HttpResponse<String> call(String method, String path, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(10))
                .header("Accept", CONTENT_TYPE).method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", CONTENT_TYPE);
        }
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reach the registry at " + url() + " (log: " + log + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted asking the registry", e);
        }
    }

    private String expect(HttpResponse<String> response, int status) {
        if (response.statusCode() != status) {
            throw new IllegalStateException("the registry answered " + response.request().method() + " "
                    + response.uri().getPath() + " with HTTP " + response.statusCode() + ": " + response.body());
        }
        return response.body();
    }

    private static JsonNode parse(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new IllegalStateException("the registry's answer is not JSON: " + body, e);
        }
    }

    /** Stops the registry and every process it started, and waits for them. */
    @Override
    public void close() {
        stop();
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs stop() too
        }
    }

    private void stop() {
        List<ProcessHandle> tree = process.descendants().toList();
        process.destroy(); // SIGTERM: Quarkus shuts down in well under a second
        tree.forEach(ProcessHandle::destroy);
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }

    /**
     * The first JDK of version {@value #MIN_JAVA} or later: the one {@value #JAVA_PROPERTY} or
     * {@value #JAVA_ENV} names, else the running JVM's, {@code JAVA_HOME}'s, then the JDKs under
     * {@code /usr/lib/jvm} and {@code /Library/Java/JavaVirtualMachines}.
     *
     * @return the JDK's {@code bin/java}, or empty when none is found
     * @throws IllegalStateException when the property or variable names something that is not
     *     such a JDK: a setting that is wrong is an error, not a reason to skip
     */
    public static Optional<Path> findJava() {
        List<Path> candidates = new ArrayList<>();
        candidates.add(Path.of(System.getProperty("java.home")));
        String javaHome = System.getenv("JAVA_HOME");
        if (javaHome != null && !javaHome.isBlank()) {
            candidates.add(Path.of(javaHome));
        }
        for (Path root : List.of(Path.of("/usr/lib/jvm"), Path.of("/Library/Java/JavaVirtualMachines"))) {
            if (Files.isDirectory(root)) {
                try (Stream<Path> jdks = Files.list(root)) {
                    jdks.sorted().forEach(jdk -> {
                        candidates.add(jdk);
                        candidates.add(jdk.resolve("Contents/Home")); // the macOS layout
                    });
                } catch (IOException e) {
                    // an unreadable folder holds no usable JDK
                }
            }
        }
        return findJava(System.getProperty(JAVA_PROPERTY, System.getenv(JAVA_ENV)), candidates);
    }

    /** The rule of {@link #findJava()}: {@code configured} (may be null) if set, else the first fit of {@code candidates}. */
    static Optional<Path> findJava(String configured, List<Path> candidates) {
        if (configured != null && !configured.isBlank()) {
            Path given = Path.of(configured.trim()).toAbsolutePath();
            Path home = Files.isRegularFile(given) ? given.getParent().getParent() : given;
            int version = javaVersion(home);
            if (version < MIN_JAVA || !Files.isExecutable(java(home))) {
                throw new IllegalStateException(JAVA_PROPERTY + " / " + JAVA_ENV + " = " + configured
                        + " is not a JDK of version " + MIN_JAVA + " or later (found version "
                        + (version < 0 ? "unknown: no readable 'release' file" : version) + ")");
            }
            return Optional.of(java(home));
        }
        return candidates.stream().filter(home -> javaVersion(home) >= MIN_JAVA && Files.isExecutable(java(home)))
                .findFirst().map(ApicurioRegistry::java);
    }

    private static Path java(Path home) {
        return home.resolve("bin").resolve("java");
    }

    /** The feature release a JDK's {@code release} file names (8 for "1.8.0_x"), or -1 when unreadable. */
    static int javaVersion(Path home) {
        Path release = home.resolve("release");
        if (!Files.isRegularFile(release)) {
            return -1;
        }
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(release, StandardCharsets.UTF_8)) {
            p.load(in);
        } catch (IOException | IllegalArgumentException e) {
            return -1;
        }
        String v = p.getProperty("JAVA_VERSION", "").replace("\"", "").trim();
        Matcher m = Pattern.compile("^(?:1\\.)?(\\d+)").matcher(v);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** How to start a registry. */
    public static final class Builder {
        private String user;
        private String password;
        private Path keyStore;
        private String keyStorePassword;
        private String name = "apicurio-registry";
        private Duration startTimeout = Duration.ofSeconds(120);

        private Builder() {
        }

        /**
         * Requires HTTP basic authentication on every call that changes something and on most
         * reads (Apicurio lets some by-id reads through anonymously), with {@code user} the one
         * account; the fixture's own {@link #versions} and {@link #compatibility} calls use it.
         */
        public Builder basicAuth(String user, String password) {
            if (user.isEmpty() || user.contains(":") || password.isEmpty()) {
                throw new IllegalArgumentException("basic auth needs a user without ':' and a password, got user '"
                        + user + "'");
            }
            this.user = user;
            this.password = password;
            return this;
        }

        /** Serves HTTPS too, on another port, from {@code keyStore} (PKCS12 holding the key and its certificate). */
        public Builder tls(Path keyStore, String password) {
            this.keyStore = Objects.requireNonNull(keyStore, "keyStore").toAbsolutePath();
            this.keyStorePassword = Objects.requireNonNull(password, "password");
            return this;
        }

        /** Names the log file ({@code target/<name>.log}); the test class's simple name, say. */
        public Builder name(String name) {
            this.name = name.replaceAll("[^A-Za-z0-9._-]", "_");
            return this;
        }

        /** How long it may take to come up: 120 s by default, for a loaded two-core CI machine. */
        public Builder startTimeout(Duration timeout) {
            this.startTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * Starts the registry and waits until its API answers.
         *
         * @throws org.opentest4j.TestAbortedException when no JDK {@value #MIN_JAVA}+ exists
         * @throws IllegalStateException when the distribution is not unpacked or the registry does not come up
         */
        public ApicurioRegistry start() {
            Optional<Path> java = findJava();
            Assumptions.assumeTrue(java.isPresent(), () -> "no JDK " + MIN_JAVA + " or later found (the Apicurio "
                    + "Registry needs one; this JVM is " + System.getProperty("java.version") + "): looked at "
                    + "java.home, JAVA_HOME, /usr/lib/jvm and /Library/Java/JavaVirtualMachines. Install one, or set "
                    + JAVA_PROPERTY + " (or " + JAVA_ENV + ") to its path, to run the real-registry tests.");
            Path distribution = Path.of(System.getProperty(DISTRIBUTION_PROPERTY, DEFAULT_DISTRIBUTION.toString()))
                    .toAbsolutePath();
            Path runner = distribution.resolve("quarkus-run.jar");
            if (!Files.isRegularFile(runner)) {
                throw new IllegalStateException("no Apicurio Registry distribution at " + distribution + ": the "
                        + "module's build unpacks io.apicurio:apicurio-registry-app:tar.gz:all there (run the tests "
                        + "through Maven), or set " + DISTRIBUTION_PROPERTY + " to an unpacked copy");
            }
            List<String> command = new ArrayList<>(List.of(java.get().toString(),
                    // A small, quickly started JVM: the registry serves a handful of calls per test.
                    "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dquarkus.http.host=127.0.0.1", "-Dquarkus.http.port=0",
                    // The management interface is fixed on at build time: keep it off the network instead.
                    "-Dquarkus.management.host=127.0.0.1", "-Dquarkus.management.port=0",
                    "-Dapicurio.storage.kind=sql", "-Dapicurio.storage.sql.kind=h2",
                    "-Dapicurio.datasource.url=jdbc:h2:mem:metastream-test",
                    "-Dapicurio.datasource.jdbc.initial-size=2", "-Dapicurio.datasource.jdbc.min-size=2"));
            String authorization = null;
            if (user != null) {
                // Apicurio's basic mechanism over Quarkus's embedded users, no identity server. Quarkus
                // logs quarkus.http.auth.basic as build-time fixed, yet Apicurio reads it to build its
                // authentication chain; start() checks below that an anonymous write is refused.
                command.addAll(List.of("-Dquarkus.http.auth.basic=true", "-Dapicurio.authn.mechanism.priority=basic",
                        "-Dquarkus.security.users.embedded.plain-text=true",
                        "-Dquarkus.security.users.embedded.users." + user + "=" + password));
                authorization = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
                        .getBytes(StandardCharsets.UTF_8));
            }
            if (keyStore != null) {
                command.addAll(List.of("-Dquarkus.http.ssl-port=0",
                        "-Dquarkus.http.ssl.certificate.key-store-file=" + keyStore,
                        "-Dquarkus.http.ssl.certificate.key-store-password=" + keyStorePassword));
            }
            command.addAll(List.of("-jar", runner.toString()));
            Path log = Path.of("target", name + ".log").toAbsolutePath();
            Process process;
            try {
                Files.createDirectories(log.getParent());
                process = new ProcessBuilder(command).directory(distribution.toFile()).redirectErrorStream(true)
                        .redirectOutput(log.toFile()).start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start " + java.get() + " -jar " + runner, e);
            }
            ApicurioRegistry registry = null;
            try {
                int[] ports = awaitListening(process, log);
                registry = new ApicurioRegistry(process, log, ports[0], ports[1], authorization);
                registry.expect(registry.call("GET", "/subjects", null), 200);
                if (authorization != null) {
                    registry.refusesAnonymousWrites();
                }
                return registry;
            } catch (RuntimeException | Error e) {
                if (registry != null) {
                    registry.close();
                } else {
                    process.descendants().forEach(ProcessHandle::destroyForcibly);
                    process.destroyForcibly();
                }
                throw e;
            }
        }

        private int[] awaitListening(Process process, Path log) {
            long deadline = System.nanoTime() + startTimeout.toNanos();
            while (System.nanoTime() < deadline) {
                String text = read(log);
                Matcher m = LISTENING.matcher(text);
                if (m.find()) {
                    int https = m.group(2) == null ? -1 : Integer.parseInt(m.group(2));
                    if (keyStore != null && https < 0) {
                        throw new IllegalStateException("the registry serves no HTTPS; its log: " + log);
                    }
                    return new int[] {Integer.parseInt(m.group(1)), https};
                }
                if (!process.isAlive()) {
                    throw new IllegalStateException("the registry exited with " + process.exitValue()
                            + " before it listened; the end of its log (" + log + "):\n" + tail(text));
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted waiting for the registry", e);
                }
            }
            throw new IllegalStateException("the registry did not listen within " + startTimeout.toSeconds()
                    + " s; the end of its log (" + log + "):\n" + tail(read(log)));
        }

        private static String read(Path log) {
            try {
                return Files.readString(log, StandardCharsets.ISO_8859_1);
            } catch (IOException e) {
                return "";
            }
        }

        private static String tail(String text) {
            return text.length() > 4000 ? text.substring(text.length() - 4000) : text;
        }
    }

    @Override
    public String toString() {
        return "Apicurio Registry at " + url() + " (log: " + log + ")";
    }
}

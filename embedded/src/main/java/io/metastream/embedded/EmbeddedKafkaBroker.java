package io.metastream.embedded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka broker in KRaft mode (one server acting as broker and controller),
 * run inside this JVM by the demo and the integration tests.
 *
 * <p>Both listeners bind to free loopback ports, so several brokers can run side by side; a broker
 * that other hosts must reach binds to one of the machine's addresses instead ({@link #start(Path, String)}).
 * Instances are thread-safe; {@link #close()} is idempotent.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);

    private static final String LOOPBACK = "127.0.0.1";
    private static final int NODE_ID = 1;
    private static final String CONTROLLER_LISTENER = "CONTROLLER";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration TOPIC_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration ATTEMPT_TIMEOUT = Duration.ofSeconds(1);
    private static final long RETRY_BACKOFF_MS = 50;

    private final KafkaRaftServer server;
    private final String bootstrapServers;
    private final String adminBootstrapServers;
    private final Map<String, Object> clientSecurity;
    private final TempDirectory tempDir;
    private final AtomicBoolean closed = new AtomicBoolean();

    private EmbeddedKafkaBroker(KafkaRaftServer server, String bootstrapServers, String adminBootstrapServers,
            Map<String, Object> clientSecurity, TempDirectory tempDir) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
        this.adminBootstrapServers = adminBootstrapServers;
        this.clientSecurity = Map.copyOf(clientSecurity);
        this.tempDir = tempDir;
    }

    /** A SCRAM user of a {@link #startSecured secured} broker. */
    public record ScramUser(String name, String password) {
    }

    /**
     * A broker whose client listener takes only TLS with SASL/SCRAM-SHA-256 ({@code SASL_SSL}),
     * serving {@code certificates}' key, with {@code user} able to log in. Topic set-up by this
     * class ({@link #admin()}, {@link #createTopics}) goes through a second, plaintext listener
     * that only the broker itself advertises to its own tools; {@link #clientProperties()} is what
     * a client needs on the secured one.
     */
    public static EmbeddedKafkaBroker startSecured(BrokerCertificates certificates, ScramUser user) {
        return start(null, LOOPBACK, certificates, user);
    }

    /**
     * Starts a broker, formatting its log directory first if it is new, and returns once the
     * broker answers {@code describeCluster}.
     *
     * @param dataDir the broker keeps its logs in {@code dataDir/kafka} and leaves them there on
     *     close, so a later start on the same directory finds its topics again; may be null, and
     *     then a temporary directory is used and deleted on close
     * @throws IllegalStateException if the broker fails to start or does not answer within 60 s
     * @throws UncheckedIOException if no temporary directory or free port can be had
     */
    public static EmbeddedKafkaBroker start(Path dataDir) {
        return start(dataDir, LOOPBACK, null, null);
    }

    /**
     * As {@link #start(Path)}, with its listeners bound to, and advertised at, {@code host} instead
     * of loopback: for a broker that clients on other hosts reach (another machine, or another
     * network namespace of this one). Clients must reach {@code host} as it is written here, since
     * it is the address the broker tells them to connect to.
     *
     * @param host an IP address of this host (of its network namespace)
     */
    public static EmbeddedKafkaBroker start(Path dataDir, String host) {
        return start(dataDir, host, null, null);
    }

    private static EmbeddedKafkaBroker start(Path dataDir, String host, BrokerCertificates certificates,
            ScramUser user) {
        long startNanos = System.nanoTime();
        TempDirectory tempDir = dataDir == null ? TempDirectory.create("metastream-kafka-") : null;
        Path logDir = (dataDir == null ? tempDir.path() : dataDir).resolve("kafka").toAbsolutePath();
        int[] ports = freePorts(host);
        String bootstrap = host + ":" + ports[0];
        Properties props = brokerProps(logDir, bootstrap, host + ":" + ports[1]);
        String adminBootstrap = bootstrap;
        Map<String, Object> clientSecurity = Map.of();
        if (certificates != null) {
            adminBootstrap = host + ":" + ports[2];
            secure(props, bootstrap, adminBootstrap, host + ":" + ports[1], certificates);
            clientSecurity = Map.of("security.protocol", "SASL_SSL",
                    "sasl.mechanism", SCRAM_MECHANISM,
                    "sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                            + user.name() + "\" password=\"" + user.password() + "\";",
                    "ssl.truststore.location", certificates.trustStore().toString(),
                    "ssl.truststore.type", "PKCS12",
                    "ssl.truststore.password", certificates.password());
        }
        KafkaRaftServer server = null;
        try {
            Files.createDirectories(logDir);
            if (Files.notExists(logDir.resolve("meta.properties"))) {
                format(props);
            }
            server = new KafkaRaftServer(new KafkaConfig(props, false), Time.SYSTEM);
            server.startup();
            EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(server, bootstrap, adminBootstrap, clientSecurity,
                    tempDir);
            broker.awaitAnswer(startNanos + START_TIMEOUT.toNanos());
            if (user != null) {
                broker.addScramUser(user);
            }
            LOG.info("Kafka broker ready at {} in {} ms (logs in {})", bootstrap,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), logDir);
            return broker;
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            stopQuietly(server);
            if (tempDir != null) {
                tempDir.close();
            }
            throw new IllegalStateException(
                    "Kafka broker in " + logDir + " failed to start: " + e.getMessage(), e);
        }
    }

    /** The {@code host:port} clients connect to. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /**
     * What a client needs besides {@link #bootstrapServers()}: empty for a plaintext broker, the
     * TLS trust store and the SCRAM login for a {@link #startSecured secured} one.
     */
    public Map<String, Object> clientProperties() {
        return clientSecurity;
    }

    /** A new admin client for this broker (on the plaintext listener when secured); the caller closes it. */
    public Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, adminBootstrapServers));
    }

    private void addScramUser(ScramUser user) throws InterruptedException, ExecutionException {
        try (Admin admin = admin()) {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(user.name(),
                    new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), user.password()))).all().get();
        }
    }

    /** Creates topics with one replica each; see {@link #createTopics(Collection)}. */
    public void createTopics(Map<String, Integer> partitionsByName) {
        createTopics(partitionsByName.entrySet().stream()
                .map(e -> new NewTopic(e.getKey(), e.getValue(), (short) 1)).toList());
    }

    /**
     * Creates the topics and waits until every partition of each has a leader. Topics that
     * already exist are left as they are: a broker restarted on a kept data directory still
     * holds them.
     *
     * @throws KafkaException naming the topics, if creating one fails or they are not ready in 30 s
     * @throws InterruptException if the calling thread is interrupted
     */
    public void createTopics(Collection<NewTopic> topics) {
        List<String> names = topics.stream().map(NewTopic::name).toList();
        long deadline = System.nanoTime() + TOPIC_TIMEOUT.toNanos();
        try (Admin admin = admin()) {
            for (Map.Entry<String, KafkaFuture<Void>> created
                    : admin.createTopics(topics).values().entrySet()) {
                try {
                    created.getValue().get(TOPIC_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new KafkaException(
                                "Could not create topic " + created.getKey(), e.getCause());
                    }
                }
            }
            // A topic just created may not yet be in the metadata the broker serves: describing
            // it fails with UnknownTopicOrPartition, or shows partitions without a leader.
            pollUntil(deadline, () -> admin.describeTopics(names).allTopicNames()
                    .get(ATTEMPT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).values().stream()
                    .flatMap(description -> description.partitions().stream())
                    .allMatch(partition -> partition.leader() != null
                            && !partition.leader().isEmpty()));
        } catch (TimeoutException e) {
            throw new KafkaException("Topics " + names + " not ready within "
                    + TOPIC_TIMEOUT.toSeconds() + " s: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            throw new InterruptException(e);
        }
    }

    /** Stops the broker and deletes its directory if it was temporary; later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            stopQuietly(server);
            if (tempDir != null) {
                tempDir.close();
            }
            LOG.info("Kafka broker at {} stopped", bootstrapServers);
        }
    }

    // startup() already waits until the controller unfences the broker; only a client's answer
    // shows that the listener serves requests.
    private void awaitAnswer(long deadline) throws TimeoutException, InterruptedException {
        DescribeClusterOptions attempt =
                new DescribeClusterOptions().timeoutMs((int) ATTEMPT_TIMEOUT.toMillis());
        try (Admin admin = admin()) {
            pollUntil(deadline, () -> !admin.describeCluster(attempt).nodes().get().isEmpty());
        } catch (TimeoutException e) {
            throw (TimeoutException) new TimeoutException("no answer to describeCluster at "
                    + bootstrapServers + " within " + START_TIMEOUT.toSeconds() + " s")
                    .initCause(e);
        }
    }

    private interface Check {
        boolean passed() throws ExecutionException, TimeoutException, InterruptedException;
    }

    // Kafka reports "not yet" as a failed future, so failures are retried until the deadline;
    // the last one becomes the cause of the timeout.
    private static void pollUntil(long deadline, Check check)
            throws TimeoutException, InterruptedException {
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (check.passed()) {
                    return;
                }
            } catch (ExecutionException | TimeoutException e) {
                last = e;
            }
            Thread.sleep(RETRY_BACKOFF_MS);
        }
        throw (TimeoutException) new TimeoutException(
                last == null ? "condition never held" : "last failure: " + last.getMessage())
                .initCause(last);
    }

    // Formatting goes through the storage tool's command line because Formatter and
    // MetadataVersion live in Kafka jars that kafka_2.13 puts on the runtime class path only.
    // The tool reads the same settings as the server, from a file.
    private static void format(Properties props) throws IOException {
        Path config = Files.createTempFile("metastream-kafka-", ".properties");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            try (OutputStream file = Files.newOutputStream(config)) {
                props.store(file, null);
            }
            String[] args = {"format", "--config", config.toString(),
                "--cluster-id", Uuid.randomUuid().toString()};
            int rc = StorageTool.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8));
            String output = out.toString(StandardCharsets.UTF_8).trim();
            if (rc != 0) {
                throw new IOException("kafka-storage format exited with " + rc + ": " + output);
            }
            LOG.debug("{}", output);
        } finally {
            Files.deleteIfExists(config);
        }
    }

    private static final String SCRAM_MECHANISM = "SCRAM-SHA-256";

    /** The client listener takes SASL_SSL only; a plaintext INTERNAL one serves the broker and its set-up tools. */
    private static void secure(Properties p, String clients, String internal, String controller,
            BrokerCertificates certificates) {
        p.put("listeners", "SASL_SSL://" + clients + ",INTERNAL://" + internal + "," + CONTROLLER_LISTENER + "://"
                + controller);
        p.put("advertised.listeners", "SASL_SSL://" + clients + ",INTERNAL://" + internal);
        p.put("listener.security.protocol.map", "SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("inter.broker.listener.name", "INTERNAL");
        p.put("sasl.enabled.mechanisms", SCRAM_MECHANISM);
        p.put("listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;");
        p.put("ssl.keystore.location", certificates.keyStore().toString());
        p.put("ssl.keystore.type", "PKCS12");
        p.put("ssl.keystore.password", certificates.password());
        p.put("ssl.key.password", certificates.password());
    }

    private static Properties brokerProps(Path logDir, String broker, String controller) {
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", String.valueOf(NODE_ID));
        p.put("controller.quorum.voters", NODE_ID + "@" + controller);
        p.put("controller.listener.names", CONTROLLER_LISTENER);
        p.put("listeners", "PLAINTEXT://" + broker + "," + CONTROLLER_LISTENER + "://" + controller);
        p.put("advertised.listeners", "PLAINTEXT://" + broker);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        // startup() waits for the controller with no limit unless told otherwise.
        p.put("server.max.startup.time.ms", String.valueOf(START_TIMEOUT.toMillis()));
        // One node cannot hold three replicas of the internal topics, and few partitions keep
        // the coordinators' first load (so the first group join or transaction) fast.
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "4");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "4");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("share.coordinator.state.topic.num.partitions", "1");
        p.put("default.replication.factor", "1");
        p.put("min.insync.replicas", "1");
        // Consumers here start at once; waiting for more members to join only slows them down.
        p.put("group.initial.rebalance.delay.ms", "0");
        // Every topic is declared by the application, so a misspelt name fails instead of
        // silently creating a one-partition topic that breaks co-partitioning.
        p.put("auto.create.topics.enable", "false");
        return p;
    }

    // The sockets are open at once so the ports differ. They are free when we look; another
    // process could take one before the broker binds, a window small enough to accept here.
    private static int[] freePorts(String host) {
        try {
            InetAddress address = InetAddress.getByName(host);
            try (ServerSocket broker = new ServerSocket(0, 1, address);
                    ServerSocket controller = new ServerSocket(0, 1, address);
                    ServerSocket internal = new ServerSocket(0, 1, address)) {
                return new int[] {broker.getLocalPort(), controller.getLocalPort(), internal.getLocalPort()};
            }
        } catch (IOException e) {
            throw new UncheckedIOException("No free ports on " + host, e);
        }
    }

    private static void stopQuietly(KafkaRaftServer server) {
        if (server != null) {
            try {
                server.shutdown();
                server.awaitShutdown();
            } catch (RuntimeException e) {
                LOG.warn("Kafka broker did not shut down cleanly", e);
            }
        }
    }
}

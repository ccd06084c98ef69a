package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.embedded.BrokerCertificates;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.ModelChange;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streams.ModelArtifacts;
import io.metastream.streams.ModelWatcher;
import io.metastream.streams.Topics;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code models promote} and {@code rollback}, run in-process as {@code main} runs them, against a
 * broker that takes only TLS with SASL/SCRAM: the cluster is named with Kafka's
 * {@code --bootstrap-server} and reached with {@code --command-config}; a move someone else made in
 * between fails the command with both versions named. The versions' files travel with them.
 */
@Tag("embedded-broker")
class ModelsCommandSecuredTest {
    private static final String MODEL = "sine";

    @TempDir
    Path dir;

    @Test
    void shouldPromoteAndRollBackOverSaslSslWithCommandConfig() throws IOException {
        BrokerCertificates certificates = BrokerCertificates.generate(dir);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.startSecured(certificates,
                new EmbeddedKafkaBroker.ScramUser("operator", "s3cret-" + System.nanoTime()))) {
            broker.createTopics(Map.of(Topics.defaults().models().name(), 1));
            Path models = dir.resolve("models");
            LocalDirectoryModelStore store = new LocalDirectoryModelStore(models);
            publish(store, 3);
            store.setAlias(MODEL, "production", "1");
            Path commandConfig = dir.resolve("client.properties");
            Properties security = new Properties();
            broker.clientProperties().forEach((k, v) -> security.setProperty(k, String.valueOf(v)));
            try (OutputStream out = Files.newOutputStream(commandConfig)) {
                security.store(out, "what kafka-topics.sh --command-config takes");
            }

            Run promote = run("models", "promote", "--store", models.toString(), MODEL, "2",
                    "--bootstrap-server", broker.bootstrapServers(), "--command-config", commandConfig.toString());
            assertThat(promote.exit()).as(promote.err()).isZero();
            assertThat(promote.out()).contains("production: 1 -> 2 (announced)");
            Run rollback = run("models", "rollback", "--store", models.toString(), MODEL,
                    "--bootstrap-servers", broker.bootstrapServers(), "--command-config", commandConfig.toString());
            assertThat(rollback.exit()).as(rollback.err()).isZero();
            assertThat(rollback.out()).contains("production: 2 -> 1 (rollback, announced)");

            List<ModelChange> changes = readModels(broker, 2);
            assertThat(changes).extracting(ModelChange::getVersion).containsExactly("2", "1");
            assertThat(changes).extracting(ModelChange::getAction).containsExactly("promote", "rollback");
            assertThat(changes.get(0).getArtifactDigest()).isEqualTo(store.digest(MODEL, "2"));
            assertThat(changes.get(1).getArtifactDigest()).isEqualTo(store.digest(MODEL, "1"));

            // Both versions' files went to model-artifacts over the same secured connection: an
            // empty store on another machine gets them, byte for byte.
            Map<String, Object> client = new HashMap<>(broker.clientProperties());
            client.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            LocalDirectoryModelStore elsewhere = new LocalDirectoryModelStore(dir.resolve("elsewhere"));
            ModelArtifacts artifacts = new ModelArtifacts(client, "model-artifacts", ModelArtifacts.DEFAULT_CHUNK_BYTES,
                    ModelArtifacts.DEFAULT_MAX_BYTES);
            for (ModelChange change : changes) {
                assertThat(artifacts.fetch(elsewhere, MODEL, change.getVersion(), change.getArtifactDigest(),
                        Duration.ofSeconds(30))).isTrue();
                assertThat(elsewhere.load(MODEL, change.getVersion())).isEqualTo(store.load(MODEL, change.getVersion()));
            }

            // Someone moved the alias to 3 since this operator looked (at 1): compare-and-set refuses.
            store.compareAndSetAlias(MODEL, "production", "1", "3");
            Run stale = run("models", "promote", "--store", models.toString(), MODEL, "2", "--expect", "1",
                    "--bootstrap-server", broker.bootstrapServers(), "--command-config", commandConfig.toString());
            assertThat(stale.exit()).isNotZero();
            assertThat(stale.err()).contains("error: ").contains("expected 1, actual 3")
                    .contains("move to 2 was not made");
            Run staleRollback = run("models", "rollback", "--store", models.toString(), MODEL, "--expect", "1");
            assertThat(staleRollback.exit()).isNotZero();
            assertThat(staleRollback.err()).contains("expected 1, actual 3");
            assertThat(store.alias(MODEL, "production")).contains("3");

            // A setting the file may not carry is refused before anything moves.
            Files.writeString(dir.resolve("bad.properties"), "acks=0\nsecurity.protocol=SASL_SSL\n");
            Run bad = run("models", "promote", "--store", models.toString(), MODEL, "2",
                    "--bootstrap-server", broker.bootstrapServers(), "--command-config",
                    dir.resolve("bad.properties").toString());
            assertThat(bad.exit()).isNotZero();
            assertThat(bad.err()).contains("[acks]");
            assertThat(store.alias(MODEL, "production")).contains("3");
        }
    }

    @Test
    void shouldTrainPromoteAndCarryTheVersionThroughKafkaToAnEmptyStore() {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            Path models = dir.resolve("trainer-models");
            Run train = run("train", "sinusoid", "--store", models.toString(), "--iterations", "20",
                    "--promote", "production", "--bootstrap-server", broker.bootstrapServers());
            assertThat(train.exit()).as(train.err()).isZero();
            assertThat(train.out()).contains("production -> sinusoid@1 (announced)");
            Map<String, Object> client = Map.of("bootstrap.servers", broker.bootstrapServers());
            ModelChange announced = ModelWatcher.latestChange(client, Topics.defaults(), "sinusoid", "production",
                    Duration.ofSeconds(30)).orElseThrow();
            LocalDirectoryModelStore store = new LocalDirectoryModelStore(models);
            assertThat(announced.getVersion()).isEqualTo("1");
            assertThat(announced.getArtifactDigest()).isEqualTo(store.digest("sinusoid", "1"));

            LocalDirectoryModelStore empty = new LocalDirectoryModelStore(dir.resolve("empty"));
            new ModelArtifacts(client, "model-artifacts", ModelArtifacts.DEFAULT_CHUNK_BYTES,
                    ModelArtifacts.DEFAULT_MAX_BYTES).fetch(empty, "sinusoid", "1", announced.getArtifactDigest(),
                    Duration.ofSeconds(30));
            assertThat(empty.load("sinusoid", "1")).isEqualTo(store.load("sinusoid", "1"));
        }
    }

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        CommandLine cli = MetastreamCommand.commandLine();
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err, true));
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.PrintStream previous = System.out;
        System.setOut(new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
        int exit;
        try {
            exit = cli.execute(args);
        } finally {
            System.setOut(previous);
        }
        return new Run(exit, out.toString(java.nio.charset.StandardCharsets.UTF_8), err.toString());
    }

    private static void publish(LocalDirectoryModelStore store, int versions) {
        MlpArchitecture arch = new MlpArchitecture(new int[] {1, 8, 1});
        Random random = new Random(3);
        for (int v = 0; v < versions; v++) {
            float[] p = new float[arch.parameterCount()];
            for (int i = 0; i < p.length; i++) {
                p[i] = random.nextFloat() - 0.5f;
            }
            BaseModelArtifacts.publish(store, MODEL, "reptile", arch, p, new AdaptationSettings(1, 0.01f, 0f,
                    Loss.MSE), Map.of("seed", v));
        }
    }

    /** The models topic, read over the secured listener. */
    private static List<ModelChange> readModels(EmbeddedKafkaBroker broker, int count) {
        Map<String, Object> props = new HashMap<>(broker.clientProperties());
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        Topics topics = Topics.defaults();
        List<ModelChange> changes = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            TopicPartition partition = new TopicPartition(topics.models().name(), 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (changes.size() < count && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    changes.add(topics.models().valueSerde().deserializer().deserialize(r.topic(), r.value()));
                }
            }
        }
        return changes;
    }
}

package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Kafka's flags as every command that talks to Kafka parses them, and what a command-config file may hold. */
class KafkaClientOptionsTest {
    @TempDir
    Path dir;

    @Test
    void shouldTakeBothSpellingsAndTheSecuritySettingsOfTheCommandConfig() throws IOException {
        Path file = Files.writeString(dir.resolve("client.properties"), """
                bootstrap.servers=from-file:9093
                security.protocol=SASL_SSL
                sasl.mechanism=SCRAM-SHA-256
                ssl.truststore.location=/etc/kafka/trust.p12
                """);
        KafkaClientOptions kafka = parse("--command-config", file.toString());
        assertThat(kafka.clientProperties()).containsEntry("bootstrap.servers", "from-file:9093")
                .containsEntry("security.protocol", "SASL_SSL").containsEntry("sasl.mechanism", "SCRAM-SHA-256")
                .containsEntry("ssl.truststore.location", "/etc/kafka/trust.p12").hasSize(4);
        assertThat(parse("--bootstrap-server", "a:9092", "--command-config", file.toString()).clientProperties())
                .containsEntry("bootstrap.servers", "a:9092");
        assertThat(parse("--bootstrap-servers", "b:9092").clientProperties())
                .isEqualTo(Map.of("bootstrap.servers", "b:9092"));
        assertThat(parse().clientProperties()).as("no cluster: store only").isNull();
    }

    /** run and meta-train: the flags go over the pipeline's own properties file. */
    @Test
    void shouldPutTheFlagsOverThePipelinesProperties() throws IOException {
        Path file = Files.writeString(dir.resolve("client.properties"), "security.protocol=SSL\n");
        Properties pipeline = new Properties();
        pipeline.put("bootstrap.servers", "old:9092");
        pipeline.put("security.protocol", "PLAINTEXT");
        pipeline.put("application.id", "app");
        parse("--bootstrap-server", "new:9093", "--command-config", file.toString()).applyTo(pipeline);
        assertThat(pipeline).containsEntry("bootstrap.servers", "new:9093").containsEntry("security.protocol", "SSL")
                .containsEntry("application.id", "app");
    }

    @Test
    void shouldRefuseKeysThatAreNotClientSecuritySettings() throws IOException {
        Path file = Files.writeString(dir.resolve("client.properties"),
                "security.protocol=SSL\nacks=0\nlinger.ms=5\n");
        assertThatThrownBy(() -> parse("--bootstrap-server", "a:9092", "--command-config", file.toString())
                .clientProperties()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[acks, linger.ms]");
        Path noServers = Files.writeString(dir.resolve("tls.properties"), "security.protocol=SSL\n");
        assertThatThrownBy(() -> parse("--command-config", noServers.toString()).clientProperties())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--bootstrap-server");
    }

    @CommandLine.Command(name = "probe")
    static final class Probe {
        @CommandLine.Mixin
        KafkaClientOptions kafka = new KafkaClientOptions();
    }

    private static KafkaClientOptions parse(String... args) {
        Probe probe = new Probe();
        new CommandLine(probe).parseArgs(args);
        return probe.kafka;
    }
}

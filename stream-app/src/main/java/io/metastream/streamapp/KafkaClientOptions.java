package io.metastream.streamapp;

import io.metastream.streams.MetastreamConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import picocli.CommandLine.Option;

/**
 * How a command reaches a Kafka cluster, in the Kafka tools' spelling: {@code --bootstrap-server}
 * (or {@code --bootstrap-servers}) and {@code --command-config FILE}, a properties file of client
 * settings for a TLS or SASL cluster. The file may hold {@code bootstrap.servers} and the client
 * security settings ({@code security.protocol}, {@code ssl.*}, {@code sasl.*}); any other key is
 * refused rather than ignored, so that a setting the operator meant never silently goes missing.
 */
final class KafkaClientOptions {
    @Option(names = {"--bootstrap-server", "--bootstrap-servers"}, paramLabel = "HOST:PORT[,...]",
            description = "The cluster (Kafka's --bootstrap-server; --bootstrap-servers is the same option).")
    String bootstrapServers;

    @Option(names = "--command-config", paramLabel = "FILE", description = "Properties file of Kafka client "
            + "settings, as the Kafka tools take it: security.protocol, ssl.*, sasl.* (e.g. SASL_SSL with "
            + "SCRAM), and bootstrap.servers if no --bootstrap-server is given.")
    Path commandConfig;

    /** Whether a cluster was named, by the flag or in the command config. */
    boolean given() {
        return bootstrapServers != null || commandConfig != null;
    }

    /**
     * {@code bootstrap.servers} and the security settings, ready for a Kafka client; null when
     * neither option was given.
     *
     * @throws IllegalArgumentException if the file holds another key, or no bootstrap servers are named
     */
    Map<String, Object> clientProperties() {
        if (!given()) {
            return null;
        }
        Map<String, Object> props = new HashMap<>(commandConfig == null ? Map.of() : read(commandConfig));
        if (bootstrapServers != null) {
            props.put(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        }
        if (props.get(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG) == null) {
            throw new IllegalArgumentException("--command-config " + commandConfig + " names no bootstrap.servers: "
                    + "give --bootstrap-server");
        }
        return props;
    }

    /**
     * Puts the options into a pipeline's properties ({@code run}, {@code meta-train}): the command
     * config's settings, then {@code --bootstrap-server}, over what the properties hold.
     */
    void applyTo(Properties pipeline) {
        if (commandConfig != null) {
            pipeline.putAll(read(commandConfig));
        }
        if (bootstrapServers != null) {
            pipeline.put(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        }
    }

    /** The client settings of a command-config file. */
    static Map<String, Object> read(Path file) {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read --command-config " + file + ": " + e.getMessage(), e);
        }
        List<String> refused = p.stringPropertyNames().stream()
                .filter(k -> !k.equals(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG)
                        && !MetastreamConfig.isClientSecuritySetting(k))
                .sorted().toList();
        if (!refused.isEmpty()) {
            throw new IllegalArgumentException("--command-config " + file + " holds keys that are not Kafka client "
                    + "security settings (security.protocol, ssl.*, sasl.*) nor bootstrap.servers: " + refused);
        }
        Map<String, Object> settings = new HashMap<>();
        for (String key : new TreeSet<>(p.stringPropertyNames())) {
            settings.put(key, p.getProperty(key));
        }
        return settings;
    }
}

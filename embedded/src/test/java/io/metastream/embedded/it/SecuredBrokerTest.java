package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.embedded.BrokerCertificates;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.schemas.Prediction;
import io.metastream.server.MetastreamApp;
import io.metastream.server.ModelPromotion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole pipeline against a broker that takes only TLS with SASL/SCRAM-SHA-256 (certificates
 * made for the test): the security settings given to the app reach Kafka Streams, the topic
 * set-up, the model watcher and its model-events producer.
 */
@Tag("embedded-broker")
class SecuredBrokerTest {
    @TempDir
    Path dir;

    @Test
    void shouldRunEndToEndOverTlsWithScram() throws Exception {
        BrokerCertificates certificates = BrokerCertificates.generate(dir);
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.startSecured(certificates,
                new EmbeddedKafkaBroker.ScramUser("metastream", "s3cret-" + System.nanoTime()));
        try (StreamingFixture f = new StreamingFixture(dir, broker)) {
            assertThat(broker.clientProperties()).containsEntry("security.protocol", "SASL_SSL");
            assertRefused(broker, Map.of());
            Map<String, Object> wrongPassword = new HashMap<>(broker.clientProperties());
            wrongPassword.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required "
                    + "username=\"metastream\" password=\"wrong\";");
            assertRefused(broker, wrongPassword);

            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            f.store.setAlias(MODEL, "production", v1);
            MetastreamApp app = f.startInstance("tls");
            List<String> queries = f.sendTasks("s", 20, 5, 2);
            await(Duration.ofSeconds(60), "every query answered over TLS", () -> f.answered(queries));
            assertThat(f.predictions.stream().map(Prediction::getQueryId).toList()).doesNotHaveDuplicates();
            assertThat(f.predictions).allMatch(Prediction::getAdapted);

            Map<String, Object> client = new HashMap<>(broker.clientProperties());
            client.put("bootstrap.servers", broker.bootstrapServers());
            ModelPromotion.promote(f.store, MODEL, "production", v2, true, client, f.topics);
            await(Duration.ofSeconds(10), "the watcher's swap over TLS", () -> f.swaps.stream()
                    .anyMatch(e -> e.getStatus().equals("SWAPPED") && e.getToVersion().equals(MODEL + "@" + v2)));
            assertThat(app.model().base().version()).isEqualTo(MODEL + "@" + v2);
        }
    }

    /** A client without the right credentials gets nothing from the secured listener. */
    private static void assertRefused(EmbeddedKafkaBroker broker, Map<String, Object> security) {
        Map<String, Object> props = new HashMap<>(security);
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 3000);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000);
        try (Admin admin = Admin.create(props)) {
            assertThatThrownBy(() -> admin.describeCluster(new DescribeClusterOptions().timeoutMs(3000)).nodes()
                    .get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        }
    }
}

package io.metastream.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the real broker: the transactional round trip is what Kafka Streams' exactly-once needs,
 * so the internal-topic settings are checked here and not first in a topology test.
 */
@Tag("embedded-broker")
class EmbeddedKafkaBrokerTest {
    private static final String TOPIC = "samples";
    private static final int RECORDS = 100;

    @Test
    void shouldDeliverOnlyCommittedRecordsWhenConsumerReadsCommitted() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            broker.createTopics(Map.of(TOPIC, 3));
            try (Admin admin = broker.admin()) {
                assertThat(admin.describeTopics(List.of(TOPIC)).allTopicNames().get()
                        .get(TOPIC).partitions()).hasSize(3);
            }

            Map<String, String> expected = new HashMap<>();
            try (KafkaProducer<String, String> producer = producer(broker)) {
                producer.initTransactions();
                producer.beginTransaction();
                for (int i = 0; i < 10; i++) {
                    producer.send(new ProducerRecord<>(TOPIC, "aborted-" + i, "never"));
                }
                producer.flush();
                producer.abortTransaction();

                producer.beginTransaction();
                for (int i = 0; i < RECORDS; i++) {
                    producer.send(new ProducerRecord<>(TOPIC, "task-" + i, "value-" + i));
                    expected.put("task-" + i, "value-" + i);
                }
                producer.commitTransaction();
            }

            assertThat(consumeAll(broker, RECORDS))
                    .containsExactlyInAnyOrderElementsOf(expected.entrySet());
        }
    }

    @Test
    void shouldReleasePortWhenClosedTwice() throws IOException {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null);
        String bootstrap = broker.bootstrapServers();
        int port = Integer.parseInt(bootstrap.substring(bootstrap.lastIndexOf(':') + 1));

        broker.close();
        assertThatCode(broker::close).doesNotThrowAnyException();

        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            assertThat(socket.getLocalPort()).isEqualTo(port);
        }
    }

    @Test
    void shouldListenOnAndAdvertiseTheAddressItIsGiven() throws Exception {
        // 127.0.0.2 is this machine too (all of 127/8 is loopback on Linux) but not the default address.
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null, "127.0.0.2");
                Admin admin = broker.admin()) {
            assertThat(broker.bootstrapServers()).startsWith("127.0.0.2:");
            assertThat(admin.describeCluster().nodes().get()).extracting(node -> node.host())
                    .as("the address clients are told to connect to").containsExactly("127.0.0.2");
            int port = Integer.parseInt(broker.bootstrapServers().substring("127.0.0.2:".length()));
            try (ServerSocket loopback = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                assertThat(loopback.getLocalPort()).as("127.0.0.1 left free").isEqualTo(port);
            }
        }
    }

    @Test
    void shouldKeepTopicsWhenRestartedOnSameDataDir(@TempDir Path dataDir) throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir)) {
            broker.createTopics(Map.of(TOPIC, 3));
        }
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir);
                Admin admin = broker.admin()) {
            broker.createTopics(Map.of(TOPIC, 3));
            assertThat(admin.listTopics().names().get()).isEqualTo(Set.of(TOPIC));
        }
        assertThat(dataDir.resolve("kafka").resolve("meta.properties")).exists();
    }

    @Test
    void shouldThrowIllegalStateWhenDataDirIsAFile(@TempDir Path tempDir) throws IOException {
        Path notADirectory = Files.writeString(tempDir.resolve("file"), "x");

        assertThatThrownBy(() -> EmbeddedKafkaBroker.start(notADirectory))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(notADirectory.toString());
    }

    private static KafkaProducer<String, String> producer(EmbeddedKafkaBroker broker) {
        return new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, "embedded-broker-test"),
                new StringSerializer(), new StringSerializer());
    }

    private static List<Map.Entry<String, String>> consumeAll(EmbeddedKafkaBroker broker, int count) {
        List<Map.Entry<String, String>> received = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "embedded-broker-test",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(TOPIC));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (received.size() < count && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200))
                        .forEach(record -> received.add(Map.entry(record.key(), record.value())));
            }
            // One more poll shows that nothing beyond the committed records is delivered.
            consumer.poll(Duration.ofMillis(500))
                    .forEach(record -> received.add(Map.entry(record.key(), record.value())));
        }
        return received;
    }
}

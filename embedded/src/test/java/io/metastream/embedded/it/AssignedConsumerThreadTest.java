package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.streams.internals.AssignedConsumerThread;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A handler that a poll's records drive into an Error (what a length-prefix bomb did to the model
 * watcher and the meta-trainer): the thread reports the failure and carries on, instead of dying
 * without a word.
 */
@Tag("embedded-broker")
class AssignedConsumerThreadTest {
    @TempDir
    Path dir;

    @Test
    void shouldSurviveAnErrorFromItsHandlerAndSayItFailed() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"))) {
            broker.createTopics(Map.of("control", 1));
            List<String> seen = new CopyOnWriteArrayList<>();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            AtomicBoolean thrown = new AtomicBoolean();
            List<Integer> recoveries = new CopyOnWriteArrayList<>();
            try (AssignedConsumerThread reader = new AssignedConsumerThread("error-test", broker.bootstrapServers(),
                    broker.clientProperties(), List.of("control"), records -> records.forEach(r -> {
                        if (!thrown.getAndSet(true)) {
                            throw new OutOfMemoryError("Java heap space");
                        }
                        seen.add(r.key());
                    })).restartOnFailure(Duration.ofMillis(50), Duration.ofMillis(200),
                            new AssignedConsumerThread.FailureListener() {
                                @Override
                                public void failed(RuntimeException error, int consecutive, Duration backoff) {
                                    failures.add(error);
                                }

                                @Override
                                public void recovered(int count) {
                                    recoveries.add(count);
                                }
                            }).start();
                    KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.<String, Object>of(
                            "bootstrap.servers", broker.bootstrapServers()), new StringSerializer(),
                            new ByteArraySerializer())) {
                producer.send(new ProducerRecord<>("control", "a", new byte[] {1})).get();
                producer.send(new ProducerRecord<>("control", "b", new byte[] {2})).get();
                await(Duration.ofSeconds(30), "both records handled after the failure", () -> seen.size() >= 2);
                assertThat(failures).hasSize(1);
                assertThat(failures.get(0)).hasCauseInstanceOf(OutOfMemoryError.class);
                assertThat(recoveries).containsExactly(1);
                assertThat(reader.isFollowing()).isTrue();
                assertThat(seen).contains("a", "b");
            }
        }
    }
}

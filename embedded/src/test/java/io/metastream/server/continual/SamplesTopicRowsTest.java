package io.metastream.server.continual;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.data.records.TaskRecords;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Training rows read back from a real samples topic over a time range. */
@Tag("embedded-broker")
class SamplesTopicRowsTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);

    @Test
    void shouldReadTheSamplesOfATimeRangeInTaskOrderAndSkipWhatDoesNotDecode() throws Exception {
        Instant t0 = Instant.parse("2026-11-01T00:00:00Z");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            broker.createTopics(Map.of("samples", 2));
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                    new ByteArraySerializer())) {
                for (int i = 0; i < 30; i++) {
                    String task = "t" + i % 3;
                    Instant at = t0.plusSeconds(60L * i);
                    producer.send(new ProducerRecord<>("samples", null, at.toEpochMilli(), task,
                            SAMPLES.encode(LabelledSample.newBuilder().setEventId("e" + i).setTaskId(task)
                                    .setFeatures(List.of((float) i, 1f)).setTarget(i % 2).setEventTime(at).build())));
                }
                producer.send(new ProducerRecord<>("samples", null, t0.plusSeconds(90).toEpochMilli(), "t0",
                        "garbage".getBytes(StandardCharsets.UTF_8)));
            }
            // Minutes 10 to 19: ten samples, the garbage record before them.
            SamplesTopicRows.Read read = SamplesTopicRows.read(broker.bootstrapServers(), "samples",
                    t0.plusSeconds(600), t0.plusSeconds(1200), Duration.ofSeconds(30));
            TaskRecords records = read.records();
            assertThat(records.rowCount()).isEqualTo(10);
            assertThat(records.taskCount()).isEqualTo(3);
            assertThat(records.inputDim()).isEqualTo(2);
            assertThat(records.tasks()).allSatisfy(task -> {
                for (TaskRecords.Row row : task.rows()) {
                    assertThat(row.features()[0]).isBetween(10f, 19f);
                }
                for (int i = 1; i < task.size(); i++) {
                    assertThat(task.rows().get(i).eventTimeMs()).isGreaterThan(task.rows().get(i - 1).eventTimeMs());
                }
            });
            assertThat(read.skipped()).isZero();
            assertThat(read.offsets()).isNotEmpty();

            SamplesTopicRows.Read early = SamplesTopicRows.read(broker.bootstrapServers(), "samples", t0,
                    t0.plusSeconds(120), Duration.ofSeconds(30));
            assertThat(early.records().rowCount()).isEqualTo(2);
            assertThat(early.skipped()).isEqualTo(1);

            assertThatThrownBy(() -> SamplesTopicRows.read(broker.bootstrapServers(), "samples",
                    t0.plusSeconds(86_400), t0.plusSeconds(90_000), Duration.ofSeconds(30)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no samples");
        }
    }
}

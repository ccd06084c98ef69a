package io.metastream.embedded.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.server.MetastreamApp;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.StoreNames;
import io.metastream.streams.TestModels;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.PackedSupportSet;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on a real in-process KRaft broker: Avro bytes on the wire, RocksDB stores with
 * changelogs, exactly-once processing, DJL adaptation.
 */
@Tag("embedded-broker")
class EmbeddedPipelineTest {
    @TempDir
    Path dir;

    @Test
    void shouldKeepSupportSetsInAChangeloggedStoreAndDeadLetterBadBytes() throws Exception {
        AvroCodec<LabelledSample> samples = AvroCodec.of(LabelledSample.class);
        AvroCodec<PredictionRequest> queries = AvroCodec.of(PredictionRequest.class);
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().directory(dir).start()) {
            EmbeddedKafkaBroker broker = pipeline.broker();
            try (ActiveModel model = TestModels.activeQuickBase();
                    MetastreamApp app = pipeline.app(Map.of(MetastreamConfig.APPLICATION_ID_CONFIG, "it",
                            MetastreamConfig.TOPIC_PARTITIONS_CONFIG, 2)).model(model)
                            .startTimeout(Duration.ofSeconds(60)).start()) {
                assertThat(app.config().getString(MetastreamConfig.STATE_DIR_CONFIG))
                        .isEqualTo(dir.resolve("state").toString());
                Topics topics = app.topics();
                try (KafkaProducer<String, byte[]> producer = producer(broker)) {
                    for (int t = 0; t < 3; t++) {
                        for (int i = 0; i < 6; i++) {
                            producer.send(new ProducerRecord<>(topics.samples().name(), "task-" + t,
                                    samples.encode(LabelledSample.newBuilder().setEventId("e" + t + i)
                                            .setTaskId("task-" + t).setFeatures(List.of((float) i))
                                            .setTarget(t).setEventTime(Instant.now()).build())));
                        }
                    }
                    producer.send(new ProducerRecord<>(topics.samples().name(), "task-0",
                            "garbage".getBytes(StandardCharsets.UTF_8)));
                    producer.flush();
                    for (int t = 0; t < 3; t++) {
                        producer.send(new ProducerRecord<>(topics.queries().name(), "task-" + t,
                                queries.encode(PredictionRequest.newBuilder().setQueryId("q" + t)
                                        .setTaskId("task-" + t).setFeatures(List.of(0.5f))
                                        .setEventTime(Instant.now()).build())));
                    }
                }
                Map<String, Prediction> answers = new HashMap<>();
                consume(broker, topics.predictions().name(), 3, r -> {
                    Prediction p = topics.predictions().valueSerde().deserializer().deserialize(r.topic(), r.value());
                    answers.put(p.getQueryId(), p);
                });
                assertThat(answers).containsOnlyKeys("q0", "q1", "q2");
                assertThat(answers.values()).allSatisfy(p -> assertThat(p.getSupportSize()).isEqualTo(6));

                List<DeadLetter> letters = new java.util.ArrayList<>();
                consume(broker, topics.deadLetters().name(), 1, r -> letters.add(
                        topics.deadLetters().valueSerde().deserializer().deserialize(r.topic(), r.value())));
                assertThat(letters).singleElement().satisfies(d -> {
                    assertThat(d.getReasonCode()).isEqualTo("UNDECODABLE");
                    assertThat(d.getSourceTopic()).isEqualTo("samples");
                    assertThat(d.getOffset()).isGreaterThanOrEqualTo(0);
                });

                Map<String, PackedSupportSet> changelog = new HashMap<>();
                consume(broker, "it-" + StoreNames.SUPPORT_SETS + "-changelog", 18,
                        r -> changelog.put(r.key(), PackedSupportSet.parse(r.value())));
                assertThat(changelog).containsOnlyKeys("task-0", "task-1", "task-2");
                assertThat(changelog.values()).allSatisfy(s -> assertThat(s.size()).isEqualTo(6));
            }
        }
    }

    @Test
    void shouldGiveThePipelineOverridesTheLastWordAndEachInstanceItsOwnStateDirectory() {
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().directory(dir)
                .overrides(Map.of(MetastreamConfig.NUM_STREAM_THREADS_CONFIG, "2")).start()) {
            Map<String, Object> a = pipeline.settings(Map.of(MetastreamConfig.INSTANCE_ID_CONFIG, "a",
                    MetastreamConfig.NUM_STREAM_THREADS_CONFIG, 1));

            assertThat(a).containsEntry(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, pipeline.bootstrapServers())
                    .containsEntry(MetastreamConfig.STATE_DIR_CONFIG, dir.resolve("state-a").toString())
                    .as("the user's --set wins over a demo's own settings")
                    .containsEntry(MetastreamConfig.NUM_STREAM_THREADS_CONFIG, "2");
            assertThat(pipeline.config(Map.of(MetastreamConfig.STATE_DIR_CONFIG, "/elsewhere"))
                    .getString(MetastreamConfig.STATE_DIR_CONFIG)).isEqualTo("/elsewhere");
        }
    }

    private static KafkaProducer<String, byte[]> producer(EmbeddedKafkaBroker broker) {
        Map<String, Object> p = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    /** Reads committed records of {@code topic} until {@code expected} have arrived (30 s at most). */
    private static void consume(EmbeddedKafkaBroker broker, String topic, int expected,
            java.util.function.Consumer<ConsumerRecord<String, byte[]>> sink) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "it-reader-" + topic);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (KafkaConsumer<String, byte[]> consumer =
                new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            int seen = 0;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (seen < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    sink.accept(r);
                    seen++;
                }
            }
            assertThat(seen).as("records read from %s", topic).isGreaterThanOrEqualTo(expected);
        }
    }
}

package io.metastream.examples.clicks;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.data.records.SyntheticClicks;
import io.metastream.data.records.TaskRecords;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.embedded.TopicReader;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.training.RecordsTraining;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application as its team would test it: a base trained on its own click log (a CSV), then
 * its topology, metastream embedded, on a real broker with JSON records, exactly once.
 */
@Tag("embedded-broker")
class ClicksAppTest {
    private static final int DIM = 24;
    private static final int SHOTS = 10;
    private static final double SHOW_ABOVE = 0.5;

    @TempDir
    Path dir;

    @Test
    void shouldTrainOnItsOwnClickLogAndServeAdaptedProbabilitiesBesideItsOwnProcessor() throws Exception {
        DjlRuntime.start(1);
        SyntheticClicks.Population population = new SyntheticClicks.Population(DIM, 42L);
        Path csv = TaskRecords.writeCsv(dir.resolve("click-log.csv"), population.users("user-", 400, 1L, 1_700_000_000_000L));

        // What `train records --data click-log.csv --loss logistic --hidden 32` runs.
        RecordsTraining.Data data = RecordsTraining.Data.split(TaskRecords.read(csv), 0.25, 3L);
        MetaTrainingPlan plan = new MetaTrainingPlan(RecordsTraining.architecture(DIM, List.of(32)),
                new AdaptationSettings(5, 0.3f, 0f, Loss.LOGISTIC), 1000, 16, SHOTS, 20, 0.003f, 7L, 0.1f);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir.resolve("models"));
        ModelManifest meta = RecordsTraining.train(store, "clicks", MetaTrainer.Algorithm.FOMAML, data, plan,
                (d, t, l) -> { }).manifest();
        ModelManifest pooled = RecordsTraining.train(store, "clicks-pooled", MetaTrainer.Algorithm.PRETRAIN, data,
                plan, (d, t, l) -> { }).manifest();
        for (int k : new int[] {5, 10}) {
            double metaLoss = metric(meta, "loss_adapted_k" + k);
            double pooledLoss = metric(pooled, "loss_adapted_k" + k);
            System.out.printf("held-out log-loss at k=%d: meta-trained %.4f, pooled fine-tuned %.4f%n", k, metaLoss,
                    pooledLoss);
            assertThat(metaLoss).as("meta-trained vs pooled log-loss at k=%d", k).isLessThan(pooledLoss);
        }

        List<TaskRecords.Row> newUsers = population.users("new-", 30, 2L, System.currentTimeMillis() - 3_600_000L);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            broker.createTopics(Map.of(ClicksApp.CLICKS, 2, ClicksApp.IMPRESSIONS, 2, ClicksApp.PROBABILITIES, 2,
                    ClicksApp.ADS_TO_SHOW, 1, ClicksApp.ADAPTATIONS, 1, ClicksApp.DEAD_LETTERS, 1));
            BaseModel base = io.metastream.learn.artifact.BaseModelArtifacts.load(store, "clicks", meta.version());
            Map<String, Float> truth = new HashMap<>();
            Map<String, float[]> asked = new HashMap<>();
            try (ActiveModel model = new ActiveModel(base, "cpu");
                    AdaptationEngine engine = AdaptationEngine.shared(model.learner(), 256, 5);
                    KafkaStreams streams = new KafkaStreams(ClicksApp.topology(model, engine, SHOW_ABOVE),
                            ClicksApp.streamsProperties(broker.bootstrapServers(), dir.resolve("state").toString()))) {
                streams.start();
                awaitRunning(streams);
                try (KafkaProducer<String, byte[]> producer = producer(broker)) {
                    JsonSerde<Click> json = new JsonSerde<>(Click.class);
                    Map<String, List<TaskRecords.Row>> byUser = newUsers.stream()
                            .collect(Collectors.groupingBy(TaskRecords.Row::taskId));
                    for (var user : byUser.entrySet()) {
                        List<TaskRecords.Row> rows = user.getValue();
                        for (int i = 0; i < rows.size(); i++) {
                            TaskRecords.Row row = rows.get(i);
                            String impression = user.getKey() + "#" + i;
                            boolean answered = i < SHOTS;
                            Click c = new Click(user.getKey(), impression, row.features(),
                                    answered ? row.target() == 1f : null, row.eventTimeMs());
                            producer.send(new ProducerRecord<>(answered ? ClicksApp.CLICKS : ClicksApp.IMPRESSIONS,
                                    null, row.eventTimeMs(), user.getKey(), json.serializer().serialize("", c)));
                            if (!answered) {
                                truth.put(impression, row.target());
                                asked.put(impression, row.features());
                            }
                        }
                    }
                    producer.send(new ProducerRecord<>(ClicksApp.CLICKS, "new-0",
                            "{\"user\": \"new-0\", \"features\": [1, 2".getBytes(StandardCharsets.UTF_8)));
                    producer.flush();
                }

                List<ConsumerRecord<String, String>> probabilities;
                try (TopicReader<String, String> reader = new TopicReader<>(broker.bootstrapServers(),
                        ClicksApp.PROBABILITIES, new StringDeserializer(), new StringDeserializer())) {
                    reader.readAtLeast(truth.size(), Duration.ofSeconds(90));
                    probabilities = reader.readToEnd(Duration.ofSeconds(30));
                }
                JsonSerde<ClickProbability> out = new JsonSerde<>(ClickProbability.class);
                List<ClickProbability> answers = probabilities.stream()
                        .map(r -> out.deserializer().deserialize("", r.value().getBytes(StandardCharsets.UTF_8)))
                        .toList();
                assertThat(answers).extracting(ClickProbability::impression)
                        .as("every impression answered exactly once").doesNotHaveDuplicates()
                        .containsExactlyInAnyOrderElementsOf(truth.keySet());
                assertThat(answers).allSatisfy(p -> {
                    assertThat(p.personal()).as("adapted to the user's clicks").isTrue();
                    assertThat(p.clicksSeen()).isEqualTo(SHOTS);
                    assertThat(p.model()).isEqualTo(base.version());
                });

                // Adapted probabilities are better than the base's cold ones on the same impressions.
                List<float[]> cold = new ArrayList<>();
                List<String> ids = answers.stream().map(ClickProbability::impression).toList();
                ids.forEach(id -> cold.add(asked.get(id)));
                List<float[]> noState = new ArrayList<>();
                noState.add(null);
                List<float[][]> inputs = new ArrayList<>();
                inputs.add(cold.toArray(new float[0][]));
                float[] coldP = model.learner().predict(base, noState, inputs)[0];
                double adaptedLoss = 0;
                double coldLoss = 0;
                for (int i = 0; i < answers.size(); i++) {
                    float y = truth.get(ids.get(i));
                    adaptedLoss += logLoss(answers.get(i).probability(), y) / answers.size();
                    coldLoss += logLoss(coldP[i], y) / answers.size();
                }
                System.out.printf("stream log-loss on %d impressions: adapted %.4f, cold base %.4f%n", answers.size(),
                        adaptedLoss, coldLoss);
                assertThat(adaptedLoss).isLessThan(coldLoss);

                // The application's own processor ran in the same topology on the same answers.
                Set<String> shown = answers.stream().filter(p -> p.probability() > SHOW_ABOVE)
                        .map(ClickProbability::impression).collect(Collectors.toSet());
                assertThat(shown).isNotEmpty();
                try (TopicReader<String, String> reader = new TopicReader<>(broker.bootstrapServers(),
                        ClicksApp.ADS_TO_SHOW, new StringDeserializer(), new StringDeserializer())) {
                    reader.readAtLeast(shown.size(), Duration.ofSeconds(30));
                    List<String> sent = reader.readToEnd(Duration.ofSeconds(30)).stream()
                            .map(ConsumerRecord::value).toList();
                    assertThat(sent).containsExactlyInAnyOrderElementsOf(shown);
                }
                try (TopicReader<byte[], byte[]> reader = new TopicReader<>(broker.bootstrapServers(),
                        ClicksApp.DEAD_LETTERS, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                    DeadLetter letter = AvroCodec.of(DeadLetter.class)
                            .decode(reader.readAtLeast(1, Duration.ofSeconds(30)).get(0).value());
                    assertThat(letter.getReasonCode()).isEqualTo("UNDECODABLE");
                    assertThat(letter.getSourceTopic()).isEqualTo(ClicksApp.CLICKS);
                }
                streams.close(Duration.ofSeconds(30));
            }
        }
    }

    private static double logLoss(double p, float y) {
        double q = Math.min(1 - 1e-7, Math.max(1e-7, p));
        return y == 1f ? -Math.log(q) : -Math.log(1 - q);
    }

    private static double metric(ModelManifest m, String key) {
        Object metrics = m.provenance().get("metrics");
        return ((Number) ((Map<?, ?>) metrics).get(key)).doubleValue();
    }

    private static KafkaProducer<String, byte[]> producer(EmbeddedKafkaBroker broker) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    private static void awaitRunning(KafkaStreams streams) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING) {
            assertThat(System.nanoTime()).as("RUNNING within 60 s, state " + streams.state()).isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}

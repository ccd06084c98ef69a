package io.metastream.server.continual;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.SampleSet;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.RejectReason;
import io.metastream.streams.Topics;
import io.metastream.training.continual.DriftScenario;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The meta-trainer reads the samples topic as the pipeline does: a task whose samples have the
 * wrong feature count, a stray wrong-size sample in a real user's history, a future-dated sample
 * and a key that is not the task id are all refused with the pipeline's reasons, and the round
 * still decides; a flood of new task ids with two samples each, sent last, neither exceeds
 * {@code meta.train.max.tasks.per.round} nor becomes the round's held-out (judging) users.
 */
@Tag("embedded-broker")
class ContinualMetaTrainerInputTest {
    private static final String MODEL = "sine";
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final int USERS = 30;
    private static final int SAMPLES_PER_USER = 8;
    private static final int FLOOD = 60;
    private static final int CAP = 24;

    @TempDir
    Path dir;

    @Test
    void shouldSurviveSamplesThePipelineRefusesAndCapTheRoundAgainstAFloodOfTaskIds() throws Exception {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir.resolve("models"));
        MetaTrainingPlan plan = DriftScenario.plan(100, 3);
        float[] p = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                .train(new SinusoidTasks(), plan, (a, b, c) -> { }).parameters();
        ModelManifest champion = BaseModelArtifacts.publish(store, MODEL, "reptile", plan.architecture(), p,
                plan.adaptation(), Map.of("seed", 3));
        store.setAlias(MODEL, "production", champion.version());

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            Map<String, Integer> partitions = new HashMap<>();
            Topics.defaults().names().forEach(n -> partitions.put(n, n.equals("models") || n.equals("samples") ? 1 : 2));
            broker.createTopics(partitions);
            Map<String, Object> settings = new HashMap<>();
            settings.put(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            settings.put(MetastreamConfig.MODEL_STORE_DIR_CONFIG, dir.resolve("models").toString());
            settings.put(MetastreamConfig.MODEL_NAME_CONFIG, MODEL);
            // One round, when the last new task arrives (the refused "wide" task is never seen).
            settings.put(ContinualTrainingConfig.EVERY_NEW_TASKS_CONFIG, USERS + FLOOD);
            settings.put(ContinualTrainingConfig.MAX_TASKS_PER_ROUND_CONFIG, CAP);
            settings.put(ContinualTrainingConfig.HELD_OUT_TASKS_CONFIG, 8);
            settings.put(ContinualTrainingConfig.MIN_HELD_OUT_TASKS_CONFIG, 4);
            settings.put(ContinualTrainingConfig.ITERATIONS_CONFIG, 20);
            settings.put(ContinualTrainingConfig.SHOTS_CONFIG, 5);
            settings.put(ContinualTrainingConfig.EVAL_SHOTS_CONFIG, 5);
            try (ContinualMetaTrainer trainer = new ContinualMetaTrainer(new MetastreamConfig(settings),
                    new ContinualTrainingConfig(settings), store).start()) {
                produce(broker);
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                while (trainer.decisions().isEmpty()) {
                    assertThat(System.nanoTime()).as("a round decided within 120 s").isLessThan(deadline);
                    Thread.sleep(50);
                }
                ContinualMetaTrainer.Decision d = trainer.decisions().get(0);
                assertThat(d.trainedTasks() + d.heldOutTasks()).isEqualTo(CAP);
                assertThat(d.heldOutTasks()).isEqualTo(8);
                ModelManifest candidate = store.versions(MODEL).stream()
                        .filter(m -> m.version().equals(d.candidateVersion())).findFirst().orElseThrow();
                assertThat(((Number) candidate.provenance().get("held_out_first_seen_from")).longValue())
                        .as("the judging users are users with a history, not the flood sent after them")
                        .isLessThan(USERS);
                assertThat(trainer.refused()).containsEntry(RejectReason.WRONG_DIMENSION, 4L)
                        .containsEntry(RejectReason.FUTURE_TIMESTAMP, 1L)
                        .containsEntry(RejectReason.KEY_MISMATCH, 1L);
                assertThat(trainer.skipped()).isEqualTo(6);
            }
        }
    }

    private static void produce(EmbeddedKafkaBroker broker) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        Random random = new Random(5);
        SinusoidTasks population = new SinusoidTasks();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
                new ByteArraySerializer())) {
            for (int u = 0; u < USERS; u++) {
                SampleSet s = population.sampleTask(random).sample(random, SAMPLES_PER_USER);
                for (int i = 0; i < SAMPLES_PER_USER; i++) {
                    send(producer, "u" + u, "u" + u + "-" + i, List.of(s.features()[i][0]), s.targets()[i],
                            Instant.now());
                }
            }
            for (int i = 0; i < 3; i++) { // a whole task of the wrong size: it alone used to fail every round
                send(producer, "wide", "wide-" + i, List.of(1f, 2f), 0f, Instant.now());
            }
            send(producer, "u3", "u3-wide", List.of(1f, 2f), 0f, Instant.now());
            send(producer, "u4", "u4-future", List.of(1f), 0f, Instant.now().plus(Duration.ofDays(2)));
            producer.send(new ProducerRecord<>("samples", "not-u5", SAMPLES.encode(sample("u5", "u5-key",
                    List.of(1f), 0f, Instant.now()))));
            for (int f = 0; f < FLOOD; f++) {
                for (int i = 0; i < 2; i++) {
                    send(producer, "flood-" + f, "flood-" + f + "-" + i, List.of((float) i), 0f, Instant.now());
                }
            }
        }
    }

    private static void send(KafkaProducer<String, byte[]> producer, String task, String eventId,
            List<Float> features, float target, Instant at) {
        producer.send(new ProducerRecord<>("samples", task, SAMPLES.encode(sample(task, eventId, features, target, at))));
    }

    private static LabelledSample sample(String task, String eventId, List<Float> features, float target, Instant at) {
        return LabelledSample.newBuilder().setEventId(eventId).setTaskId(task).setFeatures(features).setTarget(target)
                .setEventTime(at).build();
    }
}

package io.metastream.server.continual;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.embedded.TopicReader;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.SampleSet;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import io.metastream.training.continual.DriftScenario;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Random;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The meta-trainer on a real broker and model store: users of a drifted population arrive on the
 * samples topic; the round's candidate is published with its offsets, judged on the most recent
 * users and promoted through the models topic; a candidate trained on shuffled labels is kept,
 * refused, and the served base stays. Both decisions are on model-events with their figures.
 */
@Tag("embedded-broker")
class ContinualMetaTrainerTest {
    private static final String MODEL = "sine";
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final int USERS = 240;
    private static final int SAMPLES_PER_USER = 12;

    @TempDir
    Path dir;

    @Test
    void shouldPromoteACandidateThatBeatsTheChampionOnDriftedUsers() throws Exception {
        SinusoidTasks drifted = new SinusoidTasks(1f, 5f, (float) Math.PI, (float) (2 * Math.PI));
        ContinualMetaTrainer.Decision d = runOneRound(drifted, false);
        assertThat(d.promoted()).as(d.verdict().reason()).isTrue();
        assertThat(store().alias(MODEL, "production")).contains(d.candidateVersion());
        assertThat(announcedChange().getVersion()).isEqualTo(d.candidateVersion());
        assertThat(lastDecisionEvent().getStatus()).isEqualTo(ContinualMetaTrainer.PROMOTED);
    }

    @Test
    void shouldRefuseACandidateTrainedOnShuffledTargetsAndKeepTheChampion() throws Exception {
        ContinualMetaTrainer.Decision d = runOneRound(new SinusoidTasks(), true);
        assertThat(d.promoted()).as(d.verdict().reason()).isFalse();
        assertThat(store().alias(MODEL, "production")).contains(d.championVersion());
        assertThat(store().alias(MODEL, ContinualMetaTrainer.CANDIDATE_ALIAS)).contains(d.candidateVersion());
        ModelSwapEvent event = lastDecisionEvent();
        assertThat(event.getStatus()).isEqualTo(ContinualMetaTrainer.REFUSED);
        assertThat(event.getToVersion()).isEqualTo(d.candidateVersion());
        assertThat(event.getReason()).contains("difference_ci95");
    }

    private EmbeddedKafkaBroker broker;

    private LocalDirectoryModelStore store() {
        return new LocalDirectoryModelStore(dir.resolve("models"));
    }

    @Test
    void shouldRollBackAVersionThatRegressesOnTheUsersWhoCameAfterIt() throws Exception {
        ContinualMetaTrainer.Decision d = runOneRound(new SinusoidTasks(), false, true);
        assertThat(trainer.liveChecks()).hasSize(1);
        ContinualMetaTrainer.LiveCheck check = trainer.liveChecks().get(0);
        assertThat(check.rolledBack()).as(check.verdict().reason()).isTrue();
        assertThat(check.against()).isEqualTo(d.championVersion());
        assertThat(store().alias(MODEL, "production")).as("back on the version before the regression, or on a "
                + "candidate that beat it").isNotEqualTo(Optional.of(check.checked()));
        assertThat(lastEvents).extracting(ModelSwapEvent::getStatus).contains(ContinualMetaTrainer.ROLLED_BACK);
        assertThat(lastChanges).extracting(ModelChange::getAction).contains("rollback");
    }

    private ContinualMetaTrainer trainer;

    private ContinualMetaTrainer.Decision runOneRound(SinusoidTasks population, boolean shuffle) throws Exception {
        return runOneRound(population, shuffle, false);
    }

    /**
     * @param regress have the trainer promote a barely trained version once it runs, before the
     *     users arrive: a release that makes things worse
     */
    private ContinualMetaTrainer.Decision runOneRound(SinusoidTasks population, boolean shuffle, boolean regress)
            throws Exception {
        MetaTrainingPlan plan = DriftScenario.plan(1500, 3);
        float[] p = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                .train(new SinusoidTasks(), plan, (a, b, c) -> { }).parameters();
        ModelManifest champion = BaseModelArtifacts.publish(store(), MODEL, "reptile", plan.architecture(), p,
                plan.adaptation(), Map.of("seed", 3));
        store().setAlias(MODEL, "production", champion.version());

        broker = EmbeddedKafkaBroker.start(null);
        try {
            Map<String, Integer> partitions = new HashMap<>();
            // One samples partition: the trainer meets users in the order they were sent, so which
            // users are held out (the most recent) is the same on every run.
            Topics.defaults().names().forEach(n -> partitions.put(n, n.equals("models") || n.equals("samples") ? 1 : 2));
            broker.createTopics(partitions);
            Map<String, Object> settings = new HashMap<>();
            settings.put(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
            settings.put(MetastreamConfig.MODEL_STORE_DIR_CONFIG, dir.resolve("models").toString());
            settings.put(MetastreamConfig.MODEL_NAME_CONFIG, MODEL);
            settings.put(ContinualTrainingConfig.EVERY_NEW_TASKS_CONFIG, USERS);
            settings.put(ContinualTrainingConfig.HELD_OUT_TASKS_CONFIG, 40);
            settings.put(ContinualTrainingConfig.MIN_HELD_OUT_TASKS_CONFIG, 20);
            settings.put(ContinualTrainingConfig.ITERATIONS_CONFIG, 300);
            settings.put(ContinualTrainingConfig.OUTER_STEP_CONFIG, 0.002);
            try (ContinualMetaTrainer trainer = new ContinualMetaTrainer(new MetastreamConfig(settings),
                    new ContinualTrainingConfig(settings), store()).start()) {
                this.trainer = trainer;
                if (regress) {
                    float[] weak = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                            .train(new SinusoidTasks(), plan.withIterations(5).withSeed(4), (a, b, c) -> { })
                            .parameters();
                    ModelManifest release = BaseModelArtifacts.publish(store(), MODEL, "reptile", plan.architecture(),
                            weak, plan.adaptation(), Map.of("seed", 4));
                    // The trainer's own promotion (as a won round makes it): only those are live-checked.
                    assertThat(trainer.promote(release.version(), champion.version())).isNull();
                }
                produce(population, shuffle);
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                while (trainer.decisions().isEmpty()) {
                    assertThat(System.nanoTime()).as("a round decided within 120 s").isLessThan(deadline);
                    Thread.sleep(50);
                }
                ContinualMetaTrainer.Decision d = trainer.decisions().get(0);
                // The round starts on the last user's first sample: one sample is too few to train
                // or judge on, so that user waits for the next round.
                assertThat(d.trainedTasks() + d.heldOutTasks()).isEqualTo(USERS - 1);
                assertThat(d.heldOutTasks()).isEqualTo(40);
                ModelManifest candidate = store().versions(MODEL).stream()
                        .filter(m -> m.version().equals(d.candidateVersion())).findFirst().orElseThrow();
                assertThat(candidate.provenance()).containsEntry("parent_version", d.championVersion())
                        .containsKeys("offsets", "figures", "decision");
                @SuppressWarnings("unchecked")
                Map<String, Object> offsets = (Map<String, Object>) candidate.provenance().get("offsets");
                long trainedThrough = offsets.values().stream().mapToLong(o -> ((Number) o).longValue()).sum();
                assertThat(trainedThrough).as("offsets it trained on")
                        .isEqualTo((long) (USERS - 1) * SAMPLES_PER_USER + 1);
                return d;
            }
        } finally {
            lastEvents = readEvents();
            lastChanges = readChanges();
            broker.close();
        }
    }

    private List<ModelSwapEvent> lastEvents;
    private List<ModelChange> lastChanges;

    private ModelSwapEvent lastDecisionEvent() {
        return lastEvents.get(lastEvents.size() - 1);
    }

    private ModelChange announcedChange() {
        return lastChanges.get(lastChanges.size() - 1);
    }

    private List<ModelSwapEvent> readEvents() {
        Topics t = Topics.defaults();
        try (TopicReader<String, ModelSwapEvent> r = new TopicReader<>(broker.bootstrapServers(),
                t.modelEvents().name(), new StringDeserializer(), t.modelEvents().valueSerde().deserializer())) {
            return r.readAtLeast(1, Duration.ofSeconds(30)).stream().map(c -> c.value()).toList();
        }
    }

    private List<ModelChange> readChanges() {
        Topics t = Topics.defaults();
        try (TopicReader<String, ModelChange> r = new TopicReader<>(broker.bootstrapServers(), t.models().name(),
                new StringDeserializer(), t.models().valueSerde().deserializer())) {
            return r.readToEnd(Duration.ofSeconds(30)).stream().map(c -> c.value()).toList();
        }
    }

    private void produce(SinusoidTasks population, boolean shuffle) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        Random random = new Random(5);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
                new ByteArraySerializer())) {
            for (int u = 0; u < USERS; u++) {
                String task = "u" + u;
                SampleSet s = population.sampleTask(random).sample(random, SAMPLES_PER_USER);
                float[] y = s.targets().clone();
                if (shuffle) {
                    for (int i = y.length - 1; i > 0; i--) {
                        int j = random.nextInt(i + 1);
                        float tmp = y[i];
                        y[i] = y[j];
                        y[j] = tmp;
                    }
                }
                for (int i = 0; i < SAMPLES_PER_USER; i++) {
                    producer.send(new ProducerRecord<>("samples", task, SAMPLES.encode(LabelledSample.newBuilder()
                            .setEventId(task + "-" + i).setTaskId(task).setFeatures(List.of(s.features()[i][0]))
                            .setTarget(y[i]).setEventTime(Instant.now()).build())));
                }
            }
        }
    }
}

package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.metastream.learn.SampleSet;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.state.SupportSet;
import io.metastream.streams.internals.AdaptedStateCodec;
import io.metastream.streams.internals.Floats;
import io.metastream.streams.internals.PackedSupportSet;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetastreamTopologyTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    /** Past query.sample.wait.ms: a query with no later sample on its partition is answered by then. */
    private static final Duration SAMPLE_WAIT = Duration.ofMillis(300);

    @TempDir
    Path stateDir;
    private final Topics topics = Topics.defaults();
    private ActiveModel model;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> samples;
    private TestInputTopic<byte[], byte[]> queries;
    private TestOutputTopic<String, Prediction> predictions;
    private TestOutputTopic<String, AdaptationEvent> adaptations;
    private TestOutputTopic<String, DeadLetter> deadLetters;
    private Instant clock = Instant.parse("2026-01-01T00:00:00Z");

    @BeforeEach
    void start() {
        model = TestModels.activeQuickBase();
        startWith(live(TopologySettings.of(20, 200, 256, true, 20).withQuerySampleWaitMs(250)));
    }

    /**
     * The samples' clock stands months behind the driver's wall clock, which would read as a
     * backlog and defer rounds (AdaptationsTest covers that): these tests' traffic is live.
     */
    private static TopologySettings live(TopologySettings settings) {
        return settings.withAdaptationBacklogLagMs(0);
    }

    /** (Re)starts the driver on the same state directory with other settings. */
    private void startWith(TopologySettings settings) {
        startWith(settings, AdaptationEngine.onCallingThread(model.learner(), settings.adaptationBatchMax()));
    }

    /** (Re)starts the driver with background adaptation on {@code engine}. */
    private void startWith(TopologySettings settings, AdaptationEngine engine) {
        if (driver != null) {
            driver.close();
        }
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "topology-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        driver = new TopologyTestDriver(
                MetastreamTopology.build(topics, settings, model, engine), props);
        samples = driver.createInputTopic("samples", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        queries = driver.createInputTopic("queries", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        predictions = driver.createOutputTopic("predictions", Serdes.String().deserializer(),
                topics.predictions().valueSerde().deserializer());
        adaptations = driver.createOutputTopic("adaptations", Serdes.String().deserializer(),
                topics.adaptations().valueSerde().deserializer());
        deadLetters = driver.createOutputTopic("dead-letters", Serdes.String().deserializer(),
                topics.deadLetters().valueSerde().deserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
        model.close();
    }

    private void sample(String task, String eventId, float x, float y) {
        clock = clock.plusMillis(1);
        samples.pipeInput(key(task), SAMPLES.encode(LabelledSample.newBuilder().setEventId(eventId).setTaskId(task)
                .setFeatures(List.of(x)).setTarget(y).setEventTime(clock).build()), clock);
    }

    private void query(String task, String queryId, float x) {
        clock = clock.plusMillis(1);
        queries.pipeInput(key(task), QUERIES.encode(PredictionRequest.newBuilder().setQueryId(queryId).setTaskId(task)
                .setFeatures(List.of(x)).setEventTime(clock).build()), clock);
    }

    private static byte[] key(String task) {
        return task.getBytes(StandardCharsets.UTF_8);
    }

    private float basePrediction(float x) {
        return model.learner().predict(model.base(), Collections.singletonList(null),
                List.<float[][]>of(new float[][] {{x}}))[0][0];
    }

    @Test
    void shouldKeepATaskThatGotSamplesDuringASharedEngineRoundDirtyAndAdaptItAgain() {
        // A hand-stepped engine: a round stays in flight, as on a shared engine's thread, until stepped.
        RecordingLearner recording = RecordingLearner.of(model.learner());
        try (AdaptationEngine engine = AdaptationEngine.handStepped(recording, 256)) {
            startWith(live(TopologySettings.of(20, 200, 256, true, 20).withQuerySampleWaitMs(250)), engine);
            KeyValueStore<String, Long> dirty = driver.getKeyValueStore(StoreNames.DIRTY_TASKS);
            sample("user-1", "e0", 0.5f, 1f);
            sample("user-1", "e1", 1.5f, 2f);
            driver.advanceWallClockTime(Duration.ofMillis(200));
            assertThat(recording.callSizes).as("round 1 waits in the engine").isEmpty();
            sample("user-1", "e2", 2.5f, 3f);
            assertThat(step(recording, engine)).as("round 1 reached the engine").isEqualTo(1);
            assertThat(engine.tasksDelivered()).isEqualTo(1);
            // The stream thread went on meanwhile; it records round 1 on its next punctuation.
            assertThat(adaptations.isEmpty()).isTrue();
            driver.advanceWallClockTime(Duration.ofMillis(20));
            AdaptationEvent first = adaptations.readValue();
            assertThat(first.getSupportSize()).isEqualTo(2);
            assertThat(dirty.get("user-1")).as("e2 came after round 1 read the support set").isNotNull();

            driver.advanceWallClockTime(Duration.ofMillis(200));
            assertThat(step(recording, engine)).isEqualTo(1);
            assertThat(engine.tasksDelivered()).isEqualTo(2);
            driver.advanceWallClockTime(Duration.ofMillis(20));
            AdaptationEvent second = adaptations.readValue();
            assertThat(second.getSupportSize()).isEqualTo(3);
            assertThat(dirty.get("user-1")).isNull();
            assertThat(recording.threads).containsOnly(AdaptationEngine.THREAD_NAME);

            // The stored state is the one adapting to all three samples gives.
            query("user-1", "q", 0.25f);
            driver.advanceWallClockTime(SAMPLE_WAIT);
            SampleSet all = new SampleSet(new float[][] {{0.5f}, {1.5f}, {2.5f}}, new float[] {1f, 2f, 3f});
            float[] state = model.learner().adapt(model.base(), List.of(all)).tasks().get(0).state();
            float expected = model.learner().predict(model.base(), List.of(state),
                    List.<float[][]>of(new float[][] {{0.25f}}))[0][0];
            Prediction p = predictions.readValue();
            assertThat(p.getSupportSize()).isEqualTo(3);
            assertThat(p.getValue()).isCloseTo(expected, within(1e-2f));
            assertThat(recording.threads).as("no query-time adaptation was needed").containsOnly(
                    AdaptationEngine.THREAD_NAME);
        }
    }

    /** Runs the rounds queued on {@code engine}, its learner calls recorded as the engine thread's. */
    private static int step(RecordingLearner learner, AdaptationEngine engine) {
        return learner.as(AdaptationEngine.THREAD_NAME, engine::runQueued);
    }

    @Test
    void shouldAnswerWithAdaptedStateAfterSamplesArrive() {
        for (int i = 0; i < 10; i++) {
            float x = -5 + i;
            sample("user-1", "e" + i, x, (float) (3 * Math.sin(x + 1)));
        }
        query("user-1", "q1", 0.5f);
        assertThat(predictions.isEmpty()).as("a query for a task with new samples waits for the batch").isTrue();
        driver.advanceWallClockTime(SAMPLE_WAIT);
        Prediction p = predictions.readValue();
        assertThat(p.getQueryId()).isEqualTo("q1");
        assertThat(p.getTaskId()).isEqualTo("user-1");
        assertThat(p.getAdapted()).isTrue();
        assertThat(p.getSupportSize()).isEqualTo(10);
        assertThat(p.getModelVersion()).isEqualTo("sinusoid@test");
        assertThat(p.getValue()).isNotCloseTo(basePrediction(0.5f), within(1e-4f));
        AdaptationEvent event = adaptations.readValue();
        assertThat(event.getTaskId()).isEqualTo("user-1");
        assertThat(event.getSupportSize()).isEqualTo(10);
        assertThat(event.getLossAfter()).isLessThan(event.getLossBefore());
        assertThat(predictions.isEmpty()).isTrue();
    }

    @Test
    void shouldTellWhichSamplesTheAnsweringStateIncludes() {
        sample("user-1", "e1", 1f, 2f);
        sample("user-1", "e2", 2f, 3f);
        Instant newest = clock;
        driver.advanceWallClockTime(Duration.ofMillis(250));
        assertThat(adaptations.readValue().getNewestSampleTime()).isEqualTo(newest);
        query("user-1", "q1", 0.5f);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        Prediction p = predictions.readValue();
        assertThat(p.getAdapted()).isTrue();
        assertThat(p.getAdaptedThrough()).isEqualTo(newest);
        query("cold", "q2", 0.5f);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        assertThat(predictions.readValue().getAdaptedThrough()).as("the base answered").isEqualTo(Instant.EPOCH);
    }

    @Test
    void shouldReadaptInTheBackgroundATaskRestoredWithSamplesButNoState() {
        for (int i = 0; i < 5; i++) {
            sample("user-1", "e" + i, -2 + i, (float) Math.sin(i));
        }
        driver.advanceWallClockTime(Duration.ofMillis(250));
        KeyValueStore<String, io.metastream.schemas.state.AdaptedTask> adapted =
                driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        io.metastream.schemas.state.AdaptedTask before = adapted.get("user-1");
        assertThat(before).isNotNull();
        PackedSupportSet set = driver.<String, PackedSupportSet>getKeyValueStore(StoreNames.SUPPORT_SETS)
                .get("user-1");
        // What a restore elsewhere leaves: the support set (changelogged), no state and no dirty mark
        // (local). The driver starts on empty stores; the set is written back as a restore would.
        startWith(live(TopologySettings.of(20, 200, 256, true, 20).withQuerySampleWaitMs(250)));
        driver.<String, PackedSupportSet>getKeyValueStore(StoreNames.SUPPORT_SETS).put("user-1", set);
        adapted = driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        assertThat(adapted.get("user-1")).isNull();

        driver.advanceWallClockTime(Duration.ofMillis(1_000)); // the walk over the support sets
        driver.advanceWallClockTime(Duration.ofMillis(250)); // the round it fed
        io.metastream.schemas.state.AdaptedTask after = adapted.get("user-1");
        assertThat(after).as("re-adapted with no new sample and no query").isNotNull();
        assertThat(after.getSupportSize()).isEqualTo(5);
        assertThat(after.getState()).as("the same state as before the loss").isEqualTo(before.getState());
        assertThat(adaptations.readValuesToList()).extracting(AdaptationEvent::getTaskId).containsExactly("user-1");
    }

    @Test
    void shouldKeepSamplesButAnswerWithTheBaseWhenAdaptationIsOff() {
        TopologySettings on = live(TopologySettings.of(20, 200, 256, true, 20).withQuerySampleWaitMs(250));
        startWith(new TopologySettings(on.supportMaxSize(), on.adaptationIntervalMs(), on.adaptationBatchMax(),
                on.adaptOnQuery(), on.queryBatchIntervalMs(), on.querySampleWaitMs(), on.queryMaxWaitMs(), on.limits(), false,
                on.stateEncoding(), on.adaptationBacklogLagMs()));
        for (int i = 0; i < 10; i++) {
            sample("user-1", "e" + i, -5 + i, (float) (3 * Math.sin(i)));
        }
        query("user-1", "q1", 0.5f);
        sample("user-1", "after-q1", 0f, 1f); // a later sample already in: the as-of path
        driver.advanceWallClockTime(SAMPLE_WAIT);
        Prediction p = predictions.readValue();
        assertThat(p.getAdapted()).isFalse();
        assertThat(p.getValue()).isEqualTo(basePrediction(0.5f));
        assertThat(adaptations.isEmpty()).isTrue();
        KeyValueStore<String, PackedSupportSet> sets = driver.getKeyValueStore(StoreNames.SUPPORT_SETS);
        assertThat(sets.get("user-1").toAvro().getPoints()).hasSize(11);
        KeyValueStore<String, Long> dirty = driver.getKeyValueStore(StoreNames.DIRTY_TASKS);
        assertThat(dirty.get("user-1")).as("nothing waits for an adaptation that never comes").isNull();
    }

    @Test
    void shouldServeAStateWrittenAsFloat32WhileWritingInt8Delta() {
        sample("user-1", "e1", 1f, 2f);
        sample("user-1", "e2", 2f, 3f);
        driver.advanceWallClockTime(Duration.ofMillis(250));
        KeyValueStore<String, io.metastream.schemas.state.AdaptedTask> adapted =
                driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        io.metastream.schemas.state.AdaptedTask written = adapted.get("user-1");
        assertThat(written.getStateEncoding()).isEqualTo(AdaptedStateCodec.INT8_DELTA);
        float[] weights = AdaptedStateCodec.decode(written.getState(), written.getStateEncoding(),
                model.base().parameters());
        // What a v1 instance wrote: plain float32, no encoding field (so its default, 0).
        written.setState(Floats.toBytes(weights));
        written.setStateEncoding(AdaptedStateCodec.FLOAT32);
        adapted.put("user-1", written);
        query("user-1", "q1", 0.5f);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        float expected = model.learner().predict(model.base(), List.of(weights),
                List.<float[][]>of(new float[][] {{0.5f}}))[0][0];
        assertThat(predictions.readValue().getValue()).isEqualTo(expected);
    }

    @Test
    void shouldHoldAQueryUntilTheSamplesBeforeItHaveBeenProcessed() {
        Instant t = clock.plusSeconds(10);
        queries.pipeInput(key("u"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("early").setTaskId("u")
                .setFeatures(List.of(0f)).setEventTime(t).build()), t);
        // Produced before the query but processed after it, as happens across two topics.
        samples.pipeInput(key("u"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("s1").setTaskId("u")
                .setFeatures(List.of(1f)).setTarget(2f).setEventTime(t.minusMillis(5)).build()), t.minusMillis(5));
        driver.advanceWallClockTime(Duration.ofMillis(40));
        assertThat(predictions.isEmpty()).as("samples are only known up to before the query").isTrue();
        samples.pipeInput(key("other"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("s2").setTaskId("other")
                .setFeatures(List.of(1f)).setTarget(2f).setEventTime(t.plusMillis(1)).build()), t.plusMillis(1));
        driver.advanceWallClockTime(Duration.ofMillis(40));
        Prediction p = predictions.readValue();
        assertThat(p.getQueryId()).isEqualTo("early");
        assertThat(p.getSupportSize()).as("the earlier sample is in").isEqualTo(1);
    }

    /**
     * The prequential test: each rating is asked about just before it is sent. A query must be
     * answered from the samples before it, never from the one that follows it, even when that
     * sample is processed first.
     */
    @Test
    void shouldAnswerAQueryAsOfItsTimestampWhenLaterSamplesAreAlreadyIn() {
        sample("p", "s0", -2f, 1f);
        sample("p", "s1", -1f, 2f);
        Instant s1 = clock;
        query("p", "before-s2", 0.5f);
        sample("p", "s2", 0f, 3f);
        Instant s2 = clock;
        query("p", "before-s3", 0.5f);
        sample("p", "s3", 1f, 4f);
        Instant s3 = clock;
        query("p", "after-all", 0.5f);
        sample("other", "later", 0f, 0f); // moves the samples watermark past every query
        driver.advanceWallClockTime(Duration.ofMillis(40));
        java.util.Map<String, Prediction> byId = new java.util.HashMap<>();
        predictions.readValuesToList().forEach(p -> byId.put(p.getQueryId(), p));
        assertThat(byId.get("before-s2").getSupportSize()).isEqualTo(2);
        assertThat(byId.get("before-s3").getSupportSize()).isEqualTo(3);
        assertThat(byId.get("after-all").getSupportSize()).isEqualTo(4);
        assertThat(byId.get("before-s2").getAdaptedThrough()).isEqualTo(s1);
        assertThat(byId.get("before-s3").getAdaptedThrough()).isEqualTo(s2);
        assertThat(byId.get("after-all").getAdaptedThrough()).isEqualTo(s3);
        // Each answer is exactly the adaptation to its own prefix.
        io.metastream.learn.SampleSet two = new io.metastream.learn.SampleSet(new float[][] {{-2f}, {-1f}},
                new float[] {1f, 2f});
        float[] state = model.learner().adapt(model.base(), List.of(two)).tasks().get(0).state();
        float expected = model.learner().predict(model.base(), List.of(state), List.<float[][]>of(new float[][] {{0.5f}}))[0][0];
        assertThat(byId.get("before-s2").getValue()).isCloseTo(expected, within(1e-5f));
        assertThat(byId.get("before-s2").getValue()).isNotCloseTo(byId.get("after-all").getValue(), within(1e-4f));
    }

    @Test
    void shouldAnswerAsOfTheQueryEvenWhenTheLaterSampleIsAlreadyAdaptedIn() {
        // Background rounds every 20 ms, queries every 200 ms: the task is adapted, and clean, first.
        startWith(live(TopologySettings.of(20, 20, 256, true, 200).withQuerySampleWaitMs(250)));
        sample("p", "s0", -2f, 1f);
        sample("p", "s1", -1f, 2f);
        query("p", "before-s2", 0.5f);
        sample("p", "s2", 0f, 3f);
        driver.advanceWallClockTime(Duration.ofMillis(20));
        assertThat(adaptations.readValue().getSupportSize()).isEqualTo(3);
        driver.advanceWallClockTime(Duration.ofMillis(200));
        Prediction p = predictions.readValue();
        assertThat(p.getSupportSize()).isEqualTo(2);
        io.metastream.learn.SampleSet two = new io.metastream.learn.SampleSet(new float[][] {{-2f}, {-1f}},
                new float[] {1f, 2f});
        float[] state = model.learner().adapt(model.base(), List.of(two)).tasks().get(0).state();
        float expected = model.learner().predict(model.base(), List.of(state),
                List.<float[][]>of(new float[][] {{0.5f}}))[0][0];
        assertThat(p.getValue()).isCloseTo(expected, within(1e-5f));
    }

    /**
     * Read-your-writes: a query that says how many samples its producer sent before it is answered
     * once its task has taken in that many, with no later sample on the partition and well before
     * query.sample.wait.ms. A plain query beside it waits for the timestamp rule.
     */
    @Test
    void shouldAnswerAQueryOnceItsTaskHasTakenInTheSamplesItCounts() {
        sample("u", "s1", -1f, 1f);
        sample("u", "s2", 0f, 2f);
        Instant t = clock.plusSeconds(1);
        queries.pipeInput(key("u"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("two").setTaskId("u")
                .setFeatures(List.of(0.5f)).setEventTime(t).setAfterSamples(2L).build()), t);
        queries.pipeInput(key("u"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("three").setTaskId("u")
                .setFeatures(List.of(0.5f)).setEventTime(t).setAfterSamples(3L).build()), t);
        queries.pipeInput(key("u"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("plain").setTaskId("u")
                .setFeatures(List.of(0.5f)).setEventTime(t).build()), t);
        driver.advanceWallClockTime(Duration.ofMillis(40));
        List<Prediction> first = predictions.readValuesToList();
        assertThat(first).extracting(Prediction::getQueryId).containsExactly("two");
        assertThat(first.get(0).getSupportSize()).isEqualTo(2);

        // The third sample was produced before the queries, with an earlier timestamp, and is
        // processed after them: it does not move the samples past the queries' time.
        samples.pipeInput(key("u"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("s3").setTaskId("u")
                .setFeatures(List.of(1f)).setTarget(3f).setEventTime(t.minusMillis(5)).build()), t.minusMillis(5));
        driver.advanceWallClockTime(Duration.ofMillis(40));
        List<Prediction> second = predictions.readValuesToList();
        assertThat(second).extracting(Prediction::getQueryId).containsExactly("three");
        assertThat(second.get(0).getSupportSize()).isEqualTo(3);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        assertThat(predictions.readValuesToList()).extracting(Prediction::getQueryId)
                .as("the plain query, after the bound").containsExactly("plain");
    }

    /**
     * A read-your-writes query of a task whose support set cannot be read (a newer build's, or
     * corrupt) is isolated as a dead letter once; its neighbours are answered, and later ticks
     * neither fail again nor hold other queries.
     */
    @Test
    void shouldIsolateACountedQueryWhoseSupportSetCannotBeRead() {
        sample("good", "g1", 1f, 1f);
        sample("bad", "b1", 1f, 1f);
        KeyValueStore<String, PackedSupportSet> sets = driver.getKeyValueStore(StoreNames.SUPPORT_SETS);
        PackedSupportSet bad = sets.get("bad");
        // The serializer hands out the set's own bytes: a version byte no build reads, stored as is.
        PackedSupportSet.SERDE.serializer().serialize("support-sets", bad)[1] = 99;
        sets.put("bad", bad);
        Instant t = clock.plusSeconds(1);
        for (String task : List.of("good", "bad")) {
            queries.pipeInput(key(task), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("q-" + task)
                    .setTaskId(task).setFeatures(List.of(0f)).setEventTime(t).setAfterSamples(1L).build()), t);
        }
        driver.advanceWallClockTime(Duration.ofMillis(40));
        assertThat(predictions.readValuesToList()).extracting(Prediction::getQueryId).containsExactly("q-good");
        DeadLetter letter = deadLetters.readValue();
        assertThat(letter.getReasonCode()).isEqualTo("PROCESSING_ERROR");
        assertThat(QUERIES.decode(letter.getValue().array()).getQueryId()).isEqualTo("q-bad");
        query("good", "q-later", 0f);
        sample("good", "g2", 2f, 2f);
        driver.advanceWallClockTime(Duration.ofMillis(40));
        assertThat(predictions.readValuesToList()).extracting(Prediction::getQueryId).containsExactly("q-later");
        assertThat(deadLetters.isEmpty()).as("the unreadable task is not retried on every tick").isTrue();
    }

    @Test
    void shouldDeadLetterANegativeSampleCount() {
        queries.pipeInput(key("u"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("neg").setTaskId("u")
                .setFeatures(List.of(0f)).setEventTime(clock).setAfterSamples(-1L).build()), clock);
        query("u", "fine", 0f);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertThat(letters).extracting(DeadLetter::getReasonCode).containsExactly("NEGATIVE_AFTER_SAMPLES");
        assertThat(letters.get(0).getReason()).contains("-1");
        assertThat(predictions.readValuesToList()).extracting(Prediction::getQueryId).containsExactly("fine");
    }

    @Test
    void shouldAnswerAfterTheBoundWhenNoLaterSampleComes() {
        query("quiet", "q", 0f);
        driver.advanceWallClockTime(Duration.ofMillis(100));
        assertThat(predictions.isEmpty()).isTrue();
        driver.advanceWallClockTime(Duration.ofMillis(200));
        assertThat(predictions.readValue().getQueryId()).isEqualTo("q");
    }

    @Test
    void shouldAnswerColdTaskWithTheBase() {
        query("nobody", "q-cold", 1.25f);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        Prediction p = predictions.readValue();
        assertThat(p.getAdapted()).isFalse();
        assertThat(p.getSupportSize()).isZero();
        assertThat(p.getValue()).isCloseTo(basePrediction(1.25f), within(1e-6f));
        assertThat(adaptations.isEmpty()).isTrue();
    }

    @Test
    void shouldAdaptAllDirtyTasksInOneBatchOnThePunctuator() {
        for (int t = 0; t < 5; t++) {
            for (int i = 0; i < 3; i++) {
                sample("task-" + t, "e" + t + "-" + i, i, t);
            }
        }
        assertThat(adaptations.isEmpty()).isTrue();
        driver.advanceWallClockTime(Duration.ofMillis(250));
        List<AdaptationEvent> events = adaptations.readValuesToList();
        assertThat(events).hasSize(5);
        assertThat(events).allSatisfy(e -> {
            assertThat(e.getBatchSize()).isEqualTo(5);
            assertThat(e.getSupportSize()).isEqualTo(3);
        });
        KeyValueStore<String, Long> dirty = driver.getKeyValueStore(StoreNames.DIRTY_TASKS);
        assertThat(dirty.approximateNumEntries()).isZero();
        driver.advanceWallClockTime(Duration.ofMillis(250));
        assertThat(adaptations.isEmpty()).as("clean tasks are not re-adapted").isTrue();
    }

    @Test
    void shouldAnswerEveryWaitingQueryOnceWithOneBatchedAdaptation() {
        for (int t = 0; t < 4; t++) {
            for (int i = 0; i < 5; i++) {
                sample("u" + t, "e" + t + i, i - 2f, t);
            }
            query("u" + t, "q" + t + "a", 0f);
            query("u" + t, "q" + t + "b", 1f);
        }
        assertThat(predictions.isEmpty()).isTrue();
        driver.advanceWallClockTime(SAMPLE_WAIT);
        List<Prediction> answered = predictions.readValuesToList();
        assertThat(answered).extracting(Prediction::getQueryId)
                .containsExactlyInAnyOrder("q0a", "q0b", "q1a", "q1b", "q2a", "q2b", "q3a", "q3b");
        assertThat(answered).allSatisfy(p -> {
            assertThat(p.getAdapted()).isTrue();
            assertThat(p.getSupportSize()).isEqualTo(5);
        });
        assertThat(adaptations.readValuesToList()).hasSize(4).allSatisfy(e -> assertThat(e.getBatchSize()).isEqualTo(4));
        KeyValueStore<String, ?> pending = driver.getKeyValueStore(StoreNames.PENDING_QUERIES);
        assertThat(pending.approximateNumEntries()).isZero();
        query("u0", "q0c", 2f);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        Prediction clean = predictions.readValue();
        assertThat(clean.getQueryId()).isEqualTo("q0c");
        assertThat(clean.getSupportSize()).isEqualTo(5);
        assertThat(adaptations.isEmpty()).as("a clean task is not adapted again").isTrue();
    }

    @Test
    void shouldIgnoreRedeliveredSamplesAndBoundTheSupportSet() {
        for (int i = 0; i < 30; i++) {
            sample("busy", "e" + i, i % 10, 1f);
        }
        sample("busy", "e29", 0f, 99f);
        KeyValueStore<String, PackedSupportSet> sets = driver.getKeyValueStore(StoreNames.SUPPORT_SETS);
        SupportSet set = sets.get("busy").toAvro();
        assertThat(set.getPoints()).hasSize(20);
        assertThat(set.getTotalSeen()).isEqualTo(30);
        assertThat(set.getPoints().get(0).getEventId()).isEqualTo("e10");
        assertThat(set.getPoints()).noneMatch(p -> p.getTarget() == 99f);
    }

    @Test
    void shouldKeepTheSupportSetWhenAnEvictedSampleIsRedelivered() {
        for (int i = 0; i < 25; i++) {
            sample("late", "e" + i, i, 1f);
        }
        KeyValueStore<String, PackedSupportSet> sets = driver.getKeyValueStore(StoreNames.SUPPORT_SETS);
        SupportSet before = sets.get("late").toAvro();
        samples.pipeInput(key("late"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("e2").setTaskId("late")
                .setFeatures(List.of(2f)).setTarget(1f).setEventTime(Instant.parse("2026-01-01T00:00:00.003Z"))
                .build()), clock);
        assertThat(sets.get("late").toAvro().getPoints()).isEqualTo(before.getPoints());
        assertThat(sets.get("late").toAvro().getTotalSeen()).isEqualTo(25);
    }

    @Test
    void shouldExpireIdleTasksWithTheirAdaptedState() {
        sample("old", "o1", 1f, 1f);
        driver.advanceWallClockTime(Duration.ofMillis(250));
        KeyValueStore<String, PackedSupportSet> sets = driver.getKeyValueStore(StoreNames.SUPPORT_SETS);
        KeyValueStore<String, ?> adapted = driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        assertThat(adapted.get("old")).isNotNull();
        driver.advanceWallClockTime(Duration.ofDays(6));
        sample("fresh", "f1", 1f, 1f);
        driver.advanceWallClockTime(Duration.ofDays(1).plusMinutes(2));
        assertThat(sets.get("old")).as("idle for 7 days").isNull();
        assertThat(adapted.get("old")).isNull();
        assertThat(sets.get("fresh")).as("idle for 1 day").isNotNull();
    }

    @Test
    void shouldIsolateAQueryWhoseStateIsCorruptAndAnswerTheRestOfItsBatch() {
        sample("good", "g1", 1f, 1f);
        sample("bad", "b1", 1f, 1f);
        driver.advanceWallClockTime(Duration.ofMillis(250));
        KeyValueStore<String, io.metastream.schemas.state.AdaptedTask> adapted =
                driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        io.metastream.schemas.state.AdaptedTask state = adapted.get("bad");
        state.setState(java.nio.ByteBuffer.wrap(new byte[12]));
        adapted.put("bad", state);
        query("good", "q-good", 0f);
        query("bad", "q-bad", 0f);
        driver.advanceWallClockTime(SAMPLE_WAIT);
        assertThat(predictions.readValuesToList()).extracting(Prediction::getQueryId).containsExactly("q-good");
        DeadLetter letter = deadLetters.readValue();
        assertThat(letter.getReasonCode()).isEqualTo("PROCESSING_ERROR");
        assertThat(letter.getReason()).contains("q-bad");
        assertThat(QUERIES.decode(letter.getValue().array()).getQueryId()).isEqualTo("q-bad");
        driver.advanceWallClockTime(SAMPLE_WAIT);
        assertThat(deadLetters.isEmpty()).as("the poisoned query is not retried forever").isTrue();
    }

    @Test
    void shouldDeadLetterOversizedAndFutureRecords() {
        byte[] huge = new byte[64 * 1024 + 1];
        samples.pipeInput(key("t"), huge, clock);
        queries.pipeInput(key("t"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("f").setTaskId("t")
                .setFeatures(List.of(1f)).setEventTime(Instant.now().plus(Duration.ofDays(2))).build()), clock);
        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertThat(letters).extracting(DeadLetter::getReasonCode).containsExactly("OVERSIZED", "FUTURE_TIMESTAMP");
        assertThat(letters.get(0).getValue().remaining()).as("the kept bytes are capped").isEqualTo(64 * 1024);
        assertThat(letters.get(0).getReason()).contains("value cut from 65537");
    }

    @Test
    void shouldSendBadRecordsToDeadLettersAndKeepServing() {
        samples.pipeInput(key("t"), "not avro".getBytes(StandardCharsets.UTF_8), clock);
        samples.pipeInput(key("t"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("w").setTaskId("t")
                .setFeatures(List.of(1f, 2f)).setTarget(0f).setEventTime(clock).build()), clock);
        samples.pipeInput(key("t"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("n").setTaskId("t")
                .setFeatures(List.of(Float.NaN)).setTarget(0f).setEventTime(clock).build()), clock);
        samples.pipeInput(key("other"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("k").setTaskId("t")
                .setFeatures(List.of(1f)).setTarget(0f).setEventTime(clock).build()), clock);
        queries.pipeInput(key("t"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("q").setTaskId("")
                .setFeatures(List.of(1f)).setEventTime(clock).build()), clock);
        query("t", "good", 0f);
        driver.advanceWallClockTime(SAMPLE_WAIT);

        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertThat(letters).extracting(DeadLetter::getReasonCode).containsExactly(
                "UNDECODABLE", "WRONG_DIMENSION", "NON_FINITE", "KEY_MISMATCH", "MISSING_TASK_ID");
        assertThat(letters.get(0).getSourceTopic()).isEqualTo("samples");
        assertThat(letters.get(0).getOffset()).isZero();
        assertThat(letters.get(1).getOffset()).isEqualTo(1);
        assertThat(letters.get(4).getSourceTopic()).isEqualTo("queries");
        assertThat(new String(letters.get(0).getValue().array(), StandardCharsets.UTF_8)).isEqualTo("not avro");
        assertThat(letters.get(1).getReason()).contains("expected 1 features, got 2");
        assertThat(predictions.readValue().getQueryId()).isEqualTo("good");

        double counted = driver.metrics().entrySet().stream()
                .filter(e -> e.getKey().name().equals("dead-letters-total"))
                .mapToDouble(e -> (Double) e.getValue().metricValue()).sum();
        assertThat(counted).isEqualTo(5.0);
        MetricName wrongDim = driver.metrics().keySet().stream()
                .filter(n -> n.name().equals("dead-letters-total") && n.tags().containsValue("samples:WRONG_DIMENSION"))
                .findFirst().orElseThrow();
        assertThat((Double) driver.metrics().get(wrongDim).metricValue()).isEqualTo(1.0);
    }
}

package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.SupportPoint;
import io.metastream.schemas.state.SupportSet;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.MetastreamTopology;
import io.metastream.streams.StoreNames;
import io.metastream.streams.TestModels;
import io.metastream.streams.Topics;
import io.metastream.streams.TopologySettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * State that a producer cannot grow without bound, and a clock it cannot move: at most
 * {@code task.max.count} tasks, the least recently updated evicted and counted; idle tasks expired
 * through the time index, a bounded number per punctuation; state from before the index indexed
 * once; and a future-dated record does not stop queries from waiting for the samples before them.
 * Wall-clock time is the test driver's, advanced by the test.
 */
class BoundedStateTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    private static final Duration TTL = Duration.ofMinutes(10);
    private static final Duration EXPIRY_INTERVAL = Duration.ofMinutes(1);

    @TempDir
    Path stateDir;
    private final Topics topics = Topics.defaults();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private ActiveModel model;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> samples;
    private TestInputTopic<byte[], byte[]> queries;
    private TestOutputTopic<String, Prediction> predictions;
    private TestOutputTopic<String, DeadLetter> deadLetters;
    private KeyValueStore<String, PackedSupportSet> sets;
    private KeyValueStore<String, AdaptedTask> adapted;
    private KeyValueStore<String, Long> dirty;
    private KeyValueStore<Bytes, byte[]> index;
    private Instant clock = Instant.parse("2026-01-01T00:00:00Z");

    @BeforeEach
    void createModel() {
        model = TestModels.activeQuickBase();
    }

    private void start(long maxTasks, int expiryBudget) {
        TopologySettings defaults = TopologySettings.of(20, 200, 256, true, 20).withQuerySampleWaitMs(250);
        TopologySettings.Limits d = TopologySettings.Limits.defaults();
        TopologySettings.Limits limits = new TopologySettings.Limits(d.maxRecordBytes(), d.maxFutureMs(),
                d.deadLetterMaxValueBytes(), TTL.toMillis(), EXPIRY_INTERVAL.toMillis(), maxTasks, expiryBudget);
        Topology topology = MetastreamTopology.builder(model,
                        AdaptationEngine.onCallingThread(model.learner(), 256))
                .settings(defaults.withLimits(limits)).topics(topics)
                .metrics(MetastreamMetrics.of(registry, "")).addTo(new Topology());
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "bounded-state-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        driver = new TopologyTestDriver(topology, props);
        samples = driver.createInputTopic("samples", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        queries = driver.createInputTopic("queries", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        predictions = driver.createOutputTopic("predictions", Serdes.String().deserializer(),
                topics.predictions().valueSerde().deserializer());
        deadLetters = driver.createOutputTopic("dead-letters", Serdes.String().deserializer(),
                topics.deadLetters().valueSerde().deserializer());
        sets = driver.getKeyValueStore(StoreNames.SUPPORT_SETS);
        adapted = driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        dirty = driver.getKeyValueStore(StoreNames.DIRTY_TASKS);
        index = driver.getKeyValueStore(StoreNames.TASK_INDEX);
    }

    @AfterEach
    void stop() {
        if (driver != null) {
            driver.close();
        }
        model.close();
    }

    private void sample(String task, String eventId) {
        clock = clock.plusMillis(1);
        samples.pipeInput(key(task), SAMPLES.encode(LabelledSample.newBuilder().setEventId(eventId).setTaskId(task)
                .setFeatures(List.of(1f)).setTarget(2f).setEventTime(clock).build()), clock);
    }

    private static byte[] key(String task) {
        return task.getBytes(StandardCharsets.UTF_8);
    }

    private double removed(MetastreamMetrics.TaskRemoval cause) {
        return registry.get("metastream.tasks.removed").tag("cause", cause.name().toLowerCase()).counter().count();
    }

    /** The task ids of the index, in its order (least recently updated first). */
    private List<String> indexOrder() {
        List<String> out = new ArrayList<>();
        try (KeyValueIterator<Bytes, byte[]> it = index.all()) {
            while (it.hasNext()) {
                TaskIndex.Entry e = TaskIndex.entry(it.next().key);
                if (e != null) {
                    out.add(e.taskId());
                }
            }
        }
        return out;
    }

    @Test
    void shouldEvictTheLeastRecentlyUpdatedTaskWithItsStateBeyondTaskMaxCountAndCountIt() {
        start(3, 10_000);
        sample("a", "a1");
        driver.advanceWallClockTime(Duration.ofMillis(1));
        sample("b", "b1");
        driver.advanceWallClockTime(Duration.ofMillis(1));
        sample("c", "c1");
        driver.advanceWallClockTime(Duration.ofMillis(250)); // one adaptation round: all three have state
        assertThat(adapted.get("b")).isNotNull();
        assertThat(adapted.get("c")).isNotNull();
        sample("a", "a2"); // a is now the most recently updated; b the least
        sample("b", "b2-dirty-again");
        driver.advanceWallClockTime(Duration.ofMillis(1));
        sample("a", "a3");
        assertThat(indexOrder()).containsExactly("c", "b", "a");
        driver.advanceWallClockTime(Duration.ofMillis(1));

        sample("d", "d1");

        assertThat(sets.get("c")).as("least recently updated: evicted").isNull();
        assertThat(adapted.get("c")).isNull();
        assertThat(dirty.get("c")).isNull();
        assertThat(sets.get("a")).isNotNull();
        assertThat(sets.get("b")).isNotNull();
        assertThat(dirty.get("b")).isNotNull();
        assertThat(sets.get("d")).isNotNull();
        assertThat(indexOrder()).containsExactly("b", "a", "d");
        assertThat(removed(MetastreamMetrics.TaskRemoval.EVICTED)).isEqualTo(1.0);
        assertThat(registry.get("metastream.tasks").gauge().value()).isEqualTo(3.0);

        // An evicted task that comes back is a new task; it evicts the next least recently updated.
        driver.advanceWallClockTime(Duration.ofMillis(1));
        sample("c", "c2");
        assertThat(sets.get("c").toAvro().getPoints()).extracting(SupportPoint::getEventId).containsExactly("c2");
        assertThat(sets.get("b")).isNull();
        assertThat(removed(MetastreamMetrics.TaskRemoval.EVICTED)).isEqualTo(2.0);
        assertThat(registry.get("metastream.tasks").gauge().value()).isEqualTo(3.0);
    }

    @Test
    void shouldNotCountARedeliveredSampleAsAnUpdate() {
        start(2, 10_000);
        sample("a", "a1");
        driver.advanceWallClockTime(Duration.ofMillis(1));
        sample("b", "b1");
        driver.advanceWallClockTime(Duration.ofMillis(1));
        sample("a", "a1"); // the same event again: the set is not written, a stays least recently updated
        driver.advanceWallClockTime(Duration.ofMillis(1));
        sample("c", "c1");
        assertThat(sets.get("a")).isNull();
        assertThat(sets.get("b")).isNotNull();
    }

    @Test
    void shouldExpireIdleTasksThroughTheIndexAtMostTheBudgetPerPunctuation() {
        start(1_000_000, 2);
        for (int i = 0; i < 5; i++) {
            sample("idle-" + i, "e" + i);
            driver.advanceWallClockTime(Duration.ofMillis(1));
        }
        driver.advanceWallClockTime(TTL.minusMinutes(1));
        assertThat(adapted.get("idle-0")).isNotNull();
        sample("active", "a1");
        driver.advanceWallClockTime(Duration.ofMinutes(2)); // past the TTL of the idle ones
        assertThat(indexOrder()).as("two per punctuation, least recently updated first")
                .containsExactly("idle-2", "idle-3", "idle-4", "active");
        assertThat(sets.get("idle-0")).isNull();
        assertThat(adapted.get("idle-0")).as("its adapted state goes with it").isNull();
        assertThat(sets.get("idle-2")).isNotNull();
        driver.advanceWallClockTime(EXPIRY_INTERVAL);
        assertThat(indexOrder()).containsExactly("idle-4", "active");
        driver.advanceWallClockTime(EXPIRY_INTERVAL);
        assertThat(indexOrder()).containsExactly("active");
        for (int i = 0; i < 5; i++) {
            assertThat(sets.get("idle-" + i)).isNull();
        }
        assertThat(sets.get("active")).as("updated within the TTL").isNotNull();
        assertThat(removed(MetastreamMetrics.TaskRemoval.EXPIRED)).isEqualTo(5.0);
        assertThat(removed(MetastreamMetrics.TaskRemoval.EVICTED)).isZero();
    }

    @Test
    void shouldIndexStateWrittenBeforeTheIndexOnceAndThenExpireIt() {
        start(1_000_000, 2);
        // What an earlier release left: support sets, no index entries, no completion mark.
        Instant longAgo = Instant.ofEpochMilli(System.currentTimeMillis()).minus(Duration.ofDays(30));
        Instant recently = Instant.ofEpochMilli(System.currentTimeMillis());
        for (String task : List.of("old-0", "old-1", "old-2")) {
            sets.put(task, PackedSupportSet.of(legacySet(task, longAgo)));
        }
        sets.put("recent", PackedSupportSet.of(legacySet("recent", recently)));
        assertThat(indexOrder()).isEmpty();

        driver.advanceWallClockTime(Duration.ofSeconds(1));
        assertThat(indexOrder()).as("two support sets per backfill punctuation").hasSize(2);
        driver.advanceWallClockTime(Duration.ofSeconds(1));
        driver.advanceWallClockTime(Duration.ofSeconds(1));
        assertThat(indexOrder()).containsExactly("old-0", "old-1", "old-2", "recent");
        assertThat(index.get(Bytes.wrap(new byte[] {(byte) 0xFF}))).as("marked complete").isNotNull();
        assertThat(registry.get("metastream.tasks").gauge().value()).isEqualTo(4.0);

        driver.advanceWallClockTime(EXPIRY_INTERVAL);
        driver.advanceWallClockTime(EXPIRY_INTERVAL);
        assertThat(sets.get("old-0")).isNull();
        assertThat(sets.get("old-1")).isNull();
        assertThat(sets.get("old-2")).isNull();
        assertThat(sets.get("recent")).isNotNull();
        assertThat(indexOrder()).containsExactly("recent");
    }

    private static SupportSet legacySet(String task, Instant updated) {
        return SupportSet.newBuilder().setPoints(List.of(SupportPoint.newBuilder().setEventId(task + "-e")
                        .setFeatures(List.of(1f)).setTarget(1f).setEventTime(updated).build()))
                .setTotalSeen(1).setLastSeen(updated).setLastUpdated(updated).build();
    }

    /**
     * A sample stamped two days ahead (or one that does not decode) is dead-lettered and does not
     * move the watermark, so a query still waits for the sample produced before it.
     */
    @Test
    void shouldStillAnswerAQueryAfterTheSamplesBeforeItWhenAFutureDatedSampleCameFirst() {
        start(1_000_000, 10_000);
        Instant future = Instant.now().plus(Duration.ofDays(2));
        Instant t = clock.plusSeconds(10);
        // Future event time and record timestamp; a good event time but a future record timestamp;
        // and garbage stamped in the future.
        samples.pipeInput(key("x"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("f1").setTaskId("x")
                .setFeatures(List.of(1f)).setTarget(1f).setEventTime(future).build()), future);
        samples.pipeInput(key("x"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("f2").setTaskId("x")
                .setFeatures(List.of(1f)).setTarget(1f).setEventTime(t).build()), future);
        samples.pipeInput(key("x"), "not avro".getBytes(StandardCharsets.UTF_8), future);
        assertThat(deadLetters.readValuesToList()).extracting(DeadLetter::getReasonCode)
                .containsExactly("FUTURE_TIMESTAMP", "FUTURE_TIMESTAMP", "UNDECODABLE");

        queries.pipeInput(key("u"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("q").setTaskId("u")
                .setFeatures(List.of(0f)).setEventTime(t).build()), t);
        driver.advanceWallClockTime(Duration.ofMillis(40));
        assertThat(predictions.isEmpty()).as("no valid sample at or after the query yet").isTrue();

        // Produced before the query, processed after it; then a later sample proves the partition is read.
        samples.pipeInput(key("u"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("s1").setTaskId("u")
                .setFeatures(List.of(1f)).setTarget(2f).setEventTime(t.minusMillis(5)).build()), t.minusMillis(5));
        samples.pipeInput(key("other"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("s2")
                .setTaskId("other").setFeatures(List.of(1f)).setTarget(2f).setEventTime(t.plusMillis(1)).build()),
                t.plusMillis(1));
        driver.advanceWallClockTime(Duration.ofMillis(40));
        Prediction p = predictions.readValue();
        assertThat(p.getQueryId()).isEqualTo("q");
        assertThat(p.getSupportSize()).as("the sample before the query is in").isEqualTo(1);
        assertThat(sets.get("x")).as("nothing of the refused records was kept").isNull();
    }

    /**
     * A valid sample dated half an hour ahead (inside input.max.future.ms) moves the watermark only
     * up to the wall clock: a later query still waits for the samples produced before it (found in
     * review; before, the partition answered every query of the next half hour without waiting).
     */
    @Test
    void shouldNotLetAValidSampleDatedAheadMoveTheWatermarkPastTheWallClock() {
        start(1_000_000, 10_000);
        Instant wall = Instant.now();
        samples.pipeInput(key("ahead"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("a").setTaskId("ahead")
                .setFeatures(List.of(1f)).setTarget(1f).setEventTime(wall).build()), wall.plus(Duration.ofMinutes(30)));
        assertThat(deadLetters.isEmpty()).as("valid: inside the future limit").isTrue();
        driver.advanceWallClockTime(Duration.ofSeconds(5));
        Instant q = wall.plusSeconds(2);
        queries.pipeInput(key("u"), QUERIES.encode(PredictionRequest.newBuilder().setQueryId("q").setTaskId("u")
                .setFeatures(List.of(0f)).setEventTime(q).build()), q);
        driver.advanceWallClockTime(Duration.ofMillis(40));
        assertThat(predictions.isEmpty()).as("waits for the samples produced before it").isTrue();
        samples.pipeInput(key("u"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("s1").setTaskId("u")
                .setFeatures(List.of(1f)).setTarget(2f).setEventTime(q.minusSeconds(1)).build()), q.minusSeconds(1));
        samples.pipeInput(key("other"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("s2").setTaskId("other")
                .setFeatures(List.of(1f)).setTarget(2f).setEventTime(q.plusSeconds(1)).build()), q.plusSeconds(1));
        driver.advanceWallClockTime(Duration.ofMillis(40));
        Prediction p = predictions.readValue();
        assertThat(p.getQueryId()).isEqualTo("q");
        assertThat(p.getSupportSize()).as("the sample produced before the query is in").isEqualTo(1);
    }

    @Test
    void shouldAcceptARecordTimestampJustInsideTheFutureLimit() {
        start(1_000_000, 10_000);
        Instant soon = Instant.ofEpochMilli(System.currentTimeMillis()).plus(Duration.ofMinutes(30));
        samples.pipeInput(key("s"), SAMPLES.encode(LabelledSample.newBuilder().setEventId("e").setTaskId("s")
                .setFeatures(List.of(1f)).setTarget(1f).setEventTime(clock).build()), soon);
        assertThat(deadLetters.isEmpty()).isTrue();
        assertThat(sets.get("s")).isNotNull();
    }

    /** Keys of the index sort by time first, numerically, whatever the task ids. */
    @Test
    void shouldOrderIndexKeysByTimeThenTaskId() {
        List<KeyValue<Long, String>> entries = List.of(KeyValue.pair(-5L, "z"), KeyValue.pair(0L, "b"),
                KeyValue.pair(255L, "a"), KeyValue.pair(256L, "a"), KeyValue.pair(1_767_225_600_000L, "a"),
                KeyValue.pair(1_767_225_600_000L, "b"));
        for (int i = 1; i < entries.size(); i++) {
            Bytes before = TaskIndex.key(entries.get(i - 1).key, entries.get(i - 1).value);
            Bytes after = TaskIndex.key(entries.get(i).key, entries.get(i).value);
            assertThat(before.compareTo(after)).as(entries.get(i - 1) + " before " + entries.get(i)).isNegative();
            TaskIndex.Entry e = TaskIndex.entry(after);
            assertThat(e.updatedMs()).isEqualTo(entries.get(i).key);
            assertThat(e.taskId()).isEqualTo(entries.get(i).value);
        }
    }
}

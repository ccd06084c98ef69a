package io.metastream.streams.internals;

import static io.metastream.streams.internals.InMemoryTaskStores.sample;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Learner;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.state.PendingQuery;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.ForwardingLearner;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.RecordingLearner;
import io.metastream.streams.TestModels;
import io.metastream.streams.TopologySettings;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every learner call of a stream task, with a real learner on in-memory stores: background rounds
 * on an engine that adapts on the calling thread or that the test steps by hand (so a round is in
 * flight exactly as long as the test wants), query-time and as-of adaptation, and prediction.
 */
class AdaptationsTest {
    private static final TopologySettings SETTINGS = TopologySettings.of(20, 200, 256, true, 20);

    private final PipelineNames names = PipelineNames.unprefixed();
    private final InMemoryTaskStores stores = new InMemoryTaskStores(names);
    private final ActiveModel model = TestModels.activeQuickBase();
    private final RecordingLearner learner = RecordingLearner.of(model.learner());
    private AdaptationEngine engine;
    private TaskStateStore tasks;
    /** The sample processor's: background rounds. */
    private Adaptations rounds;
    /** The query processor's, over the same stores. */
    private Adaptations queries;

    private void open(TopologySettings settings, AdaptationEngine engine) {
        this.engine = engine;
        tasks = TaskStateStore.withRetention(stores.context, names, settings, new AtomicLong(),
                MetastreamMetrics.none());
        tasks.open();
        rounds = new Adaptations(model, engine, tasks, settings, MetastreamMetrics.none());
        rounds.startRounds(0);
        queries = new Adaptations(model, engine, TaskStateStore.of(stores.context, names, settings), settings,
                MetastreamMetrics.none());
    }

    private void open(AdaptationEngine engine) {
        open(SETTINGS, engine);
    }

    @AfterEach
    void close() {
        engine.close();
        model.close();
    }

    /** A kept sample, as the sample processor hands it on; the record timestamp is its event time. */
    private void sampled(String task, String eventId, long timeMs, float x, float y) {
        TaskStateStore.Appended appended = tasks.append(sample(task, eventId, timeMs, x, y), timeMs);
        assertThat(appended.kept()).isTrue();
        rounds.forgotten(appended.evicted());
        rounds.sampled(task, timeMs, timeMs);
    }

    private static PendingQuery query(String task, String id, long timeMs, float x) {
        return PendingQuery.newBuilder().setQueryId(id).setTaskId(task).setFeatures(List.of(x))
                .setReceivedTimestamp(Instant.ofEpochMilli(timeMs)).setArrivedAt(Instant.ofEpochMilli(timeMs))
                .build();
    }

    private float predict(float[] state, float x) {
        return model.learner().predict(model.base(), Arrays.asList(state),
                List.<float[][]>of(new float[][] {{x}}))[0][0];
    }

    private float[] adapt(SampleSet support) {
        return model.learner().adapt(model.base(), List.of(support)).tasks().get(0).state();
    }

    @Test
    void shouldAdaptEveryDirtyTaskInOneCallOnlyWhenARoundIsDue() {
        open(AdaptationEngine.onCallingThread(learner, 256));
        sampled("a", "a1", 10, -1f, 1f);
        sampled("a", "a2", 11, 0f, 2f);
        sampled("a", "a3", 12, 1f, 3f);
        sampled("b", "b1", 13, 0f, -1f);

        assertThat(rounds.roundTick(199).events()).as("not due").isEmpty();
        assertThat(learner.callSizes).isEmpty();
        List<AdaptationEvent> events = rounds.roundTick(200).events();
        assertThat(learner.callSizes).containsExactly(2);
        assertThat(events).extracting(AdaptationEvent::getTaskId).containsExactly("a", "b");
        assertThat(events).allSatisfy(e -> assertThat(e.getBatchSize()).isEqualTo(2));
        assertThat(events.get(0).getSupportSize()).isEqualTo(3);
        assertThat(events.get(0).getNewestSampleTime()).isEqualTo(Instant.ofEpochMilli(12));
        assertThat(events.get(0).getBaseVersion()).isEqualTo(model.base().version());
        assertThat(tasks.dirtyTasks()).isEmpty();
        assertThat(stores.adapted.get("a").getAdaptedAt()).as("the tick's time").isEqualTo(Instant.ofEpochMilli(200));
        TaskStateStore.State a = tasks.stateFor("a", model.base());
        assertThat(a.supportSize()).isEqualTo(3);
        assertThat(a.newestSampleMs()).isEqualTo(12);

        assertThat(rounds.roundTick(400).events()).as("clean tasks are not adapted again").isEmpty();
        assertThat(learner.callSizes).containsExactly(2);
    }

    @Test
    void shouldDeferRoundsWhileWorkingThroughABacklogAtMostTenInARow() {
        open(AdaptationEngine.onCallingThread(learner, 256));
        long start = 100_000;
        long old = start - 60_000; // samples a minute old, processed now: a backlog
        tasks.append(sample("t", "e1", old, 1f, 1f), start);
        for (int round = 1; round <= Adaptations.MAX_DEFERRED_ROUNDS; round++) {
            long tick = start + round * 200L;
            rounds.sampled("t", old, tick - 1); // still processing old samples
            assertThat(rounds.roundTick(tick).events()).as("round %d deferred", round).isEmpty();
        }
        assertThat(learner.callSizes).isEmpty();
        long tick = start + (Adaptations.MAX_DEFERRED_ROUNDS + 1) * 200L;
        rounds.sampled("t", old, tick - 1);
        assertThat(rounds.roundTick(tick).events()).as("the eleventh runs").hasSize(1);

        // Caught up: a sample processed within the lag limit of its timestamp: rounds run on time.
        tick += 200;
        sampled("t", "e2", tick - 1, 2f, 2f);
        assertThat(rounds.roundTick(tick).events()).hasSize(1);
        // Old samples, but the last was processed more than an interval ago: idle, not a backlog.
        tasks.append(sample("t", "e3", old + 1, 3f, 3f), tick + 1);
        rounds.sampled("t", old + 1, tick + 1);
        assertThat(rounds.roundTick(tick + 1 + 400).events()).hasSize(1);
    }

    @Test
    void shouldKeepATaskThatGotASampleDuringTheRoundDirty() {
        open(AdaptationEngine.handStepped(learner, 256));
        sampled("t", "e1", 10, 0f, 1f);
        sampled("t", "e2", 20, 1f, 2f);
        assertThat(rounds.roundTick(200).events()).isEmpty();
        assertThat(rounds.roundInFlight()).isTrue();
        sampled("t", "e3", 30, 2f, 3f);
        assertThat(rounds.roundTick(220).events()).as("the engine has not run it yet").isEmpty();

        assertThat(engine.runQueued()).isEqualTo(1);
        List<AdaptationEvent> events = rounds.roundTick(240).events();
        assertThat(events).singleElement().satisfies(e -> assertThat(e.getSupportSize()).isEqualTo(2));
        assertThat(rounds.roundInFlight()).isFalse();
        assertThat(tasks.isDirty("t")).as("e3 came after the round read the support set").isTrue();
        assertThat(tasks.stateFor("t", model.base()).newestSampleMs()).isEqualTo(20);

        assertThat(rounds.roundTick(400).events()).isEmpty();
        engine.runQueued();
        assertThat(rounds.roundTick(420).events()).singleElement()
                .satisfies(e -> assertThat(e.getSupportSize()).isEqualTo(3));
        assertThat(tasks.isDirty("t")).isFalse();
    }

    @Test
    void shouldNotWriteARoundsStateOverANewerOneAQueryAdaptedMeanwhile() {
        open(AdaptationEngine.handStepped(learner, 256));
        sampled("t", "e1", 10, 0f, 1f);
        sampled("t", "e2", 20, 1f, 2f);
        rounds.roundTick(200);
        sampled("t", "e3", 30, 2f, 3f);
        List<PendingQuery> q = List.of(query("t", "q", 40, 0.5f));
        Adaptations.Prepared prepared = queries.prepare(q, model.base(), 210);
        assertThat(prepared.events()).singleElement().satisfies(e -> assertThat(e.getSupportSize()).isEqualTo(3));
        assertThat(tasks.isDirty("t")).isFalse();

        engine.runQueued();
        assertThat(rounds.roundTick(220).events()).as("the stored state has newer samples").isEmpty();
        assertThat(tasks.stateFor("t", model.base()).newestSampleMs()).isEqualTo(30);
        assertThat(tasks.stateFor("t", model.base()).supportSize()).isEqualTo(3);
    }

    @Test
    void shouldLeaveATaskForgottenDuringTheRoundAlone() {
        open(AdaptationEngine.handStepped(learner, 256));
        sampled("gone", "g1", 10, 0f, 1f);
        sampled("kept", "k1", 11, 0f, 1f);
        rounds.roundTick(200);
        stores.sets.delete("gone");
        rounds.forgotten(List.of("gone"));
        engine.runQueued();
        assertThat(rounds.roundTick(220).events()).extracting(AdaptationEvent::getTaskId).containsExactly("kept");
        assertThat(stores.adapted.get("gone")).as("not brought back").isNull();
    }

    @Test
    void shouldLeaveTheTasksOfACancelledRoundDirty() {
        open(AdaptationEngine.handStepped(learner, 256));
        sampled("t", "e1", 10, 0f, 1f);
        rounds.roundTick(200);
        rounds.close(); // revoked
        engine.runQueued();
        assertThat(learner.callSizes).as("a cancelled job is not adapted").isEmpty();
        assertThat(tasks.isDirty("t")).as("for the task's next owner").isTrue();
        assertThat(stores.adapted.get("t")).isNull();
    }

    @Test
    void shouldReportATaskTheLearnerCannotAdaptAndAdaptTheRest() {
        Learner poisoned = new ForwardingLearner(learner, false) {
            @Override
            public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
                for (SampleSet s : supports) {
                    if (s.targets()[0] == 666f) {
                        throw new IllegalStateException("poisoned support set");
                    }
                }
                return super.adapt(base, supports, settings);
            }
        };
        open(AdaptationEngine.onCallingThread(poisoned, 256));
        sampled("good", "g", 10, 0f, 1f);
        sampled("bad", "b", 11, 0f, 666f);
        Adaptations.Recorded recorded = rounds.roundTick(200);
        assertThat(recorded.events()).extracting(AdaptationEvent::getTaskId).containsExactly("good");
        assertThat(recorded.failures()).singleElement().satisfies(f -> {
            assertThat(f.taskId()).isEqualTo("bad");
            assertThat(f.error()).hasMessage("poisoned support set");
        });
        assertThat(tasks.isDirty("bad")).as("not retried every round").isFalse();
        assertThat(stores.adapted.get("bad")).isNull();
    }

    @Test
    void shouldNeverStoreAStateThatIsNotFinite() {
        Learner overflowing = new ForwardingLearner(learner, false) {
            @Override
            public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
                List<TaskAdaptation> out = new ArrayList<>();
                for (SampleSet s : supports) {
                    float[] nan = base.parameters();
                    nan[0] = Float.NaN;
                    out.add(new TaskAdaptation(nan, s.size(), Float.POSITIVE_INFINITY, 1f, false));
                }
                return new AdaptedBatch(out, 1, "cpu()", 1);
            }
        };
        open(AdaptationEngine.onCallingThread(overflowing, 256));
        sampled("t", "e", 10, 0f, 1f);
        stores.adapted.put("t", io.metastream.schemas.state.AdaptedTask.newBuilder()
                .setBaseVersion(model.base().version()).setSupportSize(1)
                .setState(AdaptedStateCodec.encode(model.base().parameters(), model.base().parameters(),
                        AdaptedStateCodec.FLOAT32).bytes())
                .setStateEncoding(AdaptedStateCodec.FLOAT32).setLossBefore(1f).setLossAfter(1f)
                .setAdaptedAt(Instant.EPOCH).setNewestSampleTime(Instant.EPOCH).build());
        AdaptationEvent event = rounds.roundTick(200).events().get(0);
        assertThat(event.getFellBack()).isTrue();
        assertThat(event.getLossBefore()).as("nothing non-finite is published").isEqualTo(Float.MAX_VALUE);
        assertThat(event.getLossAfter()).isEqualTo(event.getLossBefore());
        assertThat(stores.adapted.get("t")).as("the base answers the task").isNull();
    }

    @Test
    void shouldAdaptStaleTasksBeforeAnsweringAndAnswerColdTasksWithTheBase() {
        open(AdaptationEngine.onCallingThread(learner, 256));
        sampled("t", "e1", 10, -1f, 1f);
        sampled("t", "e2", 11, 0f, 2f);
        sampled("t", "e3", 12, 1f, 3f);
        List<PendingQuery> batch = List.of(query("t", "q1", 20, 0.5f), query("cold", "q2", 21, 0.5f));

        Adaptations.Prepared prepared = queries.prepare(batch, model.base(), 30);
        assertThat(prepared.events()).extracting(AdaptationEvent::getTaskId).containsExactly("t");
        assertThat(tasks.isDirty("t")).isFalse();
        List<Adaptations.Answer> answers = queries.predict(batch, prepared, model.base());

        Adaptations.Answer adapted = answers.get(0);
        assertThat(adapted.adapted()).isTrue();
        assertThat(adapted.finite()).isTrue();
        assertThat(adapted.supportSize()).isEqualTo(3);
        assertThat(adapted.adaptedThroughMs()).isEqualTo(12);
        assertThat(adapted.path()).isEqualTo(MetastreamMetrics.PredictionPath.ADAPTED);
        assertThat(adapted.value()).as("from the stored bytes").isEqualTo(
                predict(tasks.stateFor("t", model.base()).weights(), 0.5f));
        Adaptations.Answer cold = answers.get(1);
        assertThat(cold.adapted()).isFalse();
        assertThat(cold.path()).isEqualTo(MetastreamMetrics.PredictionPath.COLD);
        assertThat(cold.value()).isEqualTo(predict(null, 0.5f));

        assertThat(queries.prepare(batch, model.base(), 40).events()).as("clean now").isEmpty();
        assertThat(learner.callSizes).containsExactly(1);
    }

    /** Waits, without sleeping a fixed time, until the engine's thread has done the queries' job. */
    private static void awaitDone(Adaptations.QueryAdaptations waiting) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!waiting.isDone()) {
            assertThat(System.nanoTime()).as("the engine did the job within 30 s").isLessThan(deadline);
            Thread.sleep(1);
        }
    }

    @Test
    void shouldAdaptWhatQueriesNeedOnTheSharedEngineInOneJobAndWriteItWhenCollected() throws Exception {
        open(AdaptationEngine.shared(learner, 256, 0));
        sampled("t", "e1", 10, -1f, 1f);
        sampled("t", "e2", 11, 0f, 2f);
        sampled("u", "u1", 10, -2f, 1f);
        sampled("u", "u2", 30, 2f, 1f);
        List<PendingQuery> batch = List.of(query("t", "q1", 20, 0.5f), query("u", "before-u2", 20, 0.5f),
                query("cold", "q3", 21, 0.5f));

        Adaptations.QueryAdaptations waiting = queries.submitForQueries(batch, model.base(), 40);
        awaitDone(waiting);
        assertThat(learner.threads).as("adapted off the stream thread, stale task and as-of state in one call")
                .containsExactly(AdaptationEngine.THREAD_NAME);
        assertThat(learner.callSizes).containsExactly(2);
        assertThat(stores.adapted.get("t")).as("written only when collected, on the stream thread").isNull();

        Adaptations.Prepared prepared = queries.collect(waiting, 50);
        assertThat(prepared.events()).extracting(AdaptationEvent::getTaskId).containsExactly("t");
        assertThat(tasks.isDirty("t")).isFalse();
        assertThat(tasks.isDirty("u")).as("its own state is not the task's").isTrue();
        List<Adaptations.Answer> answers = queries.predict(batch, prepared, waiting.base());
        assertThat(answers.get(0).adapted()).isTrue();
        assertThat(answers.get(0).value()).isEqualTo(predict(tasks.stateFor("t", model.base()).weights(), 0.5f));
        assertThat(answers.get(1).supportSize()).isEqualTo(1);
        assertThat(answers.get(1).value()).isCloseTo(
                predict(adapt(new SampleSet(new float[][] {{-2f}}, new float[] {1f})), 0.5f), within(1e-5f));
        assertThat(answers.get(2).path()).isEqualTo(MetastreamMetrics.PredictionPath.COLD);
    }

    @Test
    void shouldKeepATaskDirtyWhenItGotASampleWhileItsQueryJobWasOnTheEngine() throws Exception {
        open(AdaptationEngine.shared(learner, 256, 0));
        sampled("t", "e1", 10, -1f, 1f);
        Adaptations.QueryAdaptations waiting = queries.submitForQueries(List.of(query("t", "q", 20, 0.5f)),
                model.base(), 30);
        awaitDone(waiting);
        sampled("t", "e2", 25, 1f, 3f);

        Adaptations.Prepared prepared = queries.collect(waiting, 40);
        assertThat(prepared.events()).as("written: no state was newer").singleElement()
                .satisfies(e -> assertThat(e.getNewestSampleTime()).isEqualTo(Instant.ofEpochMilli(10)));
        assertThat(tasks.isDirty("t")).as("e2 is not in that state").isTrue();
        assertThat(tasks.dirtyTasks()).containsExactly("t");
        assertThat(tasks.snapshot("t").support().size()).as("the next round adapts both samples").isEqualTo(2);
    }

    @Test
    void shouldAdaptOnTheCallingThreadWhatWaitedTooLongForTheEngine() {
        open(AdaptationEngine.handStepped(learner, 256));
        sampled("t", "e1", 10, -1f, 1f);
        Adaptations.QueryAdaptations waiting = queries.submitForQueries(List.of(query("t", "q", 20, 0.5f)),
                model.base(), 30);
        assertThat(waiting.isDone()).as("a hand-stepped engine adapts queries at once").isTrue();
        assertThat(learner.callSizes).containsExactly(1);

        RecordingLearner onStopped = RecordingLearner.of(model.learner());
        try (AdaptationEngine stalled = AdaptationEngine.shared(onStopped, 256, 0)) {
            stalled.close(); // stopped: every job it is handed is cancelled, never done by it
            Adaptations overEngine = new Adaptations(model, stalled, TaskStateStore.of(stores.context, names,
                    SETTINGS), SETTINGS, MetastreamMetrics.none());
            sampled("t", "e2", 15, 0f, 2f);
            Adaptations.QueryAdaptations overdue = overEngine.submitForQueries(
                    List.of(query("t", "q2", 20, 0.5f)), model.base(), 40);
            assertThat(overdue.isAdapted()).as("a stopped engine cancels the job").isFalse();
            Adaptations.Prepared prepared = overEngine.adaptHere(overdue, 200);
            assertThat(prepared.events()).singleElement().satisfies(e -> assertThat(e.getSupportSize()).isEqualTo(2));
            assertThat(tasks.isDirty("t")).isFalse();
            assertThat(onStopped.threads).as("on the stream thread").containsExactly(Thread.currentThread().getName());
        }
    }

    @Test
    void shouldReadaptAStateOfAnotherBaseWhenAQueryNeedsIt() {
        open(AdaptationEngine.onCallingThread(learner, 256));
        sampled("t", "e1", 10, -1f, 1f);
        sampled("t", "e2", 11, 1f, 3f);
        rounds.roundTick(200);
        BaseModel next = nextBase();
        model.swap(next);
        List<PendingQuery> q = List.of(query("t", "q", 20, 0.5f));
        Adaptations.Prepared prepared = queries.prepare(q, next, 300);
        assertThat(prepared.events()).singleElement()
                .satisfies(e -> assertThat(e.getBaseVersion()).isEqualTo(next.version()));
        assertThat(stores.adapted.get("t").getBaseVersion()).isEqualTo(next.version());
        assertThat(queries.predict(q, prepared, next).get(0).adapted()).isTrue();
    }

    @Test
    void shouldAnswerWithTheBaseAndMarkTheTaskWhenQueriesDoNotAdapt() {
        TopologySettings noQueryAdaptation = TopologySettings.of(20, 200, 256, false, 20);
        open(noQueryAdaptation, AdaptationEngine.onCallingThread(learner, 256));
        sampled("t", "e1", 10, -1f, 1f);
        rounds.roundTick(200);
        BaseModel next = nextBase();
        model.swap(next);
        List<PendingQuery> q = List.of(query("t", "q", 20, 0.5f));
        Adaptations.Prepared prepared = queries.prepare(q, next, 300);
        assertThat(prepared.events()).isEmpty();
        Adaptations.Answer answer = queries.predict(q, prepared, next).get(0);
        assertThat(answer.adapted()).isFalse();
        assertThat(answer.path()).isEqualTo(MetastreamMetrics.PredictionPath.FELL_BACK);
        assertThat(tasks.isDirty("t")).as("adapted by the next round").isTrue();
        assertThat(rounds.roundTick(400).events()).singleElement()
                .satisfies(e -> assertThat(e.getBaseVersion()).isEqualTo(next.version()));
    }

    @Test
    void shouldAnswerAQueryFromTheSamplesBeforeItWithoutStoringThatState() {
        open(AdaptationEngine.onCallingThread(learner, 256));
        sampled("t", "e1", 10, -2f, 1f);
        sampled("t", "e2", 20, -1f, 2f);
        sampled("t", "e3", 30, 0f, 3f);
        List<PendingQuery> q = List.of(query("t", "before-e3", 25, 0.5f));
        Adaptations.Prepared prepared = queries.prepare(q, model.base(), 40);
        assertThat(prepared.events()).as("its own state is not the task's").isEmpty();
        Adaptations.Answer answer = queries.predict(q, prepared, model.base()).get(0);
        assertThat(answer.supportSize()).isEqualTo(2);
        assertThat(answer.adaptedThroughMs()).isEqualTo(20);
        float expected = predict(adapt(new SampleSet(new float[][] {{-2f}, {-1f}}, new float[] {1f, 2f})), 0.5f);
        assertThat(answer.value()).isCloseTo(expected, within(1e-5f));
        assertThat(stores.adapted.get("t")).isNull();
        assertThat(tasks.isDirty("t")).as("left to the rounds").isTrue();
    }

    @Test
    void shouldAnswerWithTheBaseAndMarkNothingWithAdaptationOff() {
        TopologySettings on = SETTINGS;
        TopologySettings off = new TopologySettings(on.supportMaxSize(), on.adaptationIntervalMs(),
                on.adaptationBatchMax(), on.adaptOnQuery(), on.queryBatchIntervalMs(), on.querySampleWaitMs(), on.queryMaxWaitMs(),
                on.limits(), false, on.stateEncoding(), on.adaptationBacklogLagMs());
        open(off, AdaptationEngine.onCallingThread(learner, 256));
        sampled("t", "e1", 10, -2f, 1f);
        sampled("t", "e2", 30, 0f, 3f);
        assertThat(tasks.isDirty("t")).as("nothing waits for an adaptation that never comes").isFalse();
        List<PendingQuery> q = List.of(query("t", "q", 20, 0.5f));
        Adaptations.Prepared prepared = queries.prepare(q, model.base(), 40);
        Adaptations.Answer answer = queries.predict(q, prepared, model.base()).get(0);
        assertThat(answer.adapted()).isFalse();
        assertThat(answer.value()).isEqualTo(predict(null, 0.5f));
        assertThat(learner.callSizes).isEmpty();
    }

    private BaseModel nextBase() {
        BaseModel current = model.base();
        float[] p = current.parameters();
        p[p.length - 1] += 0.5f;
        return new BaseModel("sinusoid@next", current.learner(), current.architecture(), p, current.adaptation());
    }

    /** A learner that delegates everything; tests override what they change. */
}

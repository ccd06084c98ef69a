package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;
import io.metastream.learn.CheckedPredictions;
import io.metastream.learn.Finite;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.ClassScore;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.PendingQuery;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.TopologySettings;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every learner call of one stream task, and what becomes of its results: background rounds of
 * dirty tasks on the shared {@link AdaptationEngine}, query-time adaptation of stale tasks,
 * adaptation as of a query's timestamp, and prediction. States are read and written through the
 * stream task's {@link TaskStateStore}; the adaptation events to publish are returned for the
 * caller to forward.
 *
 * <p><b>Rounds.</b> Every {@code adaptation.interval.ms} of wall-clock time ({@link #roundTick}),
 * all dirty tasks are read and submitted as one job; the job is recorded once the engine is done
 * with it (on a later tick when the engine has its own thread). One round is in flight at a time;
 * the tasks that get samples meanwhile stay dirty, and their new state is written only over an older
 * one (a query may have adapted them meanwhile); tasks forgotten meanwhile are left alone. Reading
 * the support sets and recording happen on the stream thread, so they commit (or abort) together
 * under exactly-once; the learner call and the state encoding between them may run on the engine's
 * thread.
 *
 * <p><b>Queries</b> cannot wait for a round: their adaptations run on the calling thread. A state
 * that is not finite is never stored: the task falls back to the base (its stored state, if any, is
 * removed). A support loss that is not finite is written as {@link Float#MAX_VALUE}.
 */
final class Adaptations {
    /** At most this many rounds in a row are deferred for a backlog, so states still move during a long one. */
    static final int MAX_DEFERRED_ROUNDS = 10;
    private final ActiveModel model;
    private final AdaptationEngine engine;
    private final TaskStateStore tasks;
    private final TopologySettings settings;
    private final MetastreamMetrics metrics;
    private Round inFlight;
    /** Tasks given a sample, and tasks forgotten, since the round in flight read its support sets. */
    private final Set<String> changedSinceRound = new HashSet<>();
    private final Set<String> droppedSinceRound = new HashSet<>();
    private long nextRoundAtMs;
    /** Wall-clock time the last sample was processed, and its record timestamp: how far behind the stream task runs. */
    private long lastSampledAtMs = Long.MIN_VALUE;
    private long lastSampleTimestampMs;
    /** Rounds skipped in a row because the stream task was working through a backlog. */
    private int deferredRounds;

    Adaptations(ActiveModel model, AdaptationEngine engine, TaskStateStore tasks, TopologySettings settings,
            MetastreamMetrics metrics) {
        this.model = model;
        this.engine = engine;
        this.tasks = tasks;
        this.settings = settings;
        this.metrics = metrics;
    }

    /** Adaptation events to forward, and the tasks a round could not adapt. */
    record Recorded(List<AdaptationEvent> events, List<Failure> failures) {
        static final Recorded NOTHING = new Recorded(List.of(), List.of());
    }

    /** A task a round could not adapt, and why; it leaves the dirty store. */
    record Failure(String taskId, RuntimeException error) {
    }

    // ---- background rounds --------------------------------------------------------------------

    /**
     * How often {@link #roundTick} should run: every round interval, or, when rounds finish between
     * ticks (a shared engine), as often as queries are answered, to record them soon.
     */
    long roundTickMs() {
        return engine.isShared() ? Math.min(settings.adaptationIntervalMs(), settings.queryBatchIntervalMs())
                : settings.adaptationIntervalMs();
    }

    /** The first round is due one interval after {@code nowMs}. */
    void startRounds(long nowMs) {
        nextRoundAtMs = nowMs + settings.adaptationIntervalMs();
    }

    /**
     * The task got a sample ({@code sinceMs}: its record timestamp), processed at {@code nowMs}: it is
     * adapted in a coming round. Nothing with adaptation off, so nothing waits for an adaptation that
     * never comes.
     */
    void sampled(String taskId, long sinceMs, long nowMs) {
        if (!settings.adaptationEnabled()) {
            return;
        }
        lastSampledAtMs = nowMs;
        lastSampleTimestampMs = sinceMs;
        if (inFlight != null) {
            changedSinceRound.add(taskId);
        }
        tasks.markDirty(taskId, sinceMs);
    }

    /** The tasks were forgotten (expired or evicted): a round in flight must not bring them back. */
    void forgotten(List<String> taskIds) {
        if (inFlight != null) {
            droppedSinceRound.addAll(taskIds);
        }
    }

    /** Records the round in flight once it is done, and starts the next one when it is due. */
    Recorded roundTick(long nowMs) {
        List<AdaptationEvent> events = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        if (inFlight != null) {
            if (!inFlight.isDone()) {
                return Recorded.NOTHING;
            }
            finishRound(nowMs, events, failures);
        }
        if (nowMs >= nextRoundAtMs) {
            // A fixed schedule, as Kafka Streams keeps its punctuators: "now + interval" would skip
            // every other tick whenever a punctuation fires a little late.
            while (nextRoundAtMs <= nowMs) {
                nextRoundAtMs += settings.adaptationIntervalMs();
            }
            if (workingThroughBacklog(nowMs) && deferredRounds < MAX_DEFERRED_ROUNDS) {
                // The states a round would write now are outdated by the backlog's next samples
                // before anyone reads them (queries adapt what they need themselves): the CPU goes
                // to catching up, and one round adapts each task once the stream task is current.
                deferredRounds++;
                return new Recorded(events, failures);
            }
            deferredRounds = 0;
            List<String> ids = tasks.dirtyTasks();
            if (!ids.isEmpty()) {
                inFlight = prepare(ids, model.base());
                engine.submit(inFlight.job);
                if (inFlight.isDone()) {
                    finishRound(nowMs, events, failures);
                }
            }
        }
        return new Recorded(events, failures);
    }

    /**
     * Whether the samples processed just now are older than {@code adaptation.backlog.lag.ms}: the
     * stream task is catching up (a restart, a burst), not keeping pace.
     */
    private boolean workingThroughBacklog(long nowMs) {
        long lagLimit = settings.adaptationBacklogLagMs();
        return lagLimit > 0 && nowMs - lastSampledAtMs <= settings.adaptationIntervalMs()
                && lastSampledAtMs - lastSampleTimestampMs > lagLimit;
    }

    /** Whether a round is submitted and not yet recorded. */
    boolean roundInFlight() {
        return inFlight != null;
    }

    private void finishRound(long nowMs, List<AdaptationEvent> events, List<Failure> failures) {
        Round round = inFlight;
        inFlight = null;
        if (!round.job.isCancelled()) {
            events.addAll(record(round, round.ids.size(), changedSinceRound, droppedSinceRound, nowMs));
            failures.addAll(failures(round));
        }
        changedSinceRound.clear();
        droppedSinceRound.clear();
    }

    /** Revoked or shutting down: nobody records the round in flight, its tasks stay dirty for their next owner. */
    void close() {
        if (inFlight != null) {
            inFlight.job.cancel();
            inFlight = null;
        }
    }

    // ---- queries ------------------------------------------------------------------------------

    /**
     * A query's own state, adapted on its task's samples up to its timestamp; {@code state} null: the
     * base. {@code labels}: a classifier's classes in the state's order (empty for a regression base).
     */
    private record AsOf(TaskAdaptation state, long newestSampleMs, List<String> labels) {
    }

    /** What a batch of queries got adapted: the events to forward, and each query's own state. */
    static final class Prepared {
        private final Map<Integer, AsOf> asOf;
        private final List<AdaptationEvent> events;

        private Prepared(Map<Integer, AsOf> asOf, List<AdaptationEvent> events) {
            this.asOf = asOf;
            this.events = events;
        }

        /** Events of the stale tasks adapted and written now. */
        List<AdaptationEvent> events() {
            return events;
        }
    }

    /**
     * The adaptations a batch of queries waits for, in one job: the states of their stale tasks
     * (written once done) and the queries' own states as of their timestamps (not stored).
     */
    static final class QueryAdaptations {
        private final List<PendingQuery> queries;
        private final BaseModel base;
        private final long submittedMs;
        /** The stale tasks first, then one entry per query adapted as of its timestamp; null: nothing to adapt. */
        private final Round round;
        private final int staleCount;
        /** Samples ever accepted by each stale task when its support set was read: more later means it changed. */
        private final long[] seenAtRead;
        private final int[] asOfQuery;
        /** Queries whose task held no sample at or before their timestamp: answered by the base. */
        private final Set<Integer> coldAsOf;

        private QueryAdaptations(List<PendingQuery> queries, BaseModel base, long submittedMs, Round round,
                int staleCount, long[] seenAtRead, int[] asOfQuery, Set<Integer> coldAsOf) {
            this.queries = List.copyOf(queries);
            this.base = base;
            this.submittedMs = submittedMs;
            this.round = round;
            this.staleCount = staleCount;
            this.seenAtRead = seenAtRead;
            this.asOfQuery = asOfQuery;
            this.coldAsOf = coldAsOf;
        }

        List<PendingQuery> queries() {
            return queries;
        }

        /** The base the queries are adapted under, and answered with. */
        BaseModel base() {
            return base;
        }

        long submittedMs() {
            return submittedMs;
        }

        /** Adapted, or had nothing to adapt, or the engine dropped the job (stopped): no use waiting longer. */
        boolean isDone() {
            return round == null || round.job.isDone();
        }

        /** Whether there was anything to adapt for these queries. */
        boolean adaptsAnything() {
            return round != null;
        }

        /** Adapted, or had nothing to adapt: {@link #collect} may be called; otherwise {@link #adaptHere}. */
        boolean isAdapted() {
            return round == null || (round.job.isDone() && !round.job.isCancelled());
        }
    }

    /**
     * Hands the adaptations that {@code queries} need before they can be answered to the engine, in
     * one job ahead of its rounds: each query whose task holds samples from after it gets its own
     * state, adapted on the samples up to its timestamp (not stored); the tasks of the other queries
     * that are dirty, or were adapted under another base than {@code base}, are adapted and, by
     * {@link #collect}, written (with {@code adaptation.on.query}; otherwise they wait for a round).
     * On an engine without a thread of its own the job is done when this returns.
     */
    QueryAdaptations submitForQueries(List<PendingQuery> queries, BaseModel base, long nowMs) {
        QueryAdaptations waiting = plan(queries, base, nowMs);
        if (waiting.round != null) {
            engine.submitForQueries(waiting.round.job);
        }
        return waiting;
    }

    /**
     * As {@link #submitForQueries}, adapted on this thread: for queries that waited
     * {@code query.max.wait.ms} for the engine, and for retrying a batch one query at a time.
     *
     * @throws RuntimeException the first task's failure, if any failed; nothing is written then
     */
    Prepared prepare(List<PendingQuery> queries, BaseModel base, long nowMs) {
        QueryAdaptations waiting = plan(queries, base, nowMs);
        if (waiting.round != null) {
            engine.runHere(waiting.round.job);
        }
        return collect(waiting, nowMs);
    }

    /**
     * The same adaptations as {@code overdue}, adapted again on this thread: it waited
     * {@code query.max.wait.ms} for the engine. The engine's job is cancelled; its result, if it
     * comes, is not read.
     */
    Prepared adaptHere(QueryAdaptations overdue, long nowMs) {
        if (overdue.round != null) {
            overdue.round.job.cancel();
        }
        return prepare(overdue.queries, overdue.base, nowMs);
    }

    /** Nobody will answer these queries here (the stream task closed): the engine may skip their job. */
    void abandon(QueryAdaptations waiting) {
        if (waiting.round != null) {
            waiting.round.job.cancel();
        }
    }

    private QueryAdaptations plan(List<PendingQuery> queries, BaseModel base, long nowMs) {
        List<String> ids = new ArrayList<>();
        List<SampleSet> supports = new ArrayList<>();
        List<List<String>> labels = new ArrayList<>();
        List<Long> newest = new ArrayList<>();
        List<Integer> asOfQuery = new ArrayList<>();
        Set<Integer> coldAsOf = new HashSet<>();
        Set<String> needState = new LinkedHashSet<>();
        if (settings.adaptationEnabled()) {
            for (int i = 0; i < queries.size(); i++) {
                PendingQuery q = queries.get(i);
                long asOfMs = q.getReceivedTimestamp().toEpochMilli();
                TaskStateStore.Snapshot before = tasks.holdsNothingAfter(q.getTaskId(), asOfMs) ? null
                        : tasks.asOf(q.getTaskId(), asOfMs);
                PackedSupportSet.LearnerSupport support = before == null ? null : before.supportFor(base);
                if (before == null) {
                    needState.add(q.getTaskId());
                } else if (support.support().size() == 0) {
                    coldAsOf.add(i);
                } else {
                    asOfQuery.add(i);
                    ids.add(q.getTaskId());
                    supports.add(support.support());
                    labels.add(support.labels());
                    newest.add(before.newestEventTimeMs());
                }
            }
        }
        // A task whose every query here is answered as of an earlier time needs no fresh state now;
        // the sample processor's rounds adapt it on their own schedule.
        List<String> stale = new ArrayList<>();
        List<SampleSet> staleSupports = new ArrayList<>();
        List<List<String>> staleLabels = new ArrayList<>();
        List<Long> staleNewest = new ArrayList<>();
        List<Long> seen = new ArrayList<>();
        if (settings.adaptsOnQuery()) {
            for (String task : needState) {
                if (tasks.needsAdaptation(task, base)) {
                    TaskStateStore.Snapshot snapshot = tasks.snapshot(task);
                    PackedSupportSet.LearnerSupport support = snapshot.supportFor(base);
                    stale.add(task);
                    staleSupports.add(support.support());
                    staleLabels.add(support.labels());
                    staleNewest.add(snapshot.newestEventTimeMs());
                    seen.add(snapshot.totalSeen());
                }
            }
        }
        if (stale.isEmpty() && ids.isEmpty()) {
            return new QueryAdaptations(queries, base, nowMs, null, 0, new long[0], new int[0], coldAsOf);
        }
        List<String> allIds = new ArrayList<>(stale);
        allIds.addAll(ids);
        List<SampleSet> allSupports = new ArrayList<>(staleSupports);
        allSupports.addAll(supports);
        List<List<String>> allLabels = new ArrayList<>(staleLabels);
        allLabels.addAll(labels);
        long[] allNewest = new long[allIds.size()];
        for (int i = 0; i < stale.size(); i++) {
            allNewest[i] = staleNewest.get(i);
        }
        for (int i = 0; i < ids.size(); i++) {
            allNewest[stale.size() + i] = newest.get(i);
        }
        Round round = new Round(allIds, allNewest, base, allSupports, allLabels, settings.stateEncoding(),
                stale.size());
        return new QueryAdaptations(queries, base, nowMs, round, stale.size(),
                seen.stream().mapToLong(Long::longValue).toArray(),
                asOfQuery.stream().mapToInt(Integer::intValue).toArray(), coldAsOf);
    }

    /**
     * Writes the stale tasks' new states and returns what the queries are answered with. A task that
     * got samples after its support set was read stays dirty, and its state is written only over an
     * older one; a task forgotten meanwhile is left alone.
     *
     * @throws RuntimeException the first task's failure, if any failed; nothing is written then
     */
    Prepared collect(QueryAdaptations done, long nowMs) {
        Map<Integer, AsOf> asOf = new HashMap<>();
        for (int i : done.coldAsOf) {
            asOf.put(i, new AsOf(null, 0L, List.of()));
        }
        if (done.round == null) {
            return new Prepared(asOf, List.of());
        }
        AdaptationEngine.Job job = done.round.job;
        for (int i = 0; i < done.round.ids.size(); i++) {
            if (job.error(i) != null) {
                throw job.error(i);
            }
        }
        for (int k = 0; k < done.asOfQuery.length; k++) {
            int at = done.staleCount + k;
            asOf.put(done.asOfQuery[k], new AsOf(job.result(at), done.round.newest[at], done.round.labels.get(at)));
        }
        Set<String> changed = new HashSet<>();
        Set<String> dropped = new HashSet<>();
        for (int i = 0; i < done.staleCount; i++) {
            String id = done.round.ids.get(i);
            PackedSupportSet now = tasks.supportSet(id);
            if (now == null) {
                dropped.add(id);
            } else if (now.totalSeen() != done.seenAtRead[i]) {
                changed.add(id);
            }
        }
        return new Prepared(asOf, record(done.round, done.staleCount, changed, dropped, nowMs));
    }

    /**
     * One query's answer. {@code finite} false: not even the base gave a finite value, and it must
     * not be published; {@code stateFellBack}: the state's value was not finite and the base's is
     * used instead.
     */
    record Answer(float value, boolean finite, boolean stateFellBack, boolean adapted, int supportSize,
            long adaptedThroughMs, MetastreamMetrics.PredictionPath path, String label, List<ClassScore> scores) {
        Answer(float value, boolean finite, boolean stateFellBack, boolean adapted, int supportSize,
                long adaptedThroughMs, MetastreamMetrics.PredictionPath path) {
            this(value, finite, stateFellBack, adapted, supportSize, adaptedThroughMs, path, null, null);
        }
    }

    /**
     * One batched prediction for {@code queries}, each with its own state from {@code prepared}, or
     * its task's adapted state if usable for {@code base}, or the base. A task whose state was
     * adapted under another base is marked dirty for a round (it can only be so here with
     * {@code adaptation.on.query} off).
     *
     * @throws RuntimeException if a stored state cannot be decoded, or the learner fails
     */
    List<Answer> predict(List<PendingQuery> queries, Prepared prepared, BaseModel base) {
        if (base.classifies()) {
            return classify(queries, prepared, base);
        }
        List<float[]> states = new ArrayList<>(queries.size());
        List<float[][]> inputs = new ArrayList<>(queries.size());
        int[] supportSizes = new int[queries.size()];
        boolean[] hasSamples = new boolean[queries.size()];
        long[] adaptedThrough = new long[queries.size()];
        for (int i = 0; i < queries.size(); i++) {
            PendingQuery q = queries.get(i);
            inputs.add(new float[][] {Floats.toArray(q.getFeatures())});
            AsOf own = prepared.asOf.get(i);
            if (own != null) {
                states.add(own.state() == null ? null : own.state().state());
                supportSizes[i] = own.state() == null ? 0 : own.state().supportSize();
                adaptedThrough[i] = own.state() == null ? 0L : own.newestSampleMs();
                hasSamples[i] = own.state() != null;
                continue;
            }
            TaskStateStore.State state = tasks.stateFor(q.getTaskId(), base);
            if (state.held() && !state.usable() && settings.adaptationEnabled()) {
                tasks.markDirty(q.getTaskId(), q.getReceivedTimestamp().toEpochMilli());
            }
            states.add(state.weights());
            supportSizes[i] = state.supportSize();
            adaptedThrough[i] = state.newestSampleMs();
            hasSamples[i] = state.held() || tasks.isDirty(q.getTaskId());
        }
        CheckedPredictions values = model.learner().predictChecked(base, states, inputs);
        List<Answer> answers = new ArrayList<>(queries.size());
        for (int i = 0; i < queries.size(); i++) {
            // A state that answers a non-finite value is not used: the base answers, as for a task
            // without a usable state.
            boolean adapted = states.get(i) != null && !values.fellBack(i);
            answers.add(new Answer(values.values()[i][0], values.isFinite(i), values.fellBack(i), adapted,
                    adapted ? supportSizes[i] : 0, adapted ? adaptedThrough[i] : 0L,
                    adapted ? MetastreamMetrics.PredictionPath.ADAPTED
                            : hasSamples[i] ? MetastreamMetrics.PredictionPath.FELL_BACK
                            : MetastreamMetrics.PredictionPath.COLD));
        }
        return answers;
    }

    /**
     * {@link #predict} for a base that classifies: one batched {@link io.metastream.learn.Learner#classify}
     * for the queries whose task has a state of at least two classes under {@code base}; the rest
     * answer by the cold rule ({@link ClassAnswers#cold}).
     */
    private List<Answer> classify(List<PendingQuery> queries, Prepared prepared, BaseModel base) {
        int n = queries.size();
        float[][] states = new float[n][];
        List<List<String>> labels = new ArrayList<>(n);
        int[] supportSizes = new int[n];
        long[] adaptedThrough = new long[n];
        boolean[] hasSamples = new boolean[n];
        List<Integer> asked = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            PendingQuery q = queries.get(i);
            AsOf own = prepared.asOf.get(i);
            List<String> classes;
            if (own != null) {
                states[i] = own.state() == null ? null : own.state().state();
                classes = own.labels();
                supportSizes[i] = own.state() == null ? 0 : own.state().supportSize();
                adaptedThrough[i] = own.state() == null ? 0L : own.newestSampleMs();
                hasSamples[i] = own.state() != null;
            } else {
                TaskStateStore.State state = tasks.stateFor(q.getTaskId(), base);
                if (state.held() && !state.usable() && settings.adaptationEnabled()) {
                    tasks.markDirty(q.getTaskId(), q.getReceivedTimestamp().toEpochMilli());
                }
                states[i] = state.weights();
                classes = state.labels(); // empty unless usable
                supportSizes[i] = state.supportSize();
                adaptedThrough[i] = state.newestSampleMs();
                hasSamples[i] = state.held() || tasks.isDirty(q.getTaskId());
            }
            labels.add(classes);
            if (ClassAnswers.answeredByModel(states[i], classes)) {
                asked.add(i);
            }
        }
        float[][][] probabilities = new float[n][][];
        if (!asked.isEmpty()) {
            List<float[]> askedStates = new ArrayList<>(asked.size());
            List<float[][]> inputs = new ArrayList<>(asked.size());
            int[] counts = new int[asked.size()];
            for (int k = 0; k < asked.size(); k++) {
                int i = asked.get(k);
                askedStates.add(states[i]);
                inputs.add(new float[][] {Floats.toArray(queries.get(i).getFeatures())});
                counts[k] = labels.get(i).size();
            }
            float[][][] p = model.learner().classify(base, askedStates, inputs, counts);
            for (int k = 0; k < asked.size(); k++) {
                probabilities[asked.get(k)] = p[k];
            }
        }
        List<Answer> answers = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            float[] p = probabilities[i] == null ? null : probabilities[i][0];
            if (p == null) {
                ClassAnswers cold = ClassAnswers.cold(labels.get(i));
                answers.add(new Answer(cold.probability(), true, false, false, 0, 0L, hasSamples[i]
                        ? MetastreamMetrics.PredictionPath.FELL_BACK : MetastreamMetrics.PredictionPath.COLD,
                        cold.label(), cold.scores()));
                continue;
            }
            ClassAnswers answer = ClassAnswers.of(p, labels.get(i));
            answers.add(new Answer(answer.probability(), Finite.all(p), false, true, supportSizes[i],
                    adaptedThrough[i], MetastreamMetrics.PredictionPath.ADAPTED, answer.label(), answer.scores()));
        }
        return answers;
    }

    // ---- rounds of adaptation, background or not -----------------------------------------------

    /** Tasks read for one adaptation, and once its job is done, their encoded states. */
    private static final class Round {
        private final List<String> ids;
        private final long[] newest;
        /** Per task, a classifier's labels in class-index order; empty for a regression base. */
        private final List<List<String>> labels;
        private final AdaptedStateCodec.Encoded[] states;
        private final AdaptationEngine.Job job;

        /** @param stored how many of the tasks, from the first, get a state to store (the rest answer queries as of a time) */
        private Round(List<String> ids, long[] newest, BaseModel base, List<SampleSet> supports,
                List<List<String>> labels, int encoding, int stored) {
            this.ids = List.copyOf(ids);
            this.newest = newest;
            this.labels = labels;
            this.states = new AdaptedStateCodec.Encoded[stored];
            // Encoding (a pass over every weight) runs where the learner ran, off the stream thread.
            this.job = new AdaptationEngine.Job(base, this.ids, supports, done -> {
                float[] baseParameters = base.parameters();
                for (int i = 0; i < states.length; i++) {
                    // A non-finite state (the built-in learners fall back instead; an application's
                    // learner may not) is never encoded: it would answer the task for days.
                    if (done.result(i) != null && Finite.all(done.result(i).state())) {
                        states[i] = AdaptedStateCodec.encode(done.result(i).state(), baseParameters, encoding);
                    }
                }
            });
        }

        boolean isDone() {
            return job.isDone();
        }
    }

    /** Reads the support sets of {@code taskIds} for an adaptation to {@code base}. */
    private Round prepare(List<String> taskIds, BaseModel base) {
        List<SampleSet> supports = new ArrayList<>(taskIds.size());
        List<List<String>> labels = new ArrayList<>(taskIds.size());
        long[] newest = new long[taskIds.size()];
        for (int i = 0; i < taskIds.size(); i++) {
            TaskStateStore.Snapshot snapshot = tasks.snapshot(taskIds.get(i));
            PackedSupportSet.LearnerSupport support = snapshot.supportFor(base);
            supports.add(support.support());
            labels.add(support.labels());
            newest[i] = snapshot.newestEventTimeMs();
        }
        return new Round(taskIds, newest, base, supports, labels, settings.stateEncoding(), taskIds.size());
    }

    /**
     * Writes a finished round's states and returns its events; {@link #failures} lists the tasks
     * it could not adapt. A task in {@code changed} got samples after the round read its support
     * set: it stays dirty, and its new state is written only over an older one. A task in
     * {@code dropped} was forgotten meanwhile and is left alone.
     */
    private List<AdaptationEvent> record(Round round, int storedCount, Set<String> changed, Set<String> dropped,
            long nowMs) {
        AdaptationEngine.Job job = round.job;
        BaseModel base = job.base();
        Instant now = Instant.ofEpochMilli(nowMs);
        List<AdaptationEvent> events = new ArrayList<>(storedCount);
        for (int i = 0; i < storedCount; i++) {
            String id = round.ids.get(i);
            TaskAdaptation result = job.result(i);
            if (result == null || dropped.contains(id)) {
                continue;
            }
            Instant newestSample = Instant.ofEpochMilli(round.newest[i]);
            AdaptedStateCodec.Encoded state = round.states[i];
            boolean fellBack = result.fellBack();
            float lossBefore = finiteLoss(result.lossBefore());
            float lossAfter = finiteLoss(result.lossAfter());
            AdaptedTask stored = null;
            if (state == null) {
                // Not finite: fall back to the base as the built-in learners do. With no stored
                // state the base answers the task's queries until its next adaptation.
                fellBack = true;
                lossAfter = lossBefore;
            } else {
                stored = AdaptedTask.newBuilder().setBaseVersion(base.version())
                        .setSupportSize(result.supportSize()).setState(state.bytes())
                        .setStateEncoding(state.encoding()).setLossBefore(lossBefore).setLossAfter(lossAfter)
                        .setAdaptedAt(now).setNewestSampleTime(newestSample)
                        .setLabels(round.labels.get(i)).build();
            }
            if (changed.contains(id)) {
                if (!tasks.writeStateIfNewer(id, stored, round.newest[i])) {
                    continue;
                }
            } else {
                tasks.clearDirty(id);
                tasks.writeState(id, stored);
            }
            metrics.adapted(fellBack, nowMs - round.newest[i]);
            events.add(AdaptationEvent.newBuilder().setTaskId(id).setBaseVersion(base.version())
                    .setSupportSize(result.supportSize()).setLossBefore(lossBefore)
                    .setLossAfter(lossAfter).setSteps(job.steps()).setMicros(job.microsPerTask())
                    .setBatchSize(job.callSize()).setFellBack(fellBack).setDevice(job.device())
                    .setNewestSampleTime(newestSample).build());
        }
        return events;
    }

    /** The tasks of a finished round whose adaptation failed; each leaves the dirty store. */
    private List<Failure> failures(Round round) {
        List<Failure> out = new ArrayList<>();
        for (int i = 0; i < round.ids.size(); i++) {
            if (round.job.error(i) != null) {
                out.add(new Failure(round.ids.get(i), round.job.error(i)));
                tasks.clearDirty(round.ids.get(i));
            }
        }
        return out;
    }

    /**
     * A support loss as written: one that overflowed float32 (an extreme sample's squared error)
     * or is NaN becomes {@link Float#MAX_VALUE}, "too large to tell", because nothing non-finite is
     * published and a NaN on the adaptations topic would poison every mean computed from it.
     */
    static float finiteLoss(float loss) {
        return Float.isFinite(loss) ? loss : Float.MAX_VALUE;
    }
}

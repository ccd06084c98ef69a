package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;
import io.metastream.learn.SampleSet;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.StoreNames;
import io.metastream.streams.TopologySettings;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Everything one stream task of a pipeline knows per task, and the one owner of its three stores:
 * the support set ({@value StoreNames#SUPPORT_SETS}), the adapted state
 * ({@value StoreNames#ADAPTED_TASKS}) and the dirty mark ({@value StoreNames#DIRTY_TASKS}).
 *
 * <p><b>Support sets</b> hold each task's most recent samples by event time, bounded, without
 * duplicates. A redelivered sample is recognised by its event id while it is retained, and by its
 * age once it has been evicted: a full set ignores a sample older than everything it holds, so a
 * late redelivery can never push out a newer sample.
 *
 * <p><b>Adapted states</b> belong to the base they were adapted under: {@link #stateFor} is the one
 * place that decides whether a state is usable for a base, and decodes it. A state adapted under
 * another base is never read by this one (it may be another kind of learner); the task is
 * re-adapted instead.
 *
 * <p><b>Adapted states are derived data, kept locally only.</b> A state is a function of the
 * support set and the base, so its store has no changelog: with adaptation on it would carry about
 * as many bytes as the support sets do, through the broker and its disk, for state that costs
 * microseconds to recompute. Where the local store is gone (a crash under exactly-once wipes it,
 * a rebalance moves the task, a standby holds only changelogged stores), a task that holds samples
 * but no state is stale like one adapted under another base ({@link #needsAdaptation}); the sample
 * processor marks such tasks dirty once after it starts ({@link #markUnadapted}), so its background
 * rounds re-adapt them. Dirty marks say which states are behind their sets, so they live and go
 * with the states: local too.
 *
 * <p><b>Retention</b> ({@link TaskRetention}, over the {@value StoreNames#TASK_INDEX}) forgets
 * tasks idle too long or beyond the instance's bound, all three stores at once. Only the sample
 * processor adds tasks, so only its view ({@link #withRetention}) can {@link #append} and
 * {@link #expire}.
 *
 * <p>Used on the stream thread that owns the stream task; the read-only view ({@link #readOnly})
 * serves interactive queries from any thread.
 */
public final class TaskStateStore {
    private final ReadOnlyKeyValueStore<String, PackedSupportSet> sets;
    private final ReadOnlyKeyValueStore<String, AdaptedTask> adapted;
    private final ReadOnlyKeyValueStore<String, Long> dirty;
    /** The same stores as above, writable; null in a read-only view. */
    private final Writable writable;
    private final int supportMaxSize;
    /** null: this view does not add or remove tasks. */
    private final TaskRetention retention;
    /** The parameters of the base a state was last decoded for (a copy per base, not per state). */
    private BaseParameters decodedFor;

    private record Writable(KeyValueStore<String, PackedSupportSet> sets, KeyValueStore<String, AdaptedTask> adapted,
            KeyValueStore<String, Long> dirty) {
    }

    private record BaseParameters(BaseModel base, float[] values) {
    }

    TaskStateStore(KeyValueStore<String, PackedSupportSet> sets, KeyValueStore<String, AdaptedTask> adapted,
            KeyValueStore<String, Long> dirty, int supportMaxSize, TaskRetention retention) {
        this.sets = sets;
        this.unadapted = new SupportSetWalk(sets);
        this.adapted = adapted;
        this.dirty = dirty;
        this.writable = new Writable(sets, adapted, dirty);
        this.supportMaxSize = supportMaxSize;
        this.retention = retention;
    }

    private TaskStateStore(ReadOnlyKeyValueStore<String, PackedSupportSet> sets,
            ReadOnlyKeyValueStore<String, AdaptedTask> adapted, ReadOnlyKeyValueStore<String, Long> dirty) {
        this.sets = sets;
        this.unadapted = new SupportSetWalk(sets);
        this.adapted = adapted;
        this.dirty = dirty;
        this.writable = null;
        this.supportMaxSize = 0;
        this.retention = null;
    }

    /** The sample processor's view: every store of the pipeline, retention included. */
    static TaskStateStore withRetention(ProcessorContext<?, ?> context, PipelineNames names,
            TopologySettings settings, AtomicLong instanceTasks, MetastreamMetrics metrics) {
        KeyValueStore<String, PackedSupportSet> sets = context.getStateStore(names.supportSets());
        KeyValueStore<String, AdaptedTask> adapted = context.getStateStore(names.adaptedTasks());
        KeyValueStore<String, Long> dirty = context.getStateStore(names.dirtyTasks());
        TaskRetention retention = new TaskRetention(sets, adapted, dirty,
                new TaskIndex(context.getStateStore(names.taskIndex())), instanceTasks, settings.limits(), metrics,
                names.supportSets() + "@" + context.taskId());
        return new TaskStateStore(sets, adapted, dirty, settings.supportMaxSize(), retention);
    }

    /** The query processor's view: reads support sets, writes adapted states and dirty marks. */
    static TaskStateStore of(ProcessorContext<?, ?> context, PipelineNames names, TopologySettings settings) {
        return new TaskStateStore(context.getStateStore(names.supportSets()),
                context.getStateStore(names.adaptedTasks()), context.getStateStore(names.dirtyTasks()),
                settings.supportMaxSize(), null);
    }

    /** Reads the stores as interactive queries hand them out; every write throws. */
    public static TaskStateStore readOnly(ReadOnlyKeyValueStore<String, PackedSupportSet> sets,
            ReadOnlyKeyValueStore<String, AdaptedTask> adapted, ReadOnlyKeyValueStore<String, Long> dirty) {
        return new TaskStateStore(sets, adapted, dirty);
    }

    // ---- support sets -------------------------------------------------------------------------

    /**
     * What an append did: whether the sample was kept, and the tasks retention evicted to make room
     * for a new one.
     */
    record Appended(boolean kept, List<String> evicted) {
        static final Appended IGNORED = new Appended(false, List.of());
    }

    /**
     * Appends a sample to its task's support set, evicting the oldest beyond the bound, and, for a
     * new task over the instance's bound, the least recently updated other task.
     *
     * @return not {@link Appended#kept} when a sample with the same event id is already retained (a
     *     redelivery), or the set is full of newer samples; nothing is written then
     */
    Appended append(LabelledSample sample, long nowMs) {
        TaskRetention retention = retention();
        PackedSupportSet current = sets.get(sample.getTaskId());
        PackedSupportSet next = (current == null ? PackedSupportSet.empty() : current).append(sample.getEventId(),
                sample.getLabel(), Floats.toArray(sample.getFeatures()), sample.getTarget(),
                sample.getEventTime().toEpochMilli(), supportMaxSize, nowMs);
        if (next == null) {
            return Appended.IGNORED;
        }
        writable().sets().put(sample.getTaskId(), next);
        List<String> evicted = retention.updated(sample.getTaskId(), current == null,
                current == null ? 0L : current.lastUpdatedMs(), nowMs);
        return new Appended(true, evicted);
    }

    /** The task's support set as stored, or null. */
    public PackedSupportSet supportSet(String taskId) {
        return sets.get(taskId);
    }

    /**
     * A task's support set for a learner (its samples up to a time), the event time of its newest
     * sample (0 when empty), and the samples it has ever accepted: a later read with more means the
     * task changed meanwhile. The samples are decoded when asked for, as a regression base or a
     * classifier reads them.
     */
    static final class Snapshot {
        private final PackedSupportSet set;
        private final long upToMs;
        private final long newestEventTimeMs;
        private final long totalSeen;

        private Snapshot(PackedSupportSet set, long upToMs, long newestEventTimeMs, long totalSeen) {
            this.set = set;
            this.upToMs = upToMs;
            this.newestEventTimeMs = newestEventTimeMs;
            this.totalSeen = totalSeen;
        }

        /** The samples, targets as sent. */
        SampleSet support() {
            return set.samplesUpTo(upToMs);
        }

        /** The samples as {@code base}'s learner reads them ({@link PackedSupportSet#supportFor}). */
        PackedSupportSet.LearnerSupport supportFor(BaseModel base) {
            return set.supportFor(base, upToMs);
        }

        long newestEventTimeMs() {
            return newestEventTimeMs;
        }

        long totalSeen() {
            return totalSeen;
        }
    }

    /** The task's support set; empty when the task has none. */
    Snapshot snapshot(String taskId) {
        PackedSupportSet set = sets.get(taskId);
        return set == null ? new Snapshot(PackedSupportSet.empty(), Long.MAX_VALUE, 0L, 0L)
                : new Snapshot(set, Long.MAX_VALUE, set.lastSeenMs(), set.totalSeen());
    }

    /**
     * The samples of the task with an event time at or before {@code timeMs}, or {@code null} when
     * that is all of them (the task's current support set applies).
     */
    Snapshot asOf(String taskId, long timeMs) {
        PackedSupportSet set = sets.get(taskId);
        if (set == null || set.lastSeenMs() <= timeMs) {
            return null;
        }
        return new Snapshot(set, timeMs, set.newestUpTo(timeMs), set.totalSeen());
    }

    // ---- dirty marks --------------------------------------------------------------------------

    /** Whether the task's support set changed since its state was last written. */
    public boolean isDirty(String taskId) {
        return dirty.get(taskId) != null;
    }

    /** Marks the task for adaptation; a task already marked keeps the time it was first marked at. */
    void markDirty(String taskId, long sinceMs) {
        if (dirty.get(taskId) == null) {
            writable().dirty().put(taskId, sinceMs);
        }
    }

    void clearDirty(String taskId) {
        writable().dirty().delete(taskId);
    }

    /** Where {@link #markUnadapted} goes on. */
    private final SupportSetWalk unadapted;

    /**
     * Marks dirty up to {@code budget} tasks that hold samples but no adapted state of them, walking
     * the support sets in key order from where the last call stopped: after a restore from the
     * changelogs (adapted states and dirty marks have none), the background rounds re-adapt every
     * such task instead of leaving it to the base until its next sample or query.
     *
     * @return whether the walk reached the end
     */
    boolean markUnadapted(int budget, long nowMs) {
        return unadapted.step(budget, (taskId, set) -> {
            if (set.size() > 0 && !coversItsSet(adapted.get(taskId), set)) {
                markDirty(taskId, nowMs);
            }
        });
    }

    /**
     * Whether {@code state} was adapted to a set holding {@code set}'s newest sample. Under
     * exactly-once the local stores are wiped or kept whole, so a state is missing or current; under
     * at-least-once a crash loses the writes RocksDB had not flushed, so a state (and its dirty mark,
     * equally local) may predate the support set restored from its changelog.
     */
    private static boolean coversItsSet(AdaptedTask state, PackedSupportSet set) {
        return state != null && state.getNewestSampleTime().toEpochMilli() >= set.lastSeenMs();
    }

    /** Every task marked dirty, in key order. */
    List<String> dirtyTasks() {
        List<String> ids = new ArrayList<>();
        try (KeyValueIterator<String, Long> it = dirty.all()) {
            while (it.hasNext()) {
                ids.add(it.next().key);
            }
        }
        return ids;
    }

    // ---- adapted states -----------------------------------------------------------------------

    /**
     * What a task's stored adapted state offers one base: {@code weights} to predict with when it
     * was adapted under that base, none when the task has no state ({@link #NONE}) or one adapted
     * under another base ({@code held} but not {@link #usable}).
     */
    public record State(boolean held, float[] weights, int supportSize, long newestSampleMs, List<String> labels) {
        static final State NONE = new State(false, null, 0, 0L, List.of());
        /** A state adapted under another base, or samples without a state: the task must be re-adapted. */
        static final State STALE = new State(true, null, 0, 0L, List.of());

        public boolean usable() {
            return weights != null;
        }
    }

    /**
     * The task's adapted state for {@code base}, decoded: the one rule for whether a stored state may
     * answer for a base (it was adapted under that very base version).
     *
     * @throws IllegalArgumentException if the stored bytes do not decode for {@code base} (corrupt)
     */
    public State stateFor(String taskId, BaseModel base) {
        AdaptedTask state = adapted.get(taskId);
        if (state == null) {
            return sets.get(taskId) == null ? State.NONE : State.STALE;
        }
        if (!adaptedUnder(state, base)) {
            return State.STALE;
        }
        // Always the decoded bytes, also right after adapting: answers must not depend on whether
        // the state came from this run or from a changelog restore.
        float[] weights = AdaptedStateCodec.decode(state.getState(), state.getStateEncoding(), parametersOf(base));
        return new State(true, weights, state.getSupportSize(), state.getNewestSampleTime().toEpochMilli(),
                state.getLabels());
    }

    /**
     * Whether the task needs adapting before it can answer under {@code base}: its support set changed
     * since its state was written (dirty), its state was adapted under another base, or it holds
     * samples but no state (the local state was lost). A swap re-adapts lazily, by the next query
     * that needs it, so it costs nothing for tasks nobody asks about.
     */
    boolean needsAdaptation(String taskId, BaseModel base) {
        if (isDirty(taskId)) {
            return true;
        }
        AdaptedTask state = adapted.get(taskId);
        return state == null ? sets.get(taskId) != null : !adaptedUnder(state, base);
    }

    private static boolean adaptedUnder(AdaptedTask state, BaseModel base) {
        return state.getBaseVersion().equals(base.version());
    }

    private float[] parametersOf(BaseModel base) {
        BaseParameters cached = decodedFor;
        if (cached == null || cached.base() != base) {
            cached = new BaseParameters(base, base.parameters());
            decodedFor = cached;
        }
        return cached.values();
    }

    /** The task's adapted state as stored, or null. */
    public AdaptedTask adapted(String taskId) {
        return adapted.get(taskId);
    }

    /**
     * Whether the task surely holds no sample after {@code timeMs}, known without decoding its
     * support set: a task that is not dirty has its whole set in its adapted state, and that state
     * records its newest sample. Dirty tasks, and tasks without a state, need the set read.
     */
    boolean holdsNothingAfter(String taskId, long timeMs) {
        if (isDirty(taskId)) {
            return false;
        }
        AdaptedTask state = adapted.get(taskId);
        if (state == null) {
            PackedSupportSet set = sets.get(taskId);
            return set == null || set.lastSeenMs() <= timeMs;
        }
        return !state.getNewestSampleTime().isAfter(Instant.ofEpochMilli(timeMs));
    }

    /**
     * Writes the task's adapted state; {@code null} removes it, so the base answers the task until
     * its next adaptation.
     */
    void writeState(String taskId, AdaptedTask state) {
        if (state == null) {
            writable().adapted().delete(taskId);
        } else {
            writable().adapted().put(taskId, state);
        }
    }

    /**
     * As {@link #writeState}, unless the stored state already reflects a sample as new as
     * {@code newestSampleMs} (written meanwhile, by a query-time adaptation on newer samples).
     *
     * @return whether it was written
     */
    boolean writeStateIfNewer(String taskId, AdaptedTask state, long newestSampleMs) {
        AdaptedTask stored = adapted.get(taskId);
        if (stored != null && !stored.getNewestSampleTime().isBefore(Instant.ofEpochMilli(newestSampleMs))) {
            return false;
        }
        writeState(taskId, state);
        return true;
    }

    // ---- retention ----------------------------------------------------------------------------

    /**
     * Counts this stream task's tasks into the instance's count.
     *
     * @return false: the task index is checked against the support sets by {@link #backfill} calls
     *     until one returns true
     */
    boolean open() {
        return retention().open();
    }

    /** Indexes a batch of support sets the task index lacks (restored, or from before it); true once done. */
    boolean backfill() {
        return retention().backfill();
    }

    /**
     * Forgets tasks with no new sample for {@code task.ttl.ms}, and this stream task's share of an
     * instance over {@code task.max.count}, a bounded number per call.
     *
     * @return the tasks removed
     */
    List<String> expire(long nowMs) {
        return retention().expire(nowMs);
    }

    /** Takes this stream task's tasks out of the instance's count (closed or revoked). */
    void close() {
        if (retention != null) {
            retention.close();
        }
    }

    private TaskRetention retention() {
        if (retention == null) {
            throw new IllegalStateException("this view of the task states does not add or remove tasks");
        }
        return retention;
    }

    private Writable writable() {
        if (writable == null) {
            throw new IllegalStateException("a read-only view of the task states");
        }
        return writable;
    }
}

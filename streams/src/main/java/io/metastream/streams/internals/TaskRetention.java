package io.metastream.streams.internals;

import io.metastream.schemas.state.AdaptedTask;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.TopologySettings;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which tasks one stream task keeps: at most {@code task.max.count} per instance, none idle for
 * {@code task.ttl.ms}. A task goes as a whole (support set, adapted state and dirty mark, so the
 * delete reaches the support set's changelog and restored state forgets too), found through the
 * {@link TaskIndex} rather than a scan of the support sets, at most
 * {@code task.expiry.max.per.punctuation} per punctuation. Runs on the stream thread that owns the
 * stream task.
 *
 * <p><b>The bound is per instance.</b> Every stream task of the instance adds its tasks to one
 * shared count ({@code instanceTasks}). A stream task that takes a new task while the instance is
 * at the bound evicts its own least recently updated task (stores belong to one stream task, so it
 * cannot evict another's); the one it just took is never evicted there, so the instance may go over
 * by at most one task per stream task. When a rebalance brings more tasks than the bound, each
 * stream task trims its share of the excess ({@code excess * own / instance}) on its next expiry
 * punctuation. Several threads may evict at once for the same excess, so the count may briefly end
 * a few tasks below the bound.
 *
 * <p><b>The index is derived from the support sets</b> and kept locally, without a changelog: a
 * restore (and state written before the index existed) brings support sets without index entries.
 * Every open therefore indexes the store by a backfill that walks the support sets in key order, at
 * most the same budget per call, every second until it reaches the end (then it writes the index's
 * completion mark). Until then, tasks not yet reached do not expire and do not count towards the
 * bound. The walk is idempotent (a task appended meanwhile already has its entry).
 *
 * <p>Every removal is verified against the support set: an entry whose task is gone, or whose set
 * was written at another time, is a stale entry and is dropped (and the set's own entry restored if
 * missing), so the index heals rather than deleting a task that is still active.
 */
public final class TaskRetention {
    private static final Logger LOG = LoggerFactory.getLogger(TaskRetention.class);

    private final KeyValueStore<String, PackedSupportSet> sets;
    private final KeyValueStore<String, AdaptedTask> adapted;
    private final KeyValueStore<String, Long> dirty;
    private final TaskIndex index;
    private final AtomicLong instanceTasks;
    private final long maxTasks;
    private final long ttlMs;
    private final int budget;
    private final MetastreamMetrics metrics;
    private final String where;
    /** Entries of this store's index, as added to {@link #instanceTasks}. */
    private long own;
    private boolean complete;
    private final SupportSetWalk backfillWalk;

    TaskRetention(KeyValueStore<String, PackedSupportSet> sets, KeyValueStore<String, AdaptedTask> adapted,
            KeyValueStore<String, Long> dirty, TaskIndex index, AtomicLong instanceTasks,
            TopologySettings.Limits limits, MetastreamMetrics metrics, String where) {
        this.sets = sets;
        this.backfillWalk = new SupportSetWalk(sets);
        this.adapted = adapted;
        this.dirty = dirty;
        this.index = index;
        this.instanceTasks = instanceTasks;
        this.maxTasks = limits.taskMaxCount();
        this.ttlMs = limits.taskTtlMs();
        this.budget = limits.expiryMaxPerPunctuation();
        this.metrics = metrics;
        this.where = where;
    }

    /**
     * Counts this store's tasks into the instance's count: one pass over the index keys when the
     * stream task is assigned, nothing decoded.
     *
     * @return false: call {@link #backfill} until it returns true
     */
    boolean open() {
        // The index is local (no changelog: it is derived from the support sets). After a restore it
        // is empty, and after an at-least-once crash it may lack the entries RocksDB had not flushed,
        // so every start walks the support sets once and indexes what is missing.
        complete = false;
        own = index.count();
        instanceTasks.addAndGet(own);
        return false;
    }

    /** Takes this store's tasks out of the instance's count (the stream task is closed or revoked). */
    void close() {
        instanceTasks.addAndGet(-own);
        own = 0;
    }

    /**
     * Moves the task's index entry to {@code nowMs} after its support set was written, and, if it
     * is a new task and the instance is over its bound, evicts the least recently updated tasks of
     * this stream task (never {@code taskId}).
     *
     * @param previousUpdateMs when the task's set was written before; meaningless for a new task
     * @return the tasks evicted
     */
    List<String> updated(String taskId, boolean newTask, long previousUpdateMs, long nowMs) {
        if (newTask) {
            index.put(nowMs, taskId);
            added(1);
            return evictOver(taskId);
        }
        long before = previousUpdateMs;
        if (before != nowMs) {
            // Until the backfill is done, a task may have a set but no entry yet: count it once indexed.
            boolean wasIndexed = complete || index.contains(before, taskId);
            index.delete(new TaskIndex.Entry(before, taskId));
            index.put(nowMs, taskId);
            if (!wasIndexed) {
                added(1);
            }
        }
        return List.of();
    }

    /**
     * Forgets tasks with no new sample for {@code task.ttl.ms}, least recently updated first, at
     * most the budget per call; then, if the instance is over its bound (after a rebalance), trims
     * this stream task's share of the excess within what is left of the budget.
     *
     * @return the tasks removed
     */
    List<String> expire(long nowMs) {
        List<String> removed = new ArrayList<>();
        // Saturating: a TTL longer than the epoch must not wrap around and expire everything.
        long cutoff = nowMs < Long.MIN_VALUE + ttlMs ? Long.MIN_VALUE : nowMs - ttlMs;
        for (TaskIndex.Entry e : index.oldest(cutoff, budget, null)) {
            if (remove(e)) {
                removed.add(e.taskId());
            }
        }
        if (!removed.isEmpty()) {
            metrics.tasksRemoved(MetastreamMetrics.TaskRemoval.EXPIRED, removed.size());
            LOG.debug("{}: expired {} tasks idle for {} ms", where, removed.size(), ttlMs);
        }
        long total = instanceTasks.get();
        long excess = total - maxTasks;
        if (excess > 0 && own > 0 && removed.size() < budget) {
            long share = Math.min(own, (excess * own + total - 1) / total);
            int n = (int) Math.min(share, budget - removed.size());
            removed.addAll(evict(index.oldest(Long.MAX_VALUE, n, null)));
        }
        return removed;
    }

    /**
     * Indexes up to the budget of support sets the index lacks (restored, or from before it); marks the index
     * complete once it has seen them all.
     *
     * @return whether the index is complete
     */
    boolean backfill() {
        if (complete) {
            return true;
        }
        int[] indexed = {0};
        complete = backfillWalk.step(budget, (taskId, set) -> {
            long updated = set.lastUpdatedMs();
            if (!index.contains(updated, taskId)) {
                index.put(updated, taskId);
                indexed[0]++;
            }
        });
        added(indexed[0]);
        if (complete) {
            index.markComplete();
            LOG.info("{}: task index complete ({} tasks)", where, own);
        }
        return complete;
    }

    /**
     * If the instance holds more than {@code task.max.count} tasks, evicts this stream task's least
     * recently updated one other than {@code keep}, as long as it holds another: one for one, so a
     * new task never costs more than one eviction inside {@code process()}. A larger excess (after
     * a rebalance, or a bound lowered) is trimmed by the expiry punctuation, within its budget.
     */
    private List<String> evictOver(String keep) {
        // A few tries: an index entry left by a task already gone is dropped, not counted as an eviction.
        for (int attempt = 0; attempt < 8 && instanceTasks.get() > maxTasks && own > 1; attempt++) {
            List<TaskIndex.Entry> lru = index.oldest(Long.MAX_VALUE, 1, keep);
            if (lru.isEmpty()) {
                break;
            }
            List<String> evicted = evict(lru);
            if (!evicted.isEmpty()) {
                return evicted;
            }
        }
        return List.of();
    }

    private List<String> evict(List<TaskIndex.Entry> entries) {
        List<String> evicted = new ArrayList<>();
        for (TaskIndex.Entry e : entries) {
            if (remove(e)) {
                evicted.add(e.taskId());
                LOG.debug("{}: evicted task {} (last updated at {} ms), task.max.count={} reached", where,
                        e.taskId(), e.updatedMs(), maxTasks);
            }
        }
        if (!evicted.isEmpty()) {
            metrics.tasksRemoved(MetastreamMetrics.TaskRemoval.EVICTED, evicted.size());
        }
        return evicted;
    }

    /**
     * Removes the task of {@code e}, or only {@code e} when it is stale.
     *
     * @return whether a task was removed
     */
    private boolean remove(TaskIndex.Entry e) {
        index.delete(e);
        added(-1);
        PackedSupportSet set = sets.get(e.taskId());
        if (set == null) {
            return false;
        }
        long actual = set.lastUpdatedMs();
        if (actual != e.updatedMs()) {
            if (!index.contains(actual, e.taskId())) {
                index.put(actual, e.taskId());
                added(1);
            }
            return false;
        }
        sets.delete(e.taskId());
        adapted.delete(e.taskId());
        dirty.delete(e.taskId());
        return true;
    }

    private void added(long n) {
        own += n;
        instanceTasks.addAndGet(n);
    }
}

package io.metastream.streams.internals;

import io.metastream.learn.Support;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.state.SupportPoint;
import io.metastream.schemas.state.SupportSet;
import io.metastream.streams.StoreNames;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Typed access to the {@value StoreNames#SUPPORT_SETS} store: each task's most recent samples by
 * event time, bounded, without duplicates. A redelivered sample is recognised by its event id while
 * it is retained, and by its age once it has been evicted: a full set ignores a sample older than
 * everything it holds, so a late redelivery can never push out a newer sample.
 */
public final class SupportSetStore {
    private final KeyValueStore<String, SupportSet> store;
    private final int maxSize;

    SupportSetStore(KeyValueStore<String, SupportSet> store, int maxSize) {
        this.store = store;
        this.maxSize = maxSize;
    }

    /**
     * What an append did. {@code previousUpdateMs} is when the task's set was written before
     * (its {@code last_updated}), meaningful only when it is not {@code newTask}.
     */
    record Appended(boolean kept, boolean newTask, long previousUpdateMs) {
        static final Appended IGNORED = new Appended(false, false, 0L);
    }

    /**
     * Appends a sample, evicting the oldest beyond the bound.
     *
     * @return not {@link Appended#kept} when a sample with the same event id is already retained (a
     *     redelivery), or the set is full of newer samples; the set is not written then
     */
    Appended append(LabelledSample sample, long nowMs) {
        SupportSet current = store.get(sample.getTaskId());
        List<SupportPoint> points = current == null ? new ArrayList<>() : new ArrayList<>(current.getPoints());
        for (SupportPoint p : points) {
            if (p.getEventId().equals(sample.getEventId())) {
                return Appended.IGNORED;
            }
        }
        Instant time = sample.getEventTime();
        if (points.size() >= maxSize && time.isBefore(points.get(0).getEventTime())) {
            return Appended.IGNORED;
        }
        int at = points.size();
        while (at > 0 && points.get(at - 1).getEventTime().isAfter(time)) {
            at--;
        }
        points.add(at, SupportPoint.newBuilder().setEventId(sample.getEventId()).setFeatures(sample.getFeatures())
                .setTarget(sample.getTarget()).setEventTime(time).build());
        while (points.size() > maxSize) {
            points.remove(0);
        }
        long seen = current == null ? 1 : current.getTotalSeen() + 1;
        Instant lastSeen = current == null || time.isAfter(current.getLastSeen()) ? time : current.getLastSeen();
        store.put(sample.getTaskId(), SupportSet.newBuilder().setPoints(points).setTotalSeen(seen)
                .setLastSeen(lastSeen).setLastUpdated(Instant.ofEpochMilli(nowMs)).build());
        return current == null ? new Appended(true, true, 0L)
                : new Appended(true, false, current.getLastUpdated().toEpochMilli());
    }

    /** A task's support set for a learner, and the event time of its newest sample (0 when empty). */
    record Snapshot(Support support, long newestEventTimeMs) {
    }

    /** The task's support set; empty when the task has none. */
    Snapshot snapshot(String taskId) {
        SupportSet set = store.get(taskId);
        return set == null ? new Snapshot(new Support(new float[0][], new float[0]), 0L)
                : new Snapshot(toSupport(set.getPoints()), set.getLastSeen().toEpochMilli());
    }

    /**
     * The samples of the task with an event time at or before {@code timeMs}, or {@code null} when
     * that is all of them (the task's current support set applies).
     */
    Snapshot asOf(String taskId, long timeMs) {
        SupportSet set = store.get(taskId);
        if (set == null || !set.getLastSeen().isAfter(Instant.ofEpochMilli(timeMs))) {
            return null;
        }
        List<SupportPoint> before = new ArrayList<>();
        long newest = 0L;
        for (SupportPoint p : set.getPoints()) {
            if (!p.getEventTime().isAfter(Instant.ofEpochMilli(timeMs))) {
                before.add(p);
                newest = Math.max(newest, p.getEventTime().toEpochMilli());
            }
        }
        return new Snapshot(toSupport(before), newest);
    }

    private static Support toSupport(List<SupportPoint> points) {
        float[][] features = new float[points.size()][];
        float[] targets = new float[points.size()];
        for (int i = 0; i < points.size(); i++) {
            features[i] = Floats.toArray(points.get(i).getFeatures());
            targets[i] = points.get(i).getTarget();
        }
        return new Support(features, targets);
    }
}

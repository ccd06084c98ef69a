package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;
import io.metastream.learn.Finite;
import io.metastream.learn.Support;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.StoreNames;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Adapts a set of tasks of one stream task in batched learner calls and records the result: the
 * adapted states go to {@value StoreNames#ADAPTED_TASKS}, the tasks leave
 * {@value StoreNames#DIRTY_TASKS}, and one {@link AdaptationEvent} per task is returned for the
 * caller to forward. Reading the support sets ({@link #prepare}) and recording ({@link #record})
 * happen on the stream thread that owns the task, so they commit (or abort) together under
 * exactly-once; the learner call and the state encoding between them may run on the
 * {@link AdaptationEngine}'s thread. A state that is not finite is never stored: the task falls
 * back to the base (its stored state, if any, is removed). A support loss that is not finite is
 * written as {@link Float#MAX_VALUE}.
 */
public final class TaskAdaptation {
    private final AdaptationEngine engine;
    private final SupportSetStore supportSets;
    private final KeyValueStore<String, AdaptedTask> adapted;
    private final KeyValueStore<String, Long> dirty;
    private final int stateEncoding;
    private final MetastreamMetrics metrics;

    TaskAdaptation(AdaptationEngine engine, SupportSetStore supportSets, KeyValueStore<String, AdaptedTask> adapted,
            KeyValueStore<String, Long> dirty, int stateEncoding, MetastreamMetrics metrics) {
        this.metrics = metrics;
        this.engine = engine;
        this.stateEncoding = stateEncoding;
        this.supportSets = supportSets;
        this.adapted = adapted;
        this.dirty = dirty;
    }

    /** Tasks read for one adaptation, and once its job is done, their encoded states. */
    static final class Round {
        private final List<String> ids;
        private final long[] newest;
        private final AdaptedStateCodec.Encoded[] states;
        private final AdaptationEngine.Job job;

        private Round(List<String> ids, long[] newest, BaseModel base, List<Support> supports, int encoding) {
            this.ids = List.copyOf(ids);
            this.newest = newest;
            this.states = new AdaptedStateCodec.Encoded[ids.size()];
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

        /** Cancelled: the engine stopped before adapting it. */
        boolean isCancelled() {
            return job.isCancelled();
        }

        /** Nobody will record this round; its tasks stay dirty. */
        void cancel() {
            job.cancel();
        }
    }

    /** Reads the support sets of {@code taskIds} for an adaptation to {@code base}. */
    Round prepare(List<String> taskIds, BaseModel base) {
        List<Support> supports = new ArrayList<>(taskIds.size());
        long[] newest = new long[taskIds.size()];
        for (int i = 0; i < taskIds.size(); i++) {
            SupportSetStore.Snapshot snapshot = supportSets.snapshot(taskIds.get(i));
            supports.add(snapshot.support());
            newest[i] = snapshot.newestEventTimeMs();
        }
        return new Round(taskIds, newest, base, supports, stateEncoding);
    }

    /** Hands the round to the engine (which may finish it before returning). */
    void submit(Round round) {
        engine.submit(round.job);
    }

    /**
     * Adapts {@code taskIds} to {@code base} now, on this thread, and records the result: the caller
     * answers queries with these states next.
     *
     * @throws RuntimeException the first task's failure, if any failed; nothing is recorded then
     */
    List<AdaptationEvent> adapt(List<String> taskIds, BaseModel base) {
        if (taskIds.isEmpty()) {
            return List.of();
        }
        Round round = prepare(taskIds, base);
        engine.runHere(round.job);
        for (int i = 0; i < taskIds.size(); i++) {
            if (round.job.error(i) != null) {
                throw round.job.error(i);
            }
        }
        return record(round, Set.of(), Set.of());
    }

    /**
     * Writes a finished round's states and returns its events; {@link #failures} lists the tasks
     * it could not adapt. A task in {@code changed} got samples after the round read its support
     * set: it stays dirty, and its new state is written only over an older one (a query may have
     * adapted it meanwhile). A task in {@code dropped} was forgotten meanwhile and is left alone.
     */
    List<AdaptationEvent> record(Round round, Set<String> changed, Set<String> dropped) {
        AdaptationEngine.Job job = round.job;
        BaseModel base = job.base();
        Instant now = Instant.now();
        List<AdaptationEvent> events = new ArrayList<>(round.ids.size());
        for (int i = 0; i < round.ids.size(); i++) {
            String id = round.ids.get(i);
            io.metastream.learn.AdaptedTask result = job.result(i);
            if (result == null || dropped.contains(id)) {
                continue;
            }
            Instant newestSample = Instant.ofEpochMilli(round.newest[i]);
            boolean write = true;
            if (changed.contains(id)) {
                AdaptedTask stored = adapted.get(id);
                write = stored == null || stored.getNewestSampleTime().isBefore(newestSample);
            } else {
                dirty.delete(id);
            }
            if (!write) {
                continue;
            }
            AdaptedStateCodec.Encoded state = round.states[i];
            boolean fellBack = result.fellBack();
            float lossBefore = finiteLoss(result.lossBefore());
            float lossAfter = finiteLoss(result.lossAfter());
            if (state == null) {
                // Not finite: fall back to the base as the built-in learners do. With no stored
                // state the base answers the task's queries until its next adaptation.
                adapted.delete(id);
                fellBack = true;
                lossAfter = lossBefore;
            } else {
                adapted.put(id, AdaptedTask.newBuilder().setBaseVersion(base.version())
                        .setSupportSize(result.supportSize()).setState(state.bytes())
                        .setStateEncoding(state.encoding()).setLossBefore(lossBefore).setLossAfter(lossAfter)
                        .setAdaptedAt(now).setNewestSampleTime(newestSample).build());
            }
            metrics.adapted(fellBack, now.toEpochMilli() - round.newest[i]);
            events.add(AdaptationEvent.newBuilder().setTaskId(id).setBaseVersion(base.version())
                    .setSupportSize(result.supportSize()).setLossBefore(lossBefore)
                    .setLossAfter(lossAfter).setSteps(job.steps()).setMicros(job.microsPerTask())
                    .setBatchSize(job.callSize()).setFellBack(fellBack).setDevice(job.device())
                    .setNewestSampleTime(newestSample).build());
        }
        return events;
    }

    /**
     * A support loss as written: one that overflowed float32 (an extreme sample's squared error)
     * or is NaN becomes {@link Float#MAX_VALUE}, "too large to tell", because nothing non-finite is
     * published and a NaN on the adaptations topic would poison every mean computed from it.
     */
    static float finiteLoss(float loss) {
        return Float.isFinite(loss) ? loss : Float.MAX_VALUE;
    }

    /** A task the round could not adapt, and why. */
    record Failure(String taskId, RuntimeException error) {
    }

    /** The tasks of a finished round whose adaptation failed; each leaves the dirty store. */
    List<Failure> failures(Round round) {
        List<Failure> out = new ArrayList<>();
        for (int i = 0; i < round.ids.size(); i++) {
            if (round.job.error(i) != null) {
                out.add(new Failure(round.ids.get(i), round.job.error(i)));
                dirty.delete(round.ids.get(i));
            }
        }
        return out;
    }
}

package io.metastream.app.topology;

import io.metastream.app.model.ActiveModel;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Support;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.state.AdaptedTask;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Adapts a set of tasks of one stream task in a single batched learner call and records the
 * result: the adapted states go to {@value StoreNames#ADAPTED_TASKS}, the tasks leave
 * {@value StoreNames#DIRTY_TASKS}, and one {@link AdaptationEvent} per task is returned for the
 * caller to forward. Store writes and forwards stay on the stream thread that owns the task, so
 * they commit (or abort) together under exactly-once.
 */
final class TaskAdaptation {
    private final ActiveModel model;
    private final SupportSetStore supportSets;
    private final KeyValueStore<String, AdaptedTask> adapted;
    private final KeyValueStore<String, Long> dirty;
    private final int stateEncoding;

    TaskAdaptation(ActiveModel model, SupportSetStore supportSets, KeyValueStore<String, AdaptedTask> adapted,
            KeyValueStore<String, Long> dirty, int stateEncoding) {
        this.model = model;
        this.stateEncoding = stateEncoding;
        this.supportSets = supportSets;
        this.adapted = adapted;
        this.dirty = dirty;
    }

    List<AdaptationEvent> adapt(List<String> taskIds) {
        return adapt(taskIds, model.base());
    }

    /** Adapts {@code base} itself, so a caller that answers queries next uses the same version. */
    List<AdaptationEvent> adapt(List<String> taskIds, BaseModel base) {
        if (taskIds.isEmpty()) {
            return List.of();
        }
        List<Support> supports = new ArrayList<>(taskIds.size());
        long[] newest = new long[taskIds.size()];
        for (int i = 0; i < taskIds.size(); i++) {
            SupportSetStore.Snapshot snapshot = supportSets.snapshot(taskIds.get(i));
            supports.add(snapshot.support());
            newest[i] = snapshot.newestEventTimeMs();
        }
        AdaptedBatch batch = model.learner().adapt(base, supports);
        float[] baseParameters = base.parameters();
        Instant now = Instant.now();
        long perTaskMicros = batch.micros() / taskIds.size();
        List<AdaptationEvent> events = new ArrayList<>(taskIds.size());
        for (int i = 0; i < taskIds.size(); i++) {
            io.metastream.learn.AdaptedTask result = batch.tasks().get(i);
            String id = taskIds.get(i);
            Instant newestSample = Instant.ofEpochMilli(newest[i]);
            AdaptedStateCodec.Encoded state = AdaptedStateCodec.encode(result.state(), baseParameters,
                    stateEncoding);
            adapted.put(id, AdaptedTask.newBuilder().setBaseVersion(base.version())
                    .setSupportSize(result.supportSize()).setState(state.bytes()).setStateEncoding(state.encoding())
                    .setLossBefore(result.lossBefore()).setLossAfter(result.lossAfter()).setAdaptedAt(now)
                    .setNewestSampleTime(newestSample).build());
            dirty.delete(id);
            events.add(AdaptationEvent.newBuilder().setTaskId(id).setBaseVersion(base.version())
                    .setSupportSize(result.supportSize()).setLossBefore(result.lossBefore())
                    .setLossAfter(result.lossAfter()).setSteps(batch.steps()).setMicros(perTaskMicros)
                    .setBatchSize(taskIds.size()).setFellBack(result.fellBack()).setDevice(batch.device())
                    .setNewestSampleTime(newestSample).build());
        }
        return events;
    }
}

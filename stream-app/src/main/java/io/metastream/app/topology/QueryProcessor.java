package io.metastream.app.topology;

import io.metastream.app.model.ActiveModel;
import io.metastream.learn.BaseModel;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.SupportSet;
import java.util.Collections;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Queries in, predictions out. A task whose support set changed since its last adaptation is
 * adapted first (when {@code adaptation.on.query} is on), so a prediction reflects every sample
 * that came before it; a task with no support, or whose state belongs to another base version,
 * is answered by the base itself and marked for re-adaptation.
 */
final class QueryProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    private final ActiveModel model;
    private final TopologySettings settings;
    private KeyValueStore<String, AdaptedTask> adapted;
    private KeyValueStore<String, Long> dirty;
    private KeyValueStore<String, SupportSet> sets;
    private TaskAdaptation adaptation;
    private DeadLetters deadLetters;

    QueryProcessor(ActiveModel model, TopologySettings settings) {
        this.model = model;
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        super.init(context);
        sets = context.getStateStore(StoreNames.SUPPORT_SETS);
        adapted = context.getStateStore(StoreNames.ADAPTED_TASKS);
        dirty = context.getStateStore(StoreNames.DIRTY_TASKS);
        adaptation = new TaskAdaptation(model, new SupportSetStore(sets, settings.supportMaxSize()), adapted, dirty);
        deadLetters = new DeadLetters(context, MetastreamTopology.DEAD_LETTERS_SINK);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        BaseModel base = model.base();
        InputValidator.Outcome<PredictionRequest> outcome =
                InputValidator.query(record.key(), record.value(), base.inputDim());
        if (!outcome.isAccepted()) {
            deadLetters.send(record, outcome);
            return;
        }
        PredictionRequest query = outcome.record();
        String taskId = query.getTaskId();
        if (settings.adaptOnQuery() && dirty.get(taskId) != null) {
            for (AdaptationEvent event : adaptation.adapt(List.of(taskId))) {
                context().forward(new Record<String, SpecificRecord>(taskId, event, record.timestamp()),
                        MetastreamTopology.ADAPTATIONS_SINK);
            }
        }
        AdaptedTask state = adapted.get(taskId);
        boolean usable = state != null && state.getBaseVersion().equals(base.version());
        if (state != null && !usable && sets.get(taskId) != null && dirty.get(taskId) == null) {
            // Adapted under another base: answer with the base now, re-adapt on the next punctuation.
            dirty.put(taskId, record.timestamp());
        }
        float[] features = Floats.toArray(query.getFeatures());
        float value = model.learner().predict(base,
                Collections.singletonList(usable ? Floats.fromBytes(state.getState()) : null),
                List.<float[][]>of(new float[][] {features}))[0][0];
        long latencyMicros = Math.max(0, (context().currentSystemTimeMs() - record.timestamp()) * 1_000);
        Prediction prediction = Prediction.newBuilder().setQueryId(query.getQueryId()).setTaskId(taskId)
                .setValue(value).setModelVersion(base.version()).setSupportSize(usable ? state.getSupportSize() : 0)
                .setAdapted(usable).setLatencyMicros(latencyMicros).build();
        context().forward(new Record<String, SpecificRecord>(taskId, prediction, record.timestamp()),
                MetastreamTopology.PREDICTIONS_SINK);
    }
}

package io.metastream.app.topology;

import io.metastream.app.model.ActiveModel;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.SupportSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Samples in: validate, append to the task's support set, mark the task dirty. On a wall-clock
 * punctuator, adapt all dirty tasks of this stream task in one batched call.
 */
final class SampleProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    static final String WATERMARK_KEY = "samples";
    private final ActiveModel model;
    private final TopologySettings settings;
    private SupportSetStore supportSets;
    private KeyValueStore<String, Long> dirty;
    private TaskAdaptation adaptation;
    private DeadLetters deadLetters;
    private KeyValueStore<String, SupportSet> sets;
    private KeyValueStore<String, AdaptedTask> adapted;
    private KeyValueStore<String, Long> watermark;
    private long highestTimestamp = Long.MIN_VALUE;

    SampleProcessor(ActiveModel model, TopologySettings settings) {
        this.model = model;
        this.settings = settings;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        super.init(context);
        KeyValueStore<String, SupportSet> sets = context.getStateStore(StoreNames.SUPPORT_SETS);
        KeyValueStore<String, AdaptedTask> adapted = context.getStateStore(StoreNames.ADAPTED_TASKS);
        dirty = context.getStateStore(StoreNames.DIRTY_TASKS);
        supportSets = new SupportSetStore(sets, settings.supportMaxSize());
        adaptation = new TaskAdaptation(model, supportSets, adapted, dirty, settings.stateEncoding());
        deadLetters = new DeadLetters(context, MetastreamTopology.DEAD_LETTERS_SINK,
                settings.limits().deadLetterMaxValueBytes());
        this.sets = sets;
        this.adapted = adapted;
        this.watermark = context.getStateStore(StoreNames.SAMPLE_WATERMARK);
        if (settings.adaptationEnabled()) {
            context.schedule(Duration.ofMillis(settings.adaptationIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                    now -> adaptDirtyTasks());
        }
        context.schedule(Duration.ofMillis(settings.limits().expiryIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                this::expireIdleTasks);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        long now = context().currentSystemTimeMs();
        // Every record, valid or not, proves the partition has been read up to its timestamp.
        if (record.timestamp() > highestTimestamp) {
            highestTimestamp = record.timestamp();
            watermark.put(WATERMARK_KEY, highestTimestamp);
        }
        InputValidator.Outcome<LabelledSample> outcome = InputValidator.sample(record.key(), record.value(),
                model.base().inputDim(), settings.limits(), now);
        if (!outcome.isAccepted()) {
            deadLetters.send(record, outcome);
            return;
        }
        LabelledSample sample = outcome.record();
        if (supportSets.append(sample, now) && settings.adaptationEnabled() && dirty.get(sample.getTaskId()) == null) {
            dirty.put(sample.getTaskId(), record.timestamp());
        }
    }

    /**
     * Forgets tasks with no new sample for {@code task.ttl.ms}: support set, adapted state and
     * dirty mark go together (the deletes reach the changelogs, so restored state forgets too).
     */
    private void expireIdleTasks(long now) {
        long cutoff = now - settings.limits().taskTtlMs();
        List<String> idle = new ArrayList<>();
        try (KeyValueIterator<String, SupportSet> it = sets.all()) {
            while (it.hasNext()) {
                KeyValue<String, SupportSet> entry = it.next();
                if (entry.value.getLastUpdated().toEpochMilli() < cutoff) {
                    idle.add(entry.key);
                }
            }
        }
        for (String task : idle) {
            sets.delete(task);
            adapted.delete(task);
            dirty.delete(task);
        }
    }

    /** Adapts every dirty task, in batches of at most {@code adaptation.batch.max}. */
    private void adaptDirtyTasks() {
        List<String> batch = new ArrayList<>(settings.adaptationBatchMax());
        List<List<String>> batches = new ArrayList<>();
        try (KeyValueIterator<String, Long> it = dirty.all()) {
            while (it.hasNext()) {
                KeyValue<String, Long> entry = it.next();
                batch.add(entry.key);
                if (batch.size() == settings.adaptationBatchMax()) {
                    batches.add(batch);
                    batch = new ArrayList<>(settings.adaptationBatchMax());
                }
            }
        }
        if (!batch.isEmpty()) {
            batches.add(batch);
        }
        long now = context().currentSystemTimeMs();
        for (List<String> ids : batches) {
            for (AdaptationEvent event : adaptation.adapt(ids)) {
                context().forward(new Record<String, SpecificRecord>(event.getTaskId(), event, now),
                        MetastreamTopology.ADAPTATIONS_SINK);
            }
        }
    }
}

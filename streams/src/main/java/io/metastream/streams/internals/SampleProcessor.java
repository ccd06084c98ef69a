package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;

import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.LabelledSample;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.RejectReason;
import io.metastream.streams.TopologySettings;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Samples in: decode and validate, append to the task's support set ({@link TaskStateStore}), and
 * leave the task to {@link Adaptations} for its next background round; tasks leave by retention
 * (idle too long, or the instance holds too many). Every tick of the round schedule, the round in
 * flight is recorded once done and the next one started when due; its adaptation events are
 * forwarded and the tasks it could not adapt dead-lettered.
 */
public final class SampleProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    static final String WATERMARK_KEY = "samples";
    /** Key of the count of samples this stream task has kept, in the same in-memory store. */
    static final String KEPT_KEY = "kept";
    private final Pipeline pipeline;
    private final ActiveModel model;
    private final TopologySettings settings;
    private final PipelineNames names;
    private Cancellable backfill;
    private Cancellable unadapted;
    private TaskStateStore tasks;
    private Adaptations adaptations;
    private DeadLetters deadLetters;
    private KeyValueStore<String, Long> watermark;
    private long highestTimestamp = Long.MIN_VALUE;
    /** Samples kept since this processor started: a read-your-writes query's count can only be met when it moves. */
    private long kept;

    SampleProcessor(Pipeline pipeline) {
        this.pipeline = pipeline;
        this.model = pipeline.model();
        this.settings = pipeline.settings();
        this.names = pipeline.names();
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        super.init(context);
        tasks = TaskStateStore.withRetention(context, names, settings, pipeline.instanceTasks(), pipeline.metrics());
        adaptations = new Adaptations(model, pipeline.engine(), tasks, settings, pipeline.metrics());
        deadLetters = new DeadLetters(context, names.of(Pipeline.DEAD_LETTERS_SINK), pipeline.metrics(),
                settings.limits().deadLetterMaxValueBytes());
        watermark = context.getStateStore(names.sampleWatermark());
        if (settings.adaptationEnabled()) {
            adaptations.startRounds(context.currentSystemTimeMs());
            context.schedule(Duration.ofMillis(adaptations.roundTickMs()), PunctuationType.WALL_CLOCK_TIME,
                    now -> forward(adaptations.roundTick(now), now));
            // Adapted states have no changelog: tasks restored without one are re-adapted in the background.
            int budget = settings.limits().expiryMaxPerPunctuation();
            unadapted = context.schedule(Duration.ofMillis(Math.min(1_000L, settings.limits().expiryIntervalMs())),
                    PunctuationType.WALL_CLOCK_TIME, now -> {
                        if (tasks.markUnadapted(budget, now)) {
                            unadapted.cancel();
                        }
                    });
        }
        context.schedule(Duration.ofMillis(settings.limits().expiryIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                now -> adaptations.forgotten(tasks.expire(now)));
        if (!tasks.open()) {
            // The task index has no changelog: check it against the support sets a batch at a time, then stop.
            backfill = context.schedule(Duration.ofMillis(Math.min(1_000L, settings.limits().expiryIntervalMs())),
                    PunctuationType.WALL_CLOCK_TIME, now -> {
                        if (tasks.backfill()) {
                            backfill.cancel();
                        }
                    });
        }
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        long now = context().currentSystemTimeMs();
        BaseModel base = model.base();
        InputValidator.Outcome<LabelledSample> outcome = InputValidator.sample(pipeline.samples(),
                pipeline.samplesTopic(), record.key(), record.value(), record.timestamp(), base.inputDim(),
                base.classifies(), settings.limits(), now);
        if (!outcome.isAccepted()) {
            deadLetters.send(record, outcome);
            return;
        }
        // Only a valid sample moves the watermark, and never past the wall clock: a sample dated
        // ahead (valid up to input.max.future.ms) or a malformed record must not let every query of
        // the partition skip waiting for the samples produced before it. A rejected record only
        // makes a query wait longer.
        long readUpTo = Math.min(record.timestamp(), now);
        if (readUpTo > highestTimestamp) {
            highestTimestamp = readUpTo;
            watermark.put(WATERMARK_KEY, highestTimestamp);
        }
        LabelledSample sample = outcome.record();
        pipeline.metrics().sampleAccepted();
        TaskStateStore.Appended appended = tasks.append(sample, now);
        if (appended.kept()) {
            kept++;
            watermark.put(KEPT_KEY, kept);
            adaptations.forgotten(appended.evicted());
            adaptations.sampled(sample.getTaskId(), record.timestamp(), now);
        }
    }

    @Override
    public void close() {
        if (adaptations != null) {
            adaptations.close();
        }
        if (tasks != null) {
            tasks.close();
        }
    }

    private void forward(Adaptations.Recorded recorded, long now) {
        for (AdaptationEvent event : recorded.events()) {
            context().forward(new Record<String, SpecificRecord>(event.getTaskId(), event, now),
                    names.of(Pipeline.ADAPTATIONS_SINK));
        }
        for (Adaptations.Failure failure : recorded.failures()) {
            deadLetters.send(failure.taskId().getBytes(StandardCharsets.UTF_8), null, now,
                    RejectReason.PROCESSING_ERROR, failure.error().getClass().getName(),
                    "adapting task " + failure.taskId() + " failed: " + failure.error().getMessage());
        }
    }
}

package io.metastream.streams.internals;

import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.SupportSet;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.RejectReason;
import io.metastream.streams.TopologySettings;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Samples in: validate, append to the task's support set, mark the task dirty; tasks leave by
 * {@link TaskRetention} (idle too long, or the instance holds too many). Every
 * {@code adaptation.interval.ms} of wall-clock time, hand all dirty tasks of this stream task to the
 * {@link AdaptationEngine} as one round, and record the round once it is done (on a later
 * punctuation when the engine has its own thread). One round per stream task is in flight at a
 * time; the samples that arrive meanwhile are remembered, so their tasks stay dirty.
 */
public final class SampleProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    static final String WATERMARK_KEY = "samples";
    private final ActiveModel model;
    private final AdaptationEngine engine;
    private final MetastreamMetrics metrics;
    private final TopologySettings settings;
    private final PipelineNames names;
    private final String topic;
    private final InputDecoder<LabelledSample> decoder;
    private final AtomicLong instanceTasks;
    private Cancellable backfill;
    private SupportSetStore supportSets;
    private KeyValueStore<String, Long> dirty;
    private TaskAdaptation adaptation;
    private DeadLetters deadLetters;
    private TaskRetention retention;
    private KeyValueStore<String, Long> watermark;
    private long highestTimestamp = Long.MIN_VALUE;
    private TaskAdaptation.Round inFlight;
    /** Tasks given a sample, and tasks forgotten, since the round in flight read its support sets. */
    private final Set<String> changedSinceRound = new HashSet<>();
    private final Set<String> droppedSinceRound = new HashSet<>();
    private long nextRoundAtMs;

    SampleProcessor(Pipeline pipeline) {
        this.model = pipeline.model();
        this.engine = pipeline.engine();
        this.metrics = pipeline.metrics();
        this.settings = pipeline.settings();
        this.names = pipeline.names();
        this.topic = pipeline.samplesTopic();
        this.decoder = pipeline.samples();
        this.instanceTasks = pipeline.instanceTasks();
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        super.init(context);
        KeyValueStore<String, SupportSet> sets = context.getStateStore(names.supportSets());
        KeyValueStore<String, AdaptedTask> adapted = context.getStateStore(names.adaptedTasks());
        dirty = context.getStateStore(names.dirtyTasks());
        supportSets = new SupportSetStore(sets, settings.supportMaxSize());
        adaptation = new TaskAdaptation(engine, supportSets, adapted, dirty, settings.stateEncoding(),
                metrics);
        deadLetters = new DeadLetters(context, names.of(Pipeline.DEAD_LETTERS_SINK), metrics,
                settings.limits().deadLetterMaxValueBytes());
        retention = new TaskRetention(sets, adapted, dirty, new TaskIndex(context.getStateStore(names.taskIndex())),
                instanceTasks, settings.limits(), metrics, names.supportSets() + "@" + context.taskId());
        this.watermark = context.getStateStore(names.sampleWatermark());
        if (settings.adaptationEnabled()) {
            nextRoundAtMs = context.currentSystemTimeMs() + settings.adaptationIntervalMs();
            // A shared engine finishes rounds between punctuations; look for them as often as queries are answered.
            long tick = engine.isShared() ? Math.min(settings.adaptationIntervalMs(), settings.queryBatchIntervalMs())
                    : settings.adaptationIntervalMs();
            context.schedule(Duration.ofMillis(tick), PunctuationType.WALL_CLOCK_TIME, this::adaptationTick);
        }
        context.schedule(Duration.ofMillis(settings.limits().expiryIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                this::expireIdleTasks);
        if (!retention.open()) {
            // State from before the task index: index it a batch at a time, then stop.
            backfill = context.schedule(Duration.ofMillis(Math.min(1_000L, settings.limits().expiryIntervalMs())),
                    PunctuationType.WALL_CLOCK_TIME, now -> {
                        if (retention.backfill()) {
                            backfill.cancel();
                        }
                    });
        }
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        long now = context().currentSystemTimeMs();
        InputValidator.Outcome<LabelledSample> outcome = InputValidator.sample(decoder, topic, record.key(),
                record.value(), record.timestamp(), model.base().inputDim(), settings.limits(), now);
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
        metrics.sampleAccepted();
        SupportSetStore.Appended appended = supportSets.append(sample, now);
        if (!appended.kept()) {
            return;
        }
        for (String evicted : retention.updated(sample.getTaskId(), appended, now)) {
            if (inFlight != null) {
                droppedSinceRound.add(evicted);
            }
        }
        if (settings.adaptationEnabled()) {
            if (inFlight != null) {
                changedSinceRound.add(sample.getTaskId());
            }
            if (dirty.get(sample.getTaskId()) == null) {
                dirty.put(sample.getTaskId(), record.timestamp());
            }
        }
    }

    @Override
    public void close() {
        if (inFlight != null) {
            // Revoked or shutting down: the tasks stay dirty in the changelog for their next owner.
            inFlight.cancel();
        }
        if (retention != null) {
            retention.close();
        }
    }

    /**
     * Forgets tasks with no new sample for {@code task.ttl.ms} (and trims the instance to
     * {@code task.max.count} after a rebalance), a bounded number per punctuation.
     */
    private void expireIdleTasks(long now) {
        for (String task : retention.expire(now)) {
            if (inFlight != null) {
                droppedSinceRound.add(task);
            }
        }
    }

    /** Records the round in flight once it is done, and starts the next one when it is due. */
    private void adaptationTick(long now) {
        if (inFlight != null) {
            if (!inFlight.isDone()) {
                return;
            }
            finishRound(now);
        }
        if (now < nextRoundAtMs) {
            return;
        }
        // A fixed schedule, as Kafka Streams keeps its punctuators: "now + interval" would skip every
        // other tick whenever a punctuation fires a little late.
        while (nextRoundAtMs <= now) {
            nextRoundAtMs += settings.adaptationIntervalMs();
        }
        List<String> ids = new ArrayList<>();
        try (KeyValueIterator<String, Long> it = dirty.all()) {
            while (it.hasNext()) {
                ids.add(it.next().key);
            }
        }
        if (ids.isEmpty()) {
            return;
        }
        inFlight = adaptation.prepare(ids, model.base());
        adaptation.submit(inFlight);
        if (inFlight.isDone()) {
            finishRound(now);
        }
    }

    private void finishRound(long now) {
        TaskAdaptation.Round round = inFlight;
        inFlight = null;
        if (!round.isCancelled()) {
            for (AdaptationEvent event : adaptation.record(round, changedSinceRound, droppedSinceRound)) {
                context().forward(new Record<String, SpecificRecord>(event.getTaskId(), event, now),
                        names.of(Pipeline.ADAPTATIONS_SINK));
            }
            for (TaskAdaptation.Failure failure : adaptation.failures(round)) {
                deadLetters.send(failure.taskId().getBytes(StandardCharsets.UTF_8), null, now,
                        RejectReason.PROCESSING_ERROR, failure.error().getClass().getName(),
                        "adapting task " + failure.taskId() + " failed: " + failure.error().getMessage());
            }
        }
        changedSinceRound.clear();
        droppedSinceRound.clear();
    }
}

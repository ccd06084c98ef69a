package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;
import io.metastream.learn.CheckedPredictions;
import io.metastream.learn.Support;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.PendingQuery;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.RejectReason;
import io.metastream.streams.StoreNames;
import io.metastream.streams.TopologySettings;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Queries in, predictions out, in micro-batches. Every query waits in
 * {@value StoreNames#PENDING_QUERIES} (a changelogged store, so a crash does not lose it) until the
 * samples partition has been processed up to the query's timestamp (Kafka Streams orders two topics
 * only among fetched records), or {@code query.sample.wait.ms} at most. A query is answered as of its
 * timestamp: when its task already holds samples from after it (a prequential test asks about a
 * rating just before sending it), it is answered from an adaptation to the earlier samples only,
 * made for that query and not stored. Every
 * {@code query.batch.interval.ms}, one batched call adapts the ready queries' tasks that have new
 * samples and one batched call answers them. A prediction therefore reflects every sample produced
 * before it on its partition, and the ML cost per punctuation is two native calls whatever the query
 * rate (one call per query costs about as much as a batch of hundreds). A task adapted
 * under a base that is no longer served is re-adapted in the same batch. A cold task is answered by
 * the base.
 */
public final class QueryProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    private static final Logger LOG = LoggerFactory.getLogger(QueryProcessor.class);
    private static final char SEPARATOR = '\u0000';
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);

    private final ActiveModel model;
    private final AdaptationEngine engine;
    private final MetastreamMetrics metrics;
    private final TopologySettings settings;
    private final PipelineNames names;
    private final String topic;
    private final InputDecoder<PredictionRequest> decoder;
    private KeyValueStore<String, AdaptedTask> adapted;
    private KeyValueStore<String, Long> dirty;
    private KeyValueStore<String, PendingQuery> pending;
    private KeyValueStore<String, Long> watermark;
    private SupportSetStore supportSets;
    private TaskAdaptation adaptation;
    private DeadLetters deadLetters;

    QueryProcessor(Pipeline pipeline) {
        this.model = pipeline.model();
        this.engine = pipeline.engine();
        this.metrics = pipeline.metrics();
        this.settings = pipeline.settings();
        this.names = pipeline.names();
        this.topic = pipeline.queriesTopic();
        this.decoder = pipeline.queries();
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        super.init(context);
        adapted = context.getStateStore(names.adaptedTasks());
        dirty = context.getStateStore(names.dirtyTasks());
        pending = context.getStateStore(names.pendingQueries());
        watermark = context.getStateStore(names.sampleWatermark());
        supportSets = new SupportSetStore(context.getStateStore(names.supportSets()), settings.supportMaxSize());
        adaptation = new TaskAdaptation(engine, supportSets, adapted, dirty, settings.stateEncoding(),
                metrics);
        deadLetters = new DeadLetters(context, names.of(Pipeline.DEAD_LETTERS_SINK), metrics,
                settings.limits().deadLetterMaxValueBytes());
        context.schedule(Duration.ofMillis(settings.queryBatchIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                now -> answerPending());
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        InputValidator.Outcome<PredictionRequest> outcome = InputValidator.query(decoder, topic, record.key(),
                record.value(), record.timestamp(), model.base().inputDim(), settings.limits(),
                context().currentSystemTimeMs());
        if (!outcome.isAccepted()) {
            deadLetters.send(record, outcome);
            return;
        }
        PredictionRequest request = outcome.record();
        metrics.queryAccepted();
        PendingQuery query = PendingQuery.newBuilder().setQueryId(request.getQueryId())
                .setTaskId(request.getTaskId()).setFeatures(request.getFeatures())
                .setReceivedTimestamp(Instant.ofEpochMilli(record.timestamp()))
                .setArrivedAt(Instant.ofEpochMilli(context().currentSystemTimeMs())).build();
        pending.put(request.getTaskId() + SEPARATOR + request.getQueryId(), query);
    }

    /**
     * Takes every waiting query whose preceding samples are in (or that has waited
     * {@code query.sample.wait.ms}), adapts their stale tasks in one call and answers them in one call.
     */
    private void answerPending() {
        long now = context().currentSystemTimeMs();
        Long seen = watermark.get(SampleProcessor.WATERMARK_KEY);
        long samplesUpTo = seen == null ? Long.MIN_VALUE : seen;
        List<String> keys = new ArrayList<>();
        List<PendingQuery> queries = new ArrayList<>();
        Set<String> tasks = new LinkedHashSet<>();
        try (KeyValueIterator<String, PendingQuery> it = pending.all()) {
            while (it.hasNext()) {
                KeyValue<String, PendingQuery> entry = it.next();
                PendingQuery q = entry.value;
                // Strictly later: several records share a millisecond, so an equal timestamp proves nothing.
                boolean samplesIn = q.getReceivedTimestamp().toEpochMilli() < samplesUpTo;
                boolean waitedEnough = now - q.getArrivedAt().toEpochMilli() >= settings.querySampleWaitMs();
                if (samplesIn || waitedEnough) {
                    keys.add(entry.key);
                    queries.add(q);
                    tasks.add(q.getTaskId());
                }
            }
        }
        if (queries.isEmpty()) {
            return;
        }
        BaseModel base = model.base();
        try {
            adaptAndAnswer(tasks, queries, base);
        } catch (RuntimeException batchFailure) {
            // One poisoned task (say, corrupt state) must not hold every query of the batch hostage
            // or fail the stream thread: retry one query at a time and dead-letter only the culprit.
            // Logged here because a retry that succeeds would otherwise leave no trace of it.
            LOG.warn("answering {} queries of tasks {} failed; retrying them one at a time", queries.size(), tasks,
                    batchFailure);
            for (PendingQuery q : queries) {
                try {
                    adaptAndAnswer(Set.of(q.getTaskId()), List.of(q), base);
                } catch (RuntimeException e) {
                    deadLetters.send(topic, q.getTaskId().getBytes(StandardCharsets.UTF_8), QUERIES.encode(request(q)),
                            q.getReceivedTimestamp().toEpochMilli(), RejectReason.PROCESSING_ERROR,
                            e.getClass().getName(), "answering query " + q.getQueryId() + " failed: " + e.getMessage());
                }
            }
        }
        for (String key : keys) {
            pending.delete(key);
        }
    }

    private void adaptAndAnswer(Set<String> tasks, List<PendingQuery> queries, BaseModel base) {
        Map<Integer, AsOf> asOf = adaptAsOf(queries, base);
        // A task whose every query here is answered as of an earlier time needs no fresh state now;
        // the sample punctuator adapts it on its own schedule.
        Set<String> needState = new LinkedHashSet<>();
        for (int i = 0; i < queries.size(); i++) {
            if (!asOf.containsKey(i)) {
                needState.add(queries.get(i).getTaskId());
            }
        }
        List<String> stale = new ArrayList<>();
        for (String task : tasks) {
            if (settings.adaptsOnQuery() && needState.contains(task)
                    && (dirty.get(task) != null || adaptedUnderAnotherBase(task, base))) {
                stale.add(task);
            }
        }
        long now = context().currentSystemTimeMs();
        for (AdaptationEvent event : adaptation.adapt(stale, base)) {
            context().forward(new Record<String, SpecificRecord>(event.getTaskId(), event, now),
                    names.of(Pipeline.ADAPTATIONS_SINK));
        }
        answer(queries, base, asOf);
    }

    /**
     * Adapts, in one batched call, the task of each query that its task's later samples would
     * otherwise leak into, on the samples up to the query's timestamp; keyed by query index. None
     * with adaptation off.
     */
    private Map<Integer, AsOf> adaptAsOf(List<PendingQuery> queries, BaseModel base) {
        List<Integer> which = new ArrayList<>();
        List<Support> prefixes = new ArrayList<>();
        List<Long> newest = new ArrayList<>();
        Map<Integer, AsOf> out = new HashMap<>();
        if (!settings.adaptationEnabled()) {
            return out;
        }
        for (int i = 0; i < queries.size(); i++) {
            PendingQuery q = queries.get(i);
            if (holdsNothingAfter(q.getTaskId(), q.getReceivedTimestamp())) {
                continue;
            }
            SupportSetStore.Snapshot before = supportSets.asOf(q.getTaskId(), q.getReceivedTimestamp().toEpochMilli());
            if (before == null) {
                continue;
            }
            if (before.support().size() == 0) {
                out.put(i, new AsOf(null, 0L));
            } else {
                which.add(i);
                prefixes.add(before.support());
                newest.add(before.newestEventTimeMs());
            }
        }
        if (!prefixes.isEmpty()) {
            // On this thread, like every query-time adaptation: the query cannot wait for a round.
            AdaptationEngine.Job job = new AdaptationEngine.Job(base, prefixes, done -> { });
            engine.runHere(job);
            for (int k = 0; k < which.size(); k++) {
                if (job.error(k) != null) {
                    throw job.error(k);
                }
                out.put(which.get(k), new AsOf(job.result(k), newest.get(k)));
            }
        }
        return out;
    }

    /**
     * Whether the task surely holds no sample after {@code time}, known without decoding its support
     * set: a task that is not dirty has its whole set in its adapted state (or has no samples at
     * all), and that state records its newest sample. Dirty tasks need the set read.
     */
    private boolean holdsNothingAfter(String task, Instant time) {
        if (dirty.get(task) != null) {
            return false;
        }
        AdaptedTask state = adapted.get(task);
        return state == null || !state.getNewestSampleTime().isAfter(time);
    }

    /** A query's own state, adapted on its task's samples up to its timestamp; {@code state} null: the base. */
    private record AsOf(io.metastream.learn.AdaptedTask state, long newestSampleMs) {
    }

    /** The request a pending query came from, as its original producer would have encoded it. */
    private static PredictionRequest request(PendingQuery q) {
        return PredictionRequest.newBuilder().setQueryId(q.getQueryId()).setTaskId(q.getTaskId())
                .setFeatures(q.getFeatures()).setEventTime(q.getReceivedTimestamp()).build();
    }

    /**
     * A task adapted under a base that is no longer served is re-adapted lazily, with the next
     * query that needs it: tasks nobody asks about cost nothing after a swap, and the swap itself
     * never stalls the stream threads.
     */
    private boolean adaptedUnderAnotherBase(String task, BaseModel base) {
        AdaptedTask state = adapted.get(task);
        return state != null && !state.getBaseVersion().equals(base.version());
    }

    /**
     * One batched prediction for {@code queries}, each with its task's adapted state if usable, or
     * with its own state from {@code asOf} (a {@code null} value: no earlier samples, the base).
     */
    private void answer(List<PendingQuery> queries, BaseModel base,
            Map<Integer, AsOf> asOf) {
        List<float[]> states = new ArrayList<>(queries.size());
        List<float[][]> inputs = new ArrayList<>(queries.size());
        int[] supportSizes = new int[queries.size()];
        boolean[] hasSamples = new boolean[queries.size()];
        long[] adaptedThrough = new long[queries.size()];
        float[] baseParameters = null;
        for (int i = 0; i < queries.size(); i++) {
            PendingQuery q = queries.get(i);
            inputs.add(new float[][] {Floats.toArray(q.getFeatures())});
            if (asOf.containsKey(i)) {
                AsOf own = asOf.get(i);
                states.add(own.state() == null ? null : own.state().state());
                supportSizes[i] = own.state() == null ? 0 : own.state().supportSize();
                adaptedThrough[i] = own.state() == null ? 0L : own.newestSampleMs();
                hasSamples[i] = own.state() != null;
                continue;
            }
            AdaptedTask state = adapted.get(q.getTaskId());
            boolean usable = state != null && state.getBaseVersion().equals(base.version());
            if (state != null && !usable && settings.adaptationEnabled() && dirty.get(q.getTaskId()) == null) {
                // Only with adaptation.on.query off: answer with the base, adapt in the background.
                dirty.put(q.getTaskId(), q.getReceivedTimestamp().toEpochMilli());
            }
            if (usable && baseParameters == null) {
                baseParameters = base.parameters();
            }
            // Always the decoded bytes, also right after adapting: answers must not depend on
            // whether the state came from this run or from a changelog restore.
            states.add(usable ? AdaptedStateCodec.decode(state.getState(), state.getStateEncoding(), baseParameters)
                    : null);
            supportSizes[i] = usable ? state.getSupportSize() : 0;
            hasSamples[i] = state != null || dirty.get(q.getTaskId()) != null;
            adaptedThrough[i] = usable ? state.getNewestSampleTime().toEpochMilli() : 0L;
        }
        CheckedPredictions values = model.learner().predictChecked(base, states, inputs);
        long now = context().currentSystemTimeMs();
        for (int i = 0; i < queries.size(); i++) {
            PendingQuery q = queries.get(i);
            long received = q.getReceivedTimestamp().toEpochMilli();
            if (!values.isFinite(i)) {
                // Nothing non-finite is published, and the query still gets exactly one outcome.
                metrics.nonFinitePrediction(MetastreamMetrics.NonFiniteOutcome.DEAD_LETTERED);
                deadLetters.send(topic, q.getTaskId().getBytes(StandardCharsets.UTF_8), QUERIES.encode(request(q)),
                        received, RejectReason.NON_FINITE_PREDICTION, "QueryProcessor", "the prediction for query "
                        + q.getQueryId() + " is " + values.values()[i][0] + " from " + (values.fellBack(i)
                        ? "the adapted state and from the base" : "the base") + " " + base.version());
                continue;
            }
            // A state that answers a non-finite value is not used: the base answers, as for a task
            // without a usable state.
            boolean adaptedAnswer = states.get(i) != null && !values.fellBack(i);
            if (values.fellBack(i)) {
                metrics.nonFinitePrediction(MetastreamMetrics.NonFiniteOutcome.FELL_BACK);
            }
            Prediction prediction = Prediction.newBuilder().setQueryId(q.getQueryId()).setTaskId(q.getTaskId())
                    .setValue(values.values()[i][0]).setModelVersion(base.version())
                    .setSupportSize(adaptedAnswer ? supportSizes[i] : 0).setAdapted(adaptedAnswer)
                    .setLatencyMicros(Math.max(0, (now - received) * 1_000))
                    .setAdaptedThrough(Instant.ofEpochMilli(adaptedAnswer ? adaptedThrough[i] : 0L)).build();
            context().forward(new Record<String, SpecificRecord>(q.getTaskId(), prediction, received),
                    names.of(Pipeline.PREDICTIONS_SINK));
            metrics.prediction(adaptedAnswer ? MetastreamMetrics.PredictionPath.ADAPTED
                    : hasSamples[i] ? MetastreamMetrics.PredictionPath.FELL_BACK
                    : MetastreamMetrics.PredictionPath.COLD, now - received);
        }
    }
}

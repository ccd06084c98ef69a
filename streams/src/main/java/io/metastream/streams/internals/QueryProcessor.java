package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.state.PendingQuery;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.RejectReason;
import io.metastream.streams.StoreNames;
import io.metastream.streams.TopologySettings;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
 * only among fetched records), or, for a query that says how many samples its producer had sent
 * before it ({@code after_samples}, read-your-writes), until its task has taken in that many;
 * {@code query.sample.wait.ms} at most either way. The store is read once, when
 * the processor starts (a restore); after that the waiting queries are also held in memory, in
 * arrival order, so a batch never scans the store. A query is answered as of its timestamp: when
 * its task already holds samples from after it (a prequential test asks about a rating just before
 * sending it), it is answered from an adaptation to the earlier samples only, made for that query
 * and not stored.
 *
 * <p>Every {@code query.batch.interval.ms}, the queries whose samples are in go as one batch: the
 * adaptations they need (their tasks' stale states, their own as-of states) go to the shared
 * {@link io.metastream.streams.AdaptationEngine} as one job ahead of its background rounds, and the
 * batch is answered by one batched prediction on the tick its job is done; a batch that waited
 * {@code query.max.wait.ms} for the engine is adapted on the stream thread instead. A batch that
 * needs no adaptation is answered on the tick it is taken. A prediction therefore reflects every
 * sample produced before it on its partition, and the ML cost per batch is one job and one native
 * prediction call whatever the query rate. A task adapted under a base that is no longer served is
 * re-adapted in the same job. A cold task is answered by the base.
 */
public final class QueryProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    private static final Logger LOG = LoggerFactory.getLogger(QueryProcessor.class);
    private static final char SEPARATOR = '\u0000';
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);

    private final Pipeline pipeline;
    private final ActiveModel model;
    private final MetastreamMetrics metrics;
    private final TopologySettings settings;
    private final PipelineNames names;
    private final String topic;
    private KeyValueStore<String, PendingQuery> pending;
    /** The queries in {@link #pending} not yet taken into a batch, by store key, in arrival order. */
    private final Map<String, PendingQuery> waiting = new LinkedHashMap<>();
    /** Batches whose adaptations the engine is working on, oldest first. */
    private final ArrayDeque<Batch> inFlight = new ArrayDeque<>();
    private KeyValueStore<String, Long> watermark;
    /** The samples processor's count of kept samples at the last check of read-your-writes queries. */
    private Long keptAtLastCheck;
    /** Read-your-writes queries that arrived since the last tick, checked once even if no sample came. */
    private final Set<String> arrivedSinceTick = new LinkedHashSet<>();
    private TaskStateStore tasks;
    private Adaptations adaptations;
    private DeadLetters deadLetters;

    QueryProcessor(Pipeline pipeline) {
        this.pipeline = pipeline;
        this.model = pipeline.model();
        this.metrics = pipeline.metrics();
        this.settings = pipeline.settings();
        this.names = pipeline.names();
        this.topic = pipeline.queriesTopic();
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        super.init(context);
        pending = context.getStateStore(names.pendingQueries());
        watermark = context.getStateStore(names.sampleWatermark());
        tasks = TaskStateStore.of(context, names, settings);
        adaptations = new Adaptations(model, pipeline.engine(), tasks, settings, metrics);
        deadLetters = new DeadLetters(context, names.of(Pipeline.DEAD_LETTERS_SINK), metrics,
                settings.limits().deadLetterMaxValueBytes());
        // The one scan of the store: queries left waiting by a previous owner (or a crash) of this task.
        waiting.clear();
        inFlight.clear();
        arrivedSinceTick.clear();
        keptAtLastCheck = null;
        try (KeyValueIterator<String, PendingQuery> it = pending.all()) {
            while (it.hasNext()) {
                KeyValue<String, PendingQuery> entry = it.next();
                waiting.put(entry.key, entry.value);
                if (entry.value.getAfterSamples() != null) {
                    arrivedSinceTick.add(entry.key);
                }
            }
        }
        context.schedule(Duration.ofMillis(settings.queryBatchIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                now -> answerPending());
    }

    /** Queries taken together, with their store keys, and the adaptations they wait for. */
    private record Batch(List<String> keys, Adaptations.QueryAdaptations adaptations) {
    }

    @Override
    public void close() {
        // Nobody will read the adaptations in flight: the queries stay in the store for whoever owns
        // the task next.
        for (Batch batch : inFlight) {
            adaptations.abandon(batch.adaptations());
        }
        inFlight.clear();
        waiting.clear();
        arrivedSinceTick.clear();
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        InputValidator.Outcome<PredictionRequest> outcome = InputValidator.query(pipeline.queries(), topic,
                record.key(), record.value(), record.timestamp(), model.base().inputDim(), settings.limits(),
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
                .setArrivedAt(Instant.ofEpochMilli(context().currentSystemTimeMs()))
                .setAfterSamples(request.getAfterSamples()).build();
        String key = request.getTaskId() + SEPARATOR + request.getQueryId();
        pending.put(key, query);
        waiting.put(key, query);
        if (query.getAfterSamples() != null) {
            arrivedSinceTick.add(key);
        }
    }

    /**
     * Answers the batches whose adaptations are done (or that waited {@code query.max.wait.ms}: adapted
     * here), then takes every waiting query whose preceding samples are in (or that has waited
     * {@code query.sample.wait.ms}) as a new batch.
     */
    private void answerPending() {
        long now = context().currentSystemTimeMs();
        while (!inFlight.isEmpty()) {
            Batch batch = inFlight.peekFirst();
            boolean overdue = now - batch.adaptations().submittedMs() >= settings.queryMaxWaitMs();
            if (!batch.adaptations().isDone() && !overdue) {
                break; // batches are answered in the order they were taken
            }
            inFlight.pollFirst();
            answer(batch, now);
        }
        Long seen = watermark.get(SampleProcessor.WATERMARK_KEY);
        long samplesUpTo = seen == null ? Long.MIN_VALUE : seen;
        List<String> keys = new ArrayList<>();
        List<PendingQuery> queries = new ArrayList<>();
        // A task's count only grows when a sample is kept: read counts again only then, and for
        // queries that are new since the last tick (each read is a support set from RocksDB).
        Long kept = watermark.get(SampleProcessor.KEPT_KEY);
        boolean samplesKept = !Objects.equals(kept, keptAtLastCheck);
        keptAtLastCheck = kept;
        Set<String> arrived = new HashSet<>(arrivedSinceTick);
        arrivedSinceTick.clear();
        Map<String, Long> taken = new HashMap<>(); // samples each task has taken in, read once a tick
        for (Iterator<Map.Entry<String, PendingQuery>> it = waiting.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, PendingQuery> entry = it.next();
            PendingQuery q = entry.getValue();
            boolean waitedEnough = now - q.getArrivedAt().toEpochMilli() >= settings.querySampleWaitMs();
            // Strictly later: several records share a millisecond, so an equal timestamp proves nothing.
            boolean samplesIn = waitedEnough || q.getReceivedTimestamp().toEpochMilli() < samplesUpTo
                    || (q.getAfterSamples() != null && (samplesKept || arrived.contains(entry.getKey()))
                            && takenIn(q.getTaskId(), taken) >= q.getAfterSamples());
            if (samplesIn) {
                keys.add(entry.getKey());
                queries.add(q);
                it.remove();
            }
        }
        if (queries.isEmpty()) {
            return;
        }
        Batch batch;
        try {
            batch = new Batch(keys, adaptations.submitForQueries(queries, model.base(), now));
        } catch (RuntimeException planFailure) {
            // Reading a task's state failed (corrupt, say): the one-at-a-time path finds the culprit.
            LOG.warn("preparing {} queries of tasks {} failed; answering them one at a time", queries.size(),
                    taskIds(queries), planFailure);
            answerOneByOne(queries, model.base());
            deleteAll(keys);
            return;
        }
        if (batch.adaptations().isDone() && inFlight.isEmpty()) {
            answer(batch, now);
        } else {
            inFlight.addLast(batch);
        }
    }

    /**
     * Samples the task has ever accepted (its support set's count, 0 for none), read once per tick.
     * A support set that cannot be read counts as enough: the query then joins a batch, whose
     * reading of the same state fails and isolates it (a dead letter), instead of the whole scan
     * failing on every tick.
     */
    private long takenIn(String taskId, Map<String, Long> taken) {
        return taken.computeIfAbsent(taskId, t -> {
            try {
                PackedSupportSet set = tasks.supportSet(t);
                return set == null ? 0L : set.totalSeen();
            } catch (RuntimeException unreadable) {
                return Long.MAX_VALUE;
            }
        });
    }

    /** Answers a batch taken earlier: from its finished adaptations, or adapted here when still not done. */
    private void answer(Batch batch, long now) {
        Adaptations.QueryAdaptations taken = batch.adaptations();
        List<PendingQuery> queries = taken.queries();
        BaseModel base = taken.base();
        try {
            boolean engineDidIt = taken.isAdapted();
            Adaptations.Prepared prepared = engineDidIt ? adaptations.collect(taken, now)
                    : adaptations.adaptHere(taken, now);
            publish(queries, prepared, base, now);
            metrics.queryBatchAnswered(!taken.adaptsAnything() ? MetastreamMetrics.QueryAdaptation.NONE
                    : engineDidIt && pipeline.engine().isShared() ? MetastreamMetrics.QueryAdaptation.ENGINE
                    : MetastreamMetrics.QueryAdaptation.STREAM_THREAD, now - taken.submittedMs());
        } catch (RuntimeException batchFailure) {
            // One poisoned task (say, corrupt state) must not hold every query of the batch hostage
            // or fail the stream thread: retry one query at a time and dead-letter only the culprit.
            // Logged here because a retry that succeeds would otherwise leave no trace of it.
            LOG.warn("answering {} queries of tasks {} failed; retrying them one at a time", queries.size(),
                    taskIds(queries), batchFailure);
            answerOneByOne(queries, base);
        }
        deleteAll(batch.keys());
    }

    private void answerOneByOne(List<PendingQuery> queries, BaseModel base) {
        for (PendingQuery q : queries) {
            try {
                adaptAndAnswer(List.of(q), base);
            } catch (RuntimeException e) {
                deadLetters.send(topic, q.getTaskId().getBytes(StandardCharsets.UTF_8), QUERIES.encode(request(q)),
                        q.getReceivedTimestamp().toEpochMilli(), RejectReason.PROCESSING_ERROR,
                        e.getClass().getName(), "answering query " + q.getQueryId() + " failed: " + e.getMessage());
            }
        }
    }

    private void deleteAll(List<String> keys) {
        for (String key : keys) {
            pending.delete(key);
        }
    }

    /** The adaptations the queries need, made here (their events forwarded first), then one batched prediction. */
    private void adaptAndAnswer(List<PendingQuery> queries, BaseModel base) {
        long now = context().currentSystemTimeMs();
        publish(queries, adaptations.prepare(queries, base, now), base, now);
    }

    /** Forwards the adaptation events, then one batched prediction for {@code queries}. */
    private void publish(List<PendingQuery> queries, Adaptations.Prepared prepared, BaseModel base, long now) {
        for (AdaptationEvent event : prepared.events()) {
            context().forward(new Record<String, SpecificRecord>(event.getTaskId(), event, now),
                    names.of(Pipeline.ADAPTATIONS_SINK));
        }
        List<Adaptations.Answer> answers = adaptations.predict(queries, prepared, base);
        for (int i = 0; i < queries.size(); i++) {
            PendingQuery q = queries.get(i);
            Adaptations.Answer a = answers.get(i);
            long received = q.getReceivedTimestamp().toEpochMilli();
            if (!a.finite()) {
                // Nothing non-finite is published, and the query still gets exactly one outcome.
                metrics.nonFinitePrediction(MetastreamMetrics.NonFiniteOutcome.DEAD_LETTERED);
                deadLetters.send(topic, q.getTaskId().getBytes(StandardCharsets.UTF_8), QUERIES.encode(request(q)),
                        received, RejectReason.NON_FINITE_PREDICTION, "QueryProcessor", "the prediction for query "
                        + q.getQueryId() + " is " + a.value() + " from " + (a.stateFellBack()
                        ? "the adapted state and from the base" : "the base") + " " + base.version());
                continue;
            }
            if (a.stateFellBack()) {
                metrics.nonFinitePrediction(MetastreamMetrics.NonFiniteOutcome.FELL_BACK);
            }
            Prediction prediction = Prediction.newBuilder().setQueryId(q.getQueryId()).setTaskId(q.getTaskId())
                    .setValue(a.value()).setModelVersion(base.version()).setSupportSize(a.supportSize())
                    .setAdapted(a.adapted()).setLatencyMicros(Math.max(0, (now - received) * 1_000))
                    .setAdaptedThrough(Instant.ofEpochMilli(a.adaptedThroughMs())).setLabel(a.label())
                    .setScores(a.scores()).build();
            context().forward(new Record<String, SpecificRecord>(q.getTaskId(), prediction, received),
                    names.of(Pipeline.PREDICTIONS_SINK));
            metrics.prediction(a.path(), now - received);
        }
    }

    private static Set<String> taskIds(List<PendingQuery> queries) {
        Set<String> ids = new LinkedHashSet<>();
        queries.forEach(q -> ids.add(q.getTaskId()));
        return ids;
    }

    /** The request a pending query came from, as its original producer would have encoded it. */
    private static PredictionRequest request(PendingQuery q) {
        return PredictionRequest.newBuilder().setQueryId(q.getQueryId()).setTaskId(q.getTaskId())
                .setFeatures(q.getFeatures()).setEventTime(q.getReceivedTimestamp())
                .setAfterSamples(q.getAfterSamples()).build();
    }
}

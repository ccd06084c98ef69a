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
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
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

    private final Pipeline pipeline;
    private final ActiveModel model;
    private final MetastreamMetrics metrics;
    private final TopologySettings settings;
    private final PipelineNames names;
    private final String topic;
    private KeyValueStore<String, PendingQuery> pending;
    private KeyValueStore<String, Long> watermark;
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
        adaptations = new Adaptations(model, pipeline.engine(), TaskStateStore.of(context, names, settings),
                settings, metrics);
        deadLetters = new DeadLetters(context, names.of(Pipeline.DEAD_LETTERS_SINK), metrics,
                settings.limits().deadLetterMaxValueBytes());
        context.schedule(Duration.ofMillis(settings.queryBatchIntervalMs()), PunctuationType.WALL_CLOCK_TIME,
                now -> answerPending());
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
                }
            }
        }
        if (queries.isEmpty()) {
            return;
        }
        BaseModel base = model.base();
        try {
            adaptAndAnswer(queries, base);
        } catch (RuntimeException batchFailure) {
            // One poisoned task (say, corrupt state) must not hold every query of the batch hostage
            // or fail the stream thread: retry one query at a time and dead-letter only the culprit.
            // Logged here because a retry that succeeds would otherwise leave no trace of it.
            LOG.warn("answering {} queries of tasks {} failed; retrying them one at a time", queries.size(),
                    taskIds(queries), batchFailure);
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
        for (String key : keys) {
            pending.delete(key);
        }
    }

    /** The adaptations the queries need (their events forwarded first), then one batched prediction. */
    private void adaptAndAnswer(List<PendingQuery> queries, BaseModel base) {
        long now = context().currentSystemTimeMs();
        Adaptations.Prepared prepared = adaptations.prepare(queries, base, now);
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
                    .setAdaptedThrough(Instant.ofEpochMilli(a.adaptedThroughMs())).build();
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
                .setFeatures(q.getFeatures()).setEventTime(q.getReceivedTimestamp()).build();
    }
}

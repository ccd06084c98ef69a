package io.metastream.streams;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * metastream's meters in one Micrometer registry, the application's or the instance's own
 * (Prometheus at {@code /metrics}). Every meter carries the tag {@code pipeline} (the pipeline's
 * prefix, empty for metastream's own), so several pipelines in one application stay apart. Names
 * in Prometheus form, each saying what it counts and in one unit: {@code metastream_samples_total},
 * {@code metastream_predictions_total{path}}, {@code metastream_adapted_tasks_total} and
 * {@code metastream_adaptation_fallback_tasks_total} (tasks), {@code metastream_adaptation_call_seconds}
 * and {@code metastream_adaptation_call_tasks} (one observation per batched learner call, so their
 * {@code _count} counts calls), {@code metastream_query_latency_seconds},
 * {@code metastream_adaptation_freshness_seconds} (one per adapted task),
 * {@code metastream_dead_letters_total{topic,reason}},
 * {@code metastream_non_finite_predictions_total{outcome}},
 * {@code metastream_model_info{model,version,learner}} (1 for the base served now),
 * {@code metastream_model_swaps_total{outcome}}, {@code metastream_watcher_following},
 * {@code metastream_tasks} (held by this instance), {@code metastream_tasks_removed_total{cause}}.
 * Recording is cheap (a striped counter or a histogram bucket); nothing here blocks.
 */
public final class MetastreamMetrics {
    /** How a prediction was made. */
    public enum PredictionPath {
        /** From the task's adapted state. */
        ADAPTED,
        /** By the base: the task had no sample (as of the query). */
        COLD,
        /**
         * By the base although the task has samples: no usable state (adaptation off, failed or
         * pending), or its state answered a value that is not finite.
         */
        FELL_BACK
    }

    /** What became of a prediction whose value was not finite: never published as it was. */
    public enum NonFiniteOutcome {
        /** The task's adapted state answered a non-finite value; the base's finite answer was published. */
        FELL_BACK,
        /** The base, too, answered a non-finite value; the query went to the dead-letter topic. */
        DEAD_LETTERED,
        /** The base, too, answered a non-finite value; the HTTP request was refused. */
        REFUSED
    }

    /** Why a task's state was removed. */
    /** Where the adaptations of a batch of queries were made, before it was answered. */
    public enum QueryAdaptation {
        /** Nothing to adapt: answered on the tick the batch was taken. */
        NONE,
        /** On the shared engine, ahead of its rounds. */
        ENGINE,
        /** On the stream thread: the engine had not done them within {@code query.max.wait.ms}, or has no thread. */
        STREAM_THREAD
    }

    public enum TaskRemoval {
        /** No new sample for {@code task.ttl.ms}. */
        EXPIRED,
        /** The least recently updated task, to keep the instance within {@code task.max.count}. */
        EVICTED
    }

    private static final MetastreamMetrics NONE = new MetastreamMetrics(new CompositeMeterRegistry(), "");

    private final MeterRegistry registry;
    private final Tags pipeline;
    private final Counter samples;
    private final Counter queries;
    private final Map<PredictionPath, Counter> predictions = new ConcurrentHashMap<>();
    private final Map<NonFiniteOutcome, Counter> nonFinite = new ConcurrentHashMap<>();
    private final Counter adaptedTasks;
    private final Counter adaptationFallbacks;
    private final DistributionSummary batchTasks;
    private final Timer adaptationTime;
    private final Timer queryLatency;
    private final Timer freshness;
    private final Map<String, Counter> deadLetters = new ConcurrentHashMap<>();
    private final Map<String, Counter> swaps = new ConcurrentHashMap<>();
    private final MultiGauge served;
    private final Map<TaskRemoval, Counter> tasksRemoved = new ConcurrentHashMap<>();
    private final Map<QueryAdaptation, Timer> queryBatchWait = new ConcurrentHashMap<>();
    private volatile LongSupplier tasksHeld = () -> 0L;

    private MetastreamMetrics(MeterRegistry registry, String pipelinePrefix) {
        this.registry = registry;
        this.pipeline = Tags.of("pipeline", pipelinePrefix);
        samples = Counter.builder("metastream.samples").description("Samples accepted into a support set")
                .tags(pipeline).register(registry);
        queries = Counter.builder("metastream.queries").description("Queries accepted").tags(pipeline)
                .register(registry);
        for (PredictionPath path : PredictionPath.values()) {
            predictions.put(path, Counter.builder("metastream.predictions").description("Predictions published")
                    .tags(pipeline).tag("path", path.name().toLowerCase(Locale.ROOT)).register(registry));
        }
        for (NonFiniteOutcome outcome : NonFiniteOutcome.values()) {
            nonFinite.put(outcome, Counter.builder("metastream.non.finite.predictions")
                    .description("Predictions whose value was not finite, by what was done instead of publishing it")
                    .tags(pipeline).tag("outcome", outcome.name().toLowerCase(Locale.ROOT))
                    .register(registry));
        }
        // Tasks and learner calls are counted under names that say which: one call adapts many tasks.
        adaptedTasks = Counter.builder("metastream.adapted.tasks").description("Tasks whose adapted state was "
                + "written").tags(pipeline).register(registry);
        adaptationFallbacks = Counter.builder("metastream.adaptation.fallback.tasks")
                .description("Adapted tasks that kept the base's state: the adapted state or its support loss was "
                        + "not finite, or the inner steps made the support loss worse").tags(pipeline)
                .register(registry);
        batchTasks = DistributionSummary.builder("metastream.adaptation.call.tasks").baseUnit("tasks")
                .description("Tasks in one batched learner call").tags(pipeline)
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024).register(registry);
        adaptationTime = Timer.builder("metastream.adaptation.call").description("Duration of one batched learner call")
                .tags(pipeline).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30)).register(registry);
        queryLatency = Timer.builder("metastream.query.latency")
                .description("From a query's record timestamp to its prediction").tags(pipeline)
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(60)).register(registry);
        freshness = Timer.builder("metastream.adaptation.freshness")
                .description("From a task's newest sample (event time) to its adapted state being written")
                .tags(pipeline).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10)).register(registry);
        for (TaskRemoval cause : TaskRemoval.values()) {
            tasksRemoved.put(cause, Counter.builder("metastream.tasks.removed")
                    .description("Tasks whose support set and adapted state were removed, by cause").tags(pipeline)
                    .tag("cause", cause.name().toLowerCase(Locale.ROOT)).register(registry));
        }
        for (QueryAdaptation where : QueryAdaptation.values()) {
            queryBatchWait.put(where, Timer.builder("metastream.query.batch.wait")
                    .description("From a batch of queries being taken (their samples in) to its answers, by where "
                            + "its adaptations were made").tags(pipeline)
                    .tag("adapted", where.name().toLowerCase(Locale.ROOT)).publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
                    .register(registry));
        }
        Gauge.builder("metastream.tasks", () -> tasksHeld.getAsLong()).description("Tasks held by this instance")
                .tags(pipeline).register(registry);
        // An info metric (Prometheus' convention for text that describes the target): the version
        // is a label of a constant 1, joined onto other series with group_left.
        served = MultiGauge.builder("metastream.model.info")
                .description("1 for the base served now: its model name, version and learner").tags(pipeline)
                .register(registry);
    }

    /** Meters in {@code registry}, tagged {@code pipeline=<pipelinePrefix>}. */
    public static MetastreamMetrics of(MeterRegistry registry, String pipelinePrefix) {
        return new MetastreamMetrics(registry, pipelinePrefix);
    }

    /** Records nothing: for pipelines built without a registry. */
    public static MetastreamMetrics none() {
        return NONE;
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** A batch of queries answered {@code waitedMs} after it was taken. */
    public void queryBatchAnswered(QueryAdaptation where, long waitedMs) {
        queryBatchWait.get(where).record(Duration.ofMillis(Math.max(0, waitedMs)));
    }

    public void sampleAccepted() {
        samples.increment();
    }

    public void queryAccepted() {
        queries.increment();
    }

    public void prediction(PredictionPath path, long latencyMs) {
        predictions.get(path).increment();
        queryLatency.record(Math.max(0, latencyMs), TimeUnit.MILLISECONDS);
    }

    /** A prediction whose value was not finite, and what was done instead of publishing it. */
    public void nonFinitePrediction(NonFiniteOutcome outcome) {
        nonFinite.get(outcome).increment();
    }

    /** One batched learner call of {@code tasks} tasks that took {@code micros}. */
    public void adaptationCall(int tasks, long micros) {
        batchTasks.record(tasks);
        adaptationTime.record(Math.max(0, micros), TimeUnit.MICROSECONDS);
    }

    /** A task's adapted state was written, {@code ageMs} after its newest sample's event time. */
    public void adapted(boolean fellBack, long ageMs) {
        adaptedTasks.increment();
        if (fellBack) {
            adaptationFallbacks.increment();
        }
        freshness.record(Math.max(0, ageMs), TimeUnit.MILLISECONDS);
    }

    public void deadLetter(String sourceTopic, String reason) {
        deadLetters.computeIfAbsent(sourceTopic + '\u0000' + reason, k -> Counter.builder("metastream.dead.letters")
                .description("Records sent to the dead-letter topic").tags(pipeline).tag("topic", sourceTopic)
                .tag("reason", reason).register(registry)).increment();
    }

    /**
     * A dead letter the broker did not take (the side producer's send failed): logged with its
     * origin, and counted here so that an alert sees it, since the record is then nowhere.
     */
    public void deadLetterFailed(String sourceTopic) {
        Counter.builder("metastream.dead.letter.failures").description("Dead letters the broker refused or that "
                + "could not be sent").tags(pipeline).tag("topic", sourceTopic).register(registry).increment();
    }

    /** What the model watcher did with a change of the models topic (SWAPPED, REFUSED, WATCHER_FAILED, ...). */
    public void modelEvent(String outcome) {
        swaps.computeIfAbsent(outcome, o -> Counter.builder("metastream.model.swaps")
                .description("Model changes handled, by outcome").tags(pipeline).tag("outcome", o)
                .register(registry)).increment();
    }

    /** {@code count} tasks were removed for {@code cause}. */
    public void tasksRemoved(TaskRemoval cause, int count) {
        tasksRemoved.get(cause).increment(count);
    }

    /**
     * Where {@code metastream_tasks} reads how many tasks this instance holds now (support sets of
     * its active stream tasks); the pipeline's topology sets it, the last one set is read.
     */
    public void tasksHeld(LongSupplier count) {
        tasksHeld = count;
    }

    /**
     * The base now served, {@code name@version} as {@code BaseModel.version()} writes it (the model
     * label is empty when there is no {@code @}); the series of the previous one goes away.
     */
    public void serving(String version, String learner) {
        int at = version.lastIndexOf('@');
        Tags labels = Tags.of("model", at < 0 ? "" : version.substring(0, at),
                "version", at < 0 ? version : version.substring(at + 1), "learner", learner);
        served.register(List.of(MultiGauge.Row.of(labels, 1)), true);
    }

    /** 1 while the model watcher follows the models topic, 0 while its consumer is down. */
    public void watcher(BooleanSupplier following) {
        Gauge.builder("metastream.watcher.following", () -> following.getAsBoolean() ? 1 : 0)
                .description("1 while the model watcher follows the models topic").tags(pipeline).register(registry);
    }
}

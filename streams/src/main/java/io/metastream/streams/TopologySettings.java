package io.metastream.streams;

import io.metastream.streams.internals.AdaptedStateCodec;
import java.util.Map;

/** The settings the processors read, taken from {@link MetastreamConfig} once. */
public record TopologySettings(int supportMaxSize, long adaptationIntervalMs, int adaptationBatchMax,
        boolean adaptOnQuery, long queryBatchIntervalMs, long querySampleWaitMs, long queryMaxWaitMs, Limits limits,
        boolean adaptationEnabled, int stateEncoding, long adaptationBacklogLagMs) {
    public TopologySettings {
        if (supportMaxSize < 1 || adaptationIntervalMs < 1 || adaptationBatchMax < 1 || queryBatchIntervalMs < 1) {
            throw new IllegalArgumentException("support size, intervals and batch size must be positive: "
                    + supportMaxSize + ", " + adaptationIntervalMs + ", " + adaptationBatchMax + ", " + queryBatchIntervalMs);
        }
    }

    /** Whether queries adapt stale tasks first: only when adaptation is on at all. */
    public boolean adaptsOnQuery() {
        return adaptationEnabled && adaptOnQuery;
    }

    /** What input and state may be: bad input past a limit becomes a dead letter, idle state expires. */
    public record Limits(int maxRecordBytes, long maxFutureMs, int deadLetterMaxValueBytes, long taskTtlMs,
            long expiryIntervalMs, long taskMaxCount, int expiryMaxPerPunctuation) {
        public Limits {
            if (taskMaxCount < 1 || expiryMaxPerPunctuation < 1) {
                throw new IllegalArgumentException("task.max.count and task.expiry.max.per.punctuation must be "
                        + "positive: " + taskMaxCount + ", " + expiryMaxPerPunctuation);
            }
        }

        /** The defaults of {@link MetastreamConfig}'s {@code ConfigDef}. */
        public static Limits defaults() {
            return DEFAULTS.limits();
        }

        /** These limits with another bound on the tasks an instance holds. */
        public Limits withTaskMaxCount(long count) {
            return new Limits(maxRecordBytes, maxFutureMs, deadLetterMaxValueBytes, taskTtlMs, expiryIntervalMs, count,
                    expiryMaxPerPunctuation);
        }

        /** These limits with another expiry schedule: how often, and at most how many tasks each time. */
        public Limits withExpiry(long intervalMs, int maxPerPunctuation) {
            return new Limits(maxRecordBytes, maxFutureMs, deadLetterMaxValueBytes, taskTtlMs, intervalMs, taskMaxCount,
                    maxPerPunctuation);
        }
    }

    /** These settings with another longest wait of a query for the samples produced before it. */
    public TopologySettings withQuerySampleWaitMs(long waitMs) {
        return new TopologySettings(supportMaxSize, adaptationIntervalMs, adaptationBatchMax, adaptOnQuery,
                queryBatchIntervalMs, waitMs, queryMaxWaitMs, limits, adaptationEnabled, stateEncoding, adaptationBacklogLagMs);
    }

    /** These settings with another backlog lag past which background rounds are deferred (0: never). */
    public TopologySettings withAdaptationBacklogLagMs(long lagMs) {
        return new TopologySettings(supportMaxSize, adaptationIntervalMs, adaptationBatchMax, adaptOnQuery,
                queryBatchIntervalMs, querySampleWaitMs, queryMaxWaitMs, limits, adaptationEnabled, stateEncoding,
                lagMs);
    }

    /** These settings with other limits. */
    public TopologySettings withLimits(Limits limits) {
        return new TopologySettings(supportMaxSize, adaptationIntervalMs, adaptationBatchMax, adaptOnQuery,
                queryBatchIntervalMs, querySampleWaitMs, queryMaxWaitMs, limits, adaptationEnabled, stateEncoding, adaptationBacklogLagMs);
    }

    /**
     * The defaults, read from {@link MetastreamConfig}'s {@code ConfigDef} (the one place a default
     * is written), so an embedding application gets the pipeline that {@code run} gets.
     */
    private static final TopologySettings DEFAULTS = from(new MetastreamConfig(
            Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092")));

    /** The defaults of {@link MetastreamConfig}. */
    public static TopologySettings defaults() {
        return DEFAULTS;
    }

    /** The defaults of {@link MetastreamConfig} with these batching settings. */
    public static TopologySettings of(int supportMaxSize, long adaptationIntervalMs, int adaptationBatchMax,
            boolean adaptOnQuery, long queryBatchIntervalMs) {
        return new TopologySettings(supportMaxSize, adaptationIntervalMs, adaptationBatchMax, adaptOnQuery,
                queryBatchIntervalMs, DEFAULTS.querySampleWaitMs(), DEFAULTS.queryMaxWaitMs(), DEFAULTS.limits(), DEFAULTS.adaptationEnabled(),
                DEFAULTS.stateEncoding(), DEFAULTS.adaptationBacklogLagMs());
    }

    public static TopologySettings from(MetastreamConfig config) {
        return new TopologySettings(config.getInt(MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG),
                config.getLong(MetastreamConfig.ADAPTATION_INTERVAL_MS_CONFIG),
                config.getInt(MetastreamConfig.ADAPTATION_BATCH_MAX_CONFIG),
                config.getBoolean(MetastreamConfig.ADAPTATION_ON_QUERY_CONFIG),
                config.getLong(MetastreamConfig.QUERY_BATCH_INTERVAL_MS_CONFIG),
                config.getLong(MetastreamConfig.QUERY_SAMPLE_WAIT_MS_CONFIG),
                config.getLong(MetastreamConfig.QUERY_MAX_WAIT_MS_CONFIG),
                new Limits(config.getInt(MetastreamConfig.INPUT_MAX_RECORD_BYTES_CONFIG),
                        config.getLong(MetastreamConfig.INPUT_MAX_FUTURE_MS_CONFIG),
                        config.getInt(MetastreamConfig.DEAD_LETTER_MAX_VALUE_BYTES_CONFIG),
                        config.getLong(MetastreamConfig.TASK_TTL_MS_CONFIG),
                        config.getLong(MetastreamConfig.TASK_EXPIRY_INTERVAL_MS_CONFIG),
                        config.getLong(MetastreamConfig.TASK_MAX_COUNT_CONFIG),
                        config.getInt(MetastreamConfig.TASK_EXPIRY_MAX_PER_PUNCTUATION_CONFIG)),
                config.getBoolean(MetastreamConfig.ADAPTATION_ENABLED_CONFIG),
                config.getString(MetastreamConfig.ADAPTED_STATE_ENCODING_CONFIG)
                        .equals(MetastreamConfig.ADAPTED_STATE_FLOAT32) ? AdaptedStateCodec.FLOAT32
                        : AdaptedStateCodec.INT8_DELTA,
                config.getLong(MetastreamConfig.ADAPTATION_BACKLOG_LAG_MS_CONFIG));
    }
}

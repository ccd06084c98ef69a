package io.metastream.app.topology;

import io.metastream.app.config.MetastreamConfig;

/** The settings the processors read, taken from {@link MetastreamConfig} once. */
public record TopologySettings(int supportMaxSize, long adaptationIntervalMs, int adaptationBatchMax,
        boolean adaptOnQuery, long queryMaxWaitMs) {
    public TopologySettings {
        if (supportMaxSize < 1 || adaptationIntervalMs < 1 || adaptationBatchMax < 1 || queryMaxWaitMs < 1) {
            throw new IllegalArgumentException("support size, intervals and batch size must be positive: "
                    + supportMaxSize + ", " + adaptationIntervalMs + ", " + adaptationBatchMax + ", " + queryMaxWaitMs);
        }
    }

    public static TopologySettings from(MetastreamConfig config) {
        return new TopologySettings(config.getInt(MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG),
                config.getLong(MetastreamConfig.ADAPTATION_INTERVAL_MS_CONFIG),
                config.getInt(MetastreamConfig.ADAPTATION_BATCH_MAX_CONFIG),
                config.getBoolean(MetastreamConfig.ADAPTATION_ON_QUERY_CONFIG),
                config.getLong(MetastreamConfig.QUERY_MAX_WAIT_MS_CONFIG));
    }
}

package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** An embedding application that takes the library's defaults gets the pipeline {@code run} gets. */
class TopologySettingsTest {
    @Test
    void shouldTakeEveryDefaultFromTheConfigDef() {
        Map<String, Object> defaults = MetastreamConfig.configDef().defaultValues();
        TopologySettings settings = TopologySettings.defaults();
        assertThat(settings.querySampleWaitMs()).isEqualTo(defaults.get(MetastreamConfig.QUERY_SAMPLE_WAIT_MS_CONFIG));
        assertThat(settings.supportMaxSize()).isEqualTo(defaults.get(MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG));
        assertThat(settings.adaptationIntervalMs())
                .isEqualTo(defaults.get(MetastreamConfig.ADAPTATION_INTERVAL_MS_CONFIG));
        assertThat(settings.limits().taskMaxCount()).isEqualTo(defaults.get(MetastreamConfig.TASK_MAX_COUNT_CONFIG));
        assertThat(settings.limits().maxRecordBytes())
                .isEqualTo(defaults.get(MetastreamConfig.INPUT_MAX_RECORD_BYTES_CONFIG));
        assertThat(TopologySettings.of(5, 50, 8, false, 10).querySampleWaitMs())
                .as("batching settings given, the rest the defaults").isEqualTo(settings.querySampleWaitMs());
    }
}

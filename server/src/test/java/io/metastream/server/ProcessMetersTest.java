package io.metastream.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.streams.MetastreamMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JVM's and the process's meters in Prometheus text, beside metastream's own. */
class ProcessMetersTest {
    private static final boolean PROCFS = Files.isReadable(Path.of("/proc/self/status"));

    @TempDir
    Path dir;

    @Test
    void shouldExportGcResidentMemoryAndTheServedModelInOneUnitPerFamily() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MetastreamMetrics metrics = MetastreamMetrics.of(registry, "");
        metrics.serving("sinusoid@3", "reptile");
        metrics.adaptationCall(4, 2_000);
        metrics.adapted(false, 10);
        try (ProcessMeters meters = ProcessMeters.bindTo(registry)) {
            String text = registry.scrape();
            Map<String, String> families = PrometheusText.families(text);
            assertThat(families).containsEntry("jvm_gc_memory_allocated_bytes_total", "counter")
                    .containsEntry("jvm_gc_max_data_size_bytes", "gauge")
                    .containsEntry("metastream_model_info", "gauge")
                    .containsKeys("jvm_memory_used_bytes", "jvm_threads_live_threads", "process_cpu_usage",
                            "metastream_adapted_tasks_total", "metastream_adaptation_call_seconds",
                            "metastream_adaptation_call_tasks");
            PrometheusText samples = PrometheusText.parse(text);
            assertThat(samples.sum("metastream_model_info", "model", "sinusoid", "version", "3", "learner",
                    "reptile")).isEqualTo(1);
            assertThat(PrometheusText.familiesMixingUnits(text)).isEmpty();
            if (PROCFS) {
                assertThat(families).containsEntry("process_resident_memory_bytes", "gauge");
                assertThat(samples.sum("process_resident_memory_bytes"))
                        .as("the RSS holds at least the heap in use")
                        .isGreaterThan(samples.sum("jvm_memory_used_bytes", "area", "heap"));
            } else {
                assertThat(families).doesNotContainKey("process_resident_memory_bytes");
            }

            metrics.serving("sinusoid@4", "reptile");
            PrometheusText swapped = PrometheusText.parse(registry.scrape());
            assertThat(swapped.withPrefix("metastream_model_info")).as("only the base served now").hasSize(1);
            assertThat(swapped.sum("metastream_model_info", "version", "4")).isEqualTo(1);
        }
    }

    @Test
    void shouldTakeAnotherNameWhenTheApplicationExportsItsOwnResidentMemory() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Gauge.builder(ProcessMeters.RSS, () -> 1).baseUnit("bytes").register(registry);
        try (ProcessMeters meters = ProcessMeters.bindTo(registry);
                ProcessMeters again = ProcessMeters.bindTo(registry)) {
            String text = registry.scrape();
            assertThat(PrometheusText.parse(text).sum("process_resident_memory_bytes")).isEqualTo(1);
            if (PROCFS) {
                assertThat(PrometheusText.families(text)).containsKey("metastream_process_resident_memory_bytes");
            }
        }
    }

    @Test
    void shouldReadVmRssInBytesAndNothingWhereThereIsNone() throws IOException {
        Path status = dir.resolve("status");
        Files.writeString(status, "Name:\tjava\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\nThreads:\t42\n");
        assertThat(ProcessMeters.residentBytes(status)).hasValue(123456L * 1024);
        Files.writeString(status, "Name:\tjava\n");
        assertThat(ProcessMeters.residentBytes(status)).isEmpty();
        assertThat(ProcessMeters.residentBytes(dir.resolve("absent"))).isEmpty();
    }

    @Test
    void shouldFindFamiliesThatMixUnits() {
        String text = "# TYPE a_seconds_bytes gauge\na_seconds_bytes 1\n# TYPE b_seconds summary\n"
                + "# TYPE c_tasks_total counter\n# TYPE d_ms_seconds gauge\n";
        assertThat(PrometheusText.familiesMixingUnits(text))
                .containsExactly("a_seconds_bytes [bytes, seconds]", "d_ms_seconds [ms, seconds]");
    }
}

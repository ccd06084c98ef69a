package io.metastream.streamapp.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.server.PrometheusText;
import io.metastream.streams.MetastreamConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded demo end to end: broker, first-run training, pipeline, simulated users, report. */
@Tag("embedded-broker")
class DemoRunnerTest {
    @TempDir
    Path dir;

    @Test
    void shouldAnswerEveryDemoQueryOnceAndBeatTheBaseByHalfWithTenShots() throws Exception {
        // Two stream threads, so both hand their rounds to the one shared adaptation engine (the
        // other embedded-broker tests run one thread).
        DemoOptions options = new DemoOptions(200, 10, 5, 1000, 0.02, 11L, dir, 2000, 4,
                Map.of(MetastreamConfig.NUM_STREAM_THREADS_CONFIG, "2"), false);
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        DemoReport report = new DemoRunner(options, new PrintStream(console, true, StandardCharsets.UTF_8)).run();

        assertThat(report.queries()).isEqualTo(1000);
        assertThat(report.samples()).isEqualTo(2000);
        assertThat(report.predictions()).isEqualTo(report.queries());
        assertThat(report.missingPredictions()).isZero();
        assertThat(report.duplicatePredictions()).isZero();
        assertThat(report.deadLettersInjected()).isPositive();
        assertThat(report.deadLetters()).isEqualTo(report.deadLettersInjected());
        assertThat(report.deadLetterMetrics().values().stream().mapToLong(Long::longValue).sum())
                .as("the dead-letter counters agree with the topic").isEqualTo(report.deadLetters());
        assertThat(report.mseAdapted()).isLessThanOrEqualTo(0.5 * report.mseBase());
        assertThat(report.predictionsByVersion()).containsOnlyKeys("sinusoid@1");
        assertThat(report.adaptations()).isPositive();
        // What a scraper saw at /metrics while the pipeline ran agrees with what the topics hold.
        // The pipeline also saw the warm-up traffic sent before the clock starts, which the report leaves out.
        List<SimulatedPopulation.Event> warmUp = new SimulatedPopulation(options).warmUp();
        long warmUpSamples = warmUp.stream().filter(SimulatedPopulation.Event::sample).count();
        long warmUpQueries = warmUp.stream().filter(SimulatedPopulation.Event::isValidQuery).count();
        assertThat(warmUpQueries).isEqualTo(SimulatedPopulation.WARM_UP_TASKS * 5L);
        assertThat(warmUp).allMatch(e -> e.key().startsWith(SimulatedPopulation.WARM_UP_PREFIX));
        PrometheusText scraped = PrometheusText.of(report.scrapedMetrics());
        assertThat(scraped.sum("metastream_samples_total")).isEqualTo(report.samples() + warmUpSamples);
        assertThat(scraped.sum("metastream_queries_total")).isEqualTo(report.queries() + warmUpQueries);
        assertThat(scraped.sum("metastream_predictions_total")).isEqualTo(report.predictions() + warmUpQueries);
        assertThat(scraped.sum("metastream_predictions_total", "path", "adapted"))
                .isBetween((double) report.predictionsAdapted(), (double) report.predictionsAdapted() + warmUpQueries);
        assertThat(scraped.sum("metastream_query_latency_seconds_count"))
                .isEqualTo(report.predictions() + warmUpQueries);
        assertThat(scraped.sum("metastream_dead_letters_total")).isEqualTo(report.deadLetters());
        assertThat(scraped.sum("metastream_adapted_tasks_total")).isPositive();
        assertThat(scraped.sum("metastream_adaptation_call_tasks_count")).isPositive();
        assertThat(scraped.sum("metastream_adaptation_call_seconds_sum")).isPositive();
        assertThat(scraped.sum("metastream_model_info", "model", "sinusoid", "version", "1")).isEqualTo(1);
        assertThat(scraped.sum("metastream_watcher_following")).isEqualTo(1);
        assertThat(console.toString(StandardCharsets.UTF_8))
                .contains("meta-training", "published sinusoid@1", "predictions 1000/1000", "/metrics");

        Path reportFile = dir.resolve("report.json");
        report.write(reportFile);
        assertThat(DemoReport.read(reportFile)).isEqualTo(report);
    }
}

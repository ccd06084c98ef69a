package io.metastream.streamapp.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * What the demo measured. Written as JSON with snake_case names. {@code mse_base} scores the
 * unadapted base on exactly the queries that {@code mse_adapted} scores from the published
 * predictions; latencies run from a query's send to its prediction's receipt by a read-committed
 * consumer. {@code djl_threads} is the intra-op thread count libtorch reports for the pipeline's
 * threads.
 */
public record DemoReport(int tasks, int shots, int queriesPerTask, long samples, long queries, long predictions,
        long predictionsAdapted, long duplicatePredictions, long missingPredictions, long adaptations,
        double adaptationMicrosMean, long deadLetters, long deadLettersInjected, Map<String, Long> deadLettersByReason,
        Map<String, Long> deadLetterMetrics, double mseBase, double mseBaseCi95, double mseAdapted,
        double mseAdaptedCi95, double mseRatio, Map<Integer, SupportBucket> bySupportSize, double p50Ms, double p99Ms, double maxMs, double wallS,
        String modelVersion, Map<String, Long> predictionsByVersion, String device, int djlThreads, String processingGuarantee,
        Map<Integer, Long> rssMbBySecond, Map<String, Double> scrapedMetrics) {

    /** Predictions made from a given support size, and their MSE. */
    public record SupportBucket(long predictions, double mse) {
    }

    public void write(Path file) throws IOException {
        JsonReports.write(this, file);
    }

    public static DemoReport read(Path file) throws IOException {
        return JsonReports.read(file, DemoReport.class);
    }

    /** A few lines for people. */
    public String summary() {
        return String.format(Locale.ROOT, """
                tasks %d, samples %d, queries %d -> predictions %d (adapted %d, duplicates %d, missing %d)
                adaptations %d (mean %.0f us per task in batched calls)
                dead letters %d of %d injected malformed records %s
                query MSE: adapted %.4f ± %.4f  vs  base %.4f ± %.4f  (ratio %.3f)
                latency query -> prediction: p50 %.1f ms, p99 %.1f ms, max %.1f ms
                model %s on %s (%d libtorch threads), %s, wall %.1f s; predictions by version %s""",
                tasks, samples, queries, predictions, predictionsAdapted, duplicatePredictions, missingPredictions,
                adaptations, adaptationMicrosMean, deadLetters, deadLettersInjected, deadLettersByReason, mseAdapted,
                mseAdaptedCi95, mseBase, mseBaseCi95, mseRatio, p50Ms, p99Ms, maxMs, modelVersion, device, djlThreads,
                processingGuarantee, wallS, predictionsByVersion);
    }
}

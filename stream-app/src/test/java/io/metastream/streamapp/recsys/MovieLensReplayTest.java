package io.metastream.streamapp.recsys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.metastream.data.movielens.ColdStartEvaluation.Method;
import io.metastream.data.movielens.SyntheticMovieLens;
import io.metastream.learn.Evaluation;
import io.metastream.streamapp.demo.DemoOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cold-start recommendation end to end on the embedded broker: a synthetic MovieLens-format data
 * set, a preference model meta-trained on its warm users, and the cold users' ratings replayed in
 * time order through the real pipeline, each rating asked as a query before it is sent.
 */
@Tag("embedded-broker")
class MovieLensReplayTest {
    @TempDir
    Path dir;

    @Test
    void coldUsersArePredictedFromTheirOwnEarlierRatingsAndTheErrorFallsAsRatingsArrive() {
        Path data = dir.resolve("movielens");
        SyntheticMovieLens.write(data, new SyntheticMovieLens.Spec(300, 200, 13, 80, 5));
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        // 40 cold users at 400 records/s, 800 iterations of meta-training, 2 partitions.
        ReplayReport report = new MovieLensDemo(data, new DemoOptions(40, 10, 5, 400, 0, 7L, dir, 800, 2, Map.of(),
                false), new PrintStream(console, true, StandardCharsets.UTF_8)).run();

        Map<String, Object> counts = report.counts();
        assertThat(counts.get("users")).isEqualTo(40);
        assertThat(report.missingPredictions()).as(console.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(report.duplicatePredictions()).isZero();
        assertThat(counts.get("dead_letters")).isEqualTo(0L);
        // Every answer came from exactly the ratings the user had given before the query, and it is
        // what adapting the same model to those ratings in this process gives.
        assertThat(report.consistency().get("support_size_as_expected"))
                .isEqualTo(report.consistency().get("support_size_checked"));
        assertThat(((Number) report.consistency().get("support_size_checked")).longValue())
                .isEqualTo(((Number) counts.get("queries")).longValue());
        assertThat(((Number) report.consistency().get("max_abs_gap_to_local_adaptation")).doubleValue())
                .isLessThan(1e-4);

        double first = mae(report, ReplayReport.STREAM, List.of("0", "1"));
        double later = mae(report, ReplayReport.STREAM, List.of("10-19", "20+"));
        assertThat(later).as("prequential MAE after 10+ ratings vs after 0-1").isLessThan(first);
        double baseLater = mae(report, Method.BASE_UNADAPTED.id(), List.of("10-19", "20+"));
        assertThat(later).as("adapted in the stream vs the unadapted base, 10+ ratings").isLessThan(baseLater);
        // The paired comparison: over the 40 users, against a baseline (never the model's own rows),
        // and the mean of the per-user differences is the difference of the per-user means.
        ReplayReport.PrequentialComparison c = report.againstBest();
        assertThat(c.difference().tasks()).isEqualTo(40);
        assertThat(c.best()).isNotIn(ReplayReport.STREAM, Method.META_ADAPTED.id(), Method.BASE_UNADAPTED.id());
        assertThat(c.difference().mean()).isCloseTo(c.streamValue() - c.bestValue(), within(1e-9));
        assertThat(report.json()).containsKey("prequential_stream_minus_best_baseline");
        double stream = report.heldOut().get(ReplayReport.STREAM).mae().mean();
        assertThat(stream).as("held-out MAE vs item mean")
                .isLessThan(report.heldOut().get(Method.ITEM_MEAN.id()).mae().mean());
    }

    /** The MAE over the union of some buckets: their means weighted by their counts. */
    private static double mae(ReplayReport report, String method, List<String> buckets) {
        double sum = 0;
        int n = 0;
        for (String b : buckets) {
            Evaluation.Estimate e = report.prequential().get(method).get(b);
            sum += e.mean() * e.tasks();
            n += e.tasks();
        }
        return sum / n;
    }
}

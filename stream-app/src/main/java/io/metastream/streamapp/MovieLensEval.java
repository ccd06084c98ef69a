package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.ColdStartComparison;
import io.metastream.training.ColdStartModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code eval movielens}: the stored meta-learned model and every baseline on the meta-test users
 * of the same data, the pooled baseline trained in this run.
 */
@Command(name = "movielens", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Score a stored preference model (default ref: the newest movielens model trained on "
                + "--data) and every baseline on the cold users of the same data: MAE, RMSE and nDCG@3 (AUC and "
                + "log-loss for --target binary), printed as a table and written as JSON.")
final class MovieLensEval implements Callable<Integer> {
    @Option(names = "--data", required = true, paramLabel = "DIR",
            description = "The MovieLens folder the model was trained on.")
    Path data;

    @Mixin
    MovieLensOptions movielens = new MovieLensOptions();

    @Mixin
    EvalOptions options = new EvalOptions();

    @Option(names = "--round-to-stars", description = "Round every method's rating predictions to whole stars "
            + "before scoring (a mean-based method's MAE gains most: the median of whole-star ratings is a whole "
            + "star).")
    boolean roundToStars;

    @Override
    public Integer call() throws IOException {
        ColdStartData cold = movielens.read(data);
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = options.open();
        String name = options.name(ColdStartModels.modelName(cold.target()));
        String version = options.version().orElseGet(() -> ColdStartModels.newestFor(store, name, cold)
                .map(m -> m.version()).orElseThrow(() -> new IllegalArgumentException("no version of '" + name
                        + "' in " + options.store() + " was trained on " + data + " (" + cold.fingerprint()
                        + "): run train movielens first")));
        BaseModel meta = ColdStartModels.load(store, name, version, cold);
        long start = System.nanoTime();
        ConsoleProgress bar = new ConsoleProgress(System.out, "pooled baseline");
        ColdStartComparison result;
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            result = ColdStartComparison.run(cold, ColdStartModels.peers(cold, learner, meta,
                    (done, total, loss) -> bar.update(done, total, "")), roundToStars);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "%s on %s %s, %s%n%n", meta.version(), cold.data().format(), cold.fingerprint(),
                cold.split().protocol().describe());
        System.out.print(result.table());
        if (options.report != null) {
            Map<String, Object> out = result.json();
            out.put("model", meta.version());
            out.put("learner", meta.learner());
            out.put("dataset", cold.data().format() + " " + cold.fingerprint());
            out.put("protocol", cold.split().protocol().describe());
            out.put("protocol_id", cold.split().protocol().id());
            out.put("rounded_to_stars", roundToStars);
            out.put("seconds", Math.round(seconds * 100) / 100.0);
            options.write(out);
            System.out.println("report written to " + options.report.toAbsolutePath());
        }
        return 0;
    }
}

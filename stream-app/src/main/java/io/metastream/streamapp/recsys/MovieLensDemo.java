package io.metastream.streamapp.recsys;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.data.movielens.SyntheticMovieLens;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.server.MetastreamApp;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.streamapp.demo.DemoOptions;
import io.metastream.streams.MetastreamConfig;
import io.metastream.training.ColdStartModels;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code demo --scenario movielens}: cold-start personalisation end to end in one process. The
 * ratings come from the MovieLens folder given, or from a synthetic one written on first run; the
 * preference model is meta-trained on the warm users on first run; an embedded broker and the
 * pipeline run; the cold users' ratings are replayed in time order; the report compares the
 * pipeline's predictions with every baseline as ratings arrive.
 */
public final class MovieLensDemo {
    /** Records a second by default: each carries a 51-feature rating whose adaptation costs about 1 ms. */
    public static final int DEFAULT_RATE = 400;
    /** What the demo trains when the store has no model for the data: {@code train movielens}'s default. */
    /** Meta-train users replayed before the cold ones: about 2,000 records (a query and a sample a rating). */
    static final int WARM_UP_USERS = 20;
    public static final ColdStartData.Recipe RECIPE = ColdStartData.defaultRecipe(RatingTarget.RATING);

    private final Path source;
    private final DemoOptions options;
    private final PrintStream out;

    /**
     * Replays {@code data} (a MovieLens 100K or 1M folder; null: a synthetic one written under the
     * data directory on first run) with the common demo options: at most {@code tasks} cold users,
     * {@code rate} records a second, {@code trainIterations} of meta-training on first run, the
     * data directory, {@code partitions} and {@code overrides}. Shots, queries, bad records, the
     * seed and swaps are the sinusoid scenario's.
     */
    public MovieLensDemo(Path data, DemoOptions options, PrintStream out) {
        this.source = data;
        this.options = options;
        this.out = out;
    }

    public ReplayReport run() {
        // First: the engine takes djl.threads before the data is read and the base trained.
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().overrides(options.overrides()).start()) {
            return replay(pipeline);
        }
    }

    private ReplayReport replay(EmbeddedPipeline pipeline) {
        ColdStartData data = ColdStartData.read(dataFolder(), RatingTarget.RATING, RECIPE.features());
        out.printf(Locale.ROOT, "metastream demo, movielens scenario: %s %s, %d warm users to meta-train on, "
                + "%d cold users to replay%n", data.data().format(), data.fingerprint(), data.split().train().size(),
                data.split().test().size());
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(options.dataDir().resolve("models"));
        BaseModel meta = loadOrTrain(store, data);
        out.println("serving base " + meta);
        ConsoleProgress bar = new ConsoleProgress(out, "pooled baseline");
        Map<String, Object> settings = Map.of(
                MetastreamConfig.APPLICATION_ID_CONFIG, "metastream-movielens-demo",
                MetastreamConfig.MODEL_NAME_CONFIG, ColdStartModels.MODEL_NAME,
                MetastreamConfig.TOPIC_PARTITIONS_CONFIG, options.partitions(),
                // Keep every support rating the protocol allows, so the stream adapts on what eval does.
                MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG, data.split().protocol().maxRatings(),
                // A prequential query must see exactly the ratings before it: on a loaded machine,
                // wait longer for the samples topic to catch up before answering without them.
                MetastreamConfig.QUERY_SAMPLE_WAIT_MS_CONFIG, 5000L);
        try (DispatchingLearner local = new DispatchingLearner(DjlRuntime.defaultDevice());
                MetastreamApp app = pipeline.app(settings).model(meta).modelStore(store)
                        .startTimeout(Duration.ofSeconds(60)).start()) {
            out.println("pipeline running on the embedded broker " + pipeline.bootstrapServers());
            // Warm users' ratings first, outside the figures: the JIT compiles the path on them.
            MovieLensReplay replay = new MovieLensReplay(data, new MovieLensReplay.Options(options.rate(),
                    options.tasks(), "ml-", WARM_UP_USERS), out);
            MovieLensReplay.Outcome outcome = replay.run(pipeline.bootstrapServers(), app.topics());
            return ReplayReport.of(data, outcome, ColdStartModels.peers(data, local, meta,
                    (done, total, loss) -> bar.update(done, total, "")));
        }
    }

    private Path dataFolder() {
        if (source != null) {
            return source;
        }
        Path synthetic = options.dataDir().resolve("movielens-synthetic");
        if (!Files.isRegularFile(synthetic.resolve("u.data"))) {
            out.println("no --data given: writing a synthetic MovieLens-format data set to " + synthetic
                    + " (for the real one see README, MovieLens)");
            SyntheticMovieLens.write(synthetic, SyntheticMovieLens.Spec.standard(1));
        }
        return synthetic;
    }

    private BaseModel loadOrTrain(LocalDirectoryModelStore store, ColdStartData data) {
        Optional<ModelManifest> trained = ColdStartModels.newestFor(store, ColdStartModels.MODEL_NAME, data);
        if (trained.isPresent()) {
            return ColdStartModels.load(store, ColdStartModels.MODEL_NAME, trained.get().version(), data);
        }
        out.println("no preference model for this data in " + store.root() + " yet: meta-training one ("
                + RECIPE.learner().id() + ", the default recipe of train movielens)");
        ConsoleProgress bar = new ConsoleProgress(out, "meta-training");
        ModelManifest m = ColdStartModels.train(store, ColdStartModels.MODEL_NAME, RECIPE.learner(),
                RECIPE.embeddingDim(), data, RECIPE.nextQueryShare(),
                RECIPE.plan().withIterations(options.trainIterations()),
                (done, total, loss) -> bar.update(done, total,
                        String.format(Locale.ROOT, "query loss %.3f", loss))).manifest();
        out.println("published " + m.ref() + "; held-out metrics " + m.provenance().get("metrics"));
        return ColdStartModels.load(store, ColdStartModels.MODEL_NAME, m.version(), data);
    }
}

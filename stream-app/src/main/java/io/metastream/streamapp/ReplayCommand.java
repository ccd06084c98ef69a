package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.streamapp.recsys.MovieLensReplay;
import io.metastream.streamapp.recsys.ReplayReport;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import io.metastream.training.ColdStartModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay the cold users of a MovieLens data set, in timestamp order, into a running pipeline "
                + "(started with `run --config FILE`): each rating is first asked as a query, then sent as a sample; "
                + "each user's held-out items are asked after their support. Prints the pipeline's prequential MAE "
                + "by ratings given so far next to every baseline.")
final class ReplayCommand implements Callable<Integer> {
    @Option(names = "--dataset", defaultValue = "movielens", description = "Only movielens.")
    String dataset;

    @Mixin
    MovieLensOptions movielens = new MovieLensOptions();

    @Option(names = "--data", required = true, description = "The MovieLens folder the served model was trained on.")
    Path data;

    @Option(names = "--config", required = true, description = "The pipeline's properties file (bootstrap servers, "
            + "topics, model store, model name and alias).")
    Path config;

    @Option(names = "--set", description = "Override one key of the config (repeatable).")
    Map<String, String> overrides = new HashMap<>();

    @Option(names = "--rate", defaultValue = "1000", description = "Records a second (default ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--users", defaultValue = "0", description = "At most this many cold users (default: all).")
    int users;

    @Option(names = "--report", description = "Write the JSON report here.")
    Path report;

    @Override
    public Integer call() throws IOException {
        if (!dataset.equals("movielens")) {
            throw new IllegalArgumentException("replay supports --dataset movielens only, got '" + dataset + "'");
        }
        Properties props = PipelineSettings.load(config, overrides, null);
        MetastreamConfig cfg = new MetastreamConfig(props);
        ColdStartData d = movielens.read(data);
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(
                Path.of(cfg.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG)));
        BaseModel meta = ColdStartModels.load(store, cfg.getString(MetastreamConfig.MODEL_NAME_CONFIG),
                cfg.getString(MetastreamConfig.MODEL_ALIAS_CONFIG), d);
        int supportMax = cfg.getInt(MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG);
        if (supportMax < d.split().protocol().maxRatings()) {
            System.out.println("note: the pipeline keeps " + supportMax + " samples per task ("
                    + MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG + "); users with more ratings are adapted on their latest "
                    + supportMax);
        }
        long wait = cfg.getLong(MetastreamConfig.QUERY_SAMPLE_WAIT_MS_CONFIG);
        if (wait < 5000) {
            System.out.println("note: the pipeline answers a query after " + wait + " ms ("
                    + MetastreamConfig.QUERY_SAMPLE_WAIT_MS_CONFIG + ") even if the samples before it are not in yet; "
                    + "under lag (start-up, a loaded machine) a prequential query can then miss the user's ratings. "
                    + "The report counts such answers; 5000 avoids them");
        }
        ConsoleProgress bar = new ConsoleProgress(System.out, "pooled baseline");
        // A fresh task-id prefix per run: these users are cold, whatever earlier replays left in the state.
        String prefix = "ml-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        MovieLensReplay replay = new MovieLensReplay(d, new MovieLensReplay.Options(rate, users, prefix), System.out);
        MovieLensReplay.Outcome outcome = replay.run(cfg.getString(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG),
                Topics.from(cfg));
        ReplayReport result;
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            result = ReplayReport.of(d, outcome, ColdStartModels.peers(d, learner, meta,
                    (done, total, loss) -> bar.update(done, total, "")));
        }
        return result.finish(System.out, report);
    }
}

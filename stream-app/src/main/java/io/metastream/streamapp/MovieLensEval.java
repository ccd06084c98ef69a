package io.metastream.streamapp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.data.movielens.ColdStartData;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.ColdStartComparison;
import io.metastream.training.ColdStartModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * {@code eval --dataset movielens}: the stored meta-learned model and every baseline on the
 * meta-test users of the same data, the pooled baseline trained in this run.
 */
final class MovieLensEval {
    private MovieLensEval() {
    }

    static int run(EvalCommand c) throws IOException {
        if (c.data == null) {
            throw new IllegalArgumentException("movielens needs --data DIR, the folder the model was trained on");
        }
        ColdStartData data = c.movielens.read(c.data);
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(c.model);
        String ref = c.ref != null ? c.ref : ColdStartModels.modelName(data.target());
        int at = ref.indexOf('@');
        String name = at < 0 ? ref : ref.substring(0, at);
        String version = at >= 0 ? ref.substring(at + 1)
                : ColdStartModels.newestFor(store, name, data).map(m -> m.version()).orElseThrow(() ->
                        new IllegalArgumentException("no version of '" + name + "' in " + c.model + " was trained on "
                                + c.data + " (" + data.fingerprint() + "): run train --dataset movielens first"));
        BaseModel meta = ColdStartModels.load(store, name, version, data);
        long start = System.nanoTime();
        ConsoleProgress bar = new ConsoleProgress(System.out, "pooled baseline");
        ColdStartComparison result;
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            result = ColdStartComparison.run(data, ColdStartModels.peers(data, learner, meta,
                    (done, total, loss) -> bar.update(done, total, "")));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "%s on %s %s, %s%n%n", meta.version(), data.data().format(), data.fingerprint(),
                data.split().protocol().describe());
        System.out.print(result.table());
        if (c.report != null) {
            Map<String, Object> out = result.json();
            out.put("model", meta.version());
            out.put("learner", meta.learner());
            out.put("dataset", data.data().format() + " " + data.fingerprint());
            out.put("protocol", data.split().protocol().describe());
            out.put("seconds", Math.round(seconds * 100) / 100.0);
            Path parent = c.report.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(c.report.toFile(), out);
            System.out.println("report written to " + c.report.toAbsolutePath());
        }
        return 0;
    }
}

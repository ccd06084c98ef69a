package io.metastream.streamapp;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.ProtoNetTraining;
import io.metastream.training.protonet.ProtoNetPlan;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code train --dataset omniglot}: the prototypical-network path of {@link TrainCommand}. */
final class OmniglotTrain {
    private OmniglotTrain() {
    }

    static int run(TrainCommand c) throws IOException {
        if (!c.algorithm.equalsIgnoreCase(BaseModelArtifacts.PROTONET)) {
            throw new IllegalArgumentException("omniglot is trained with --algorithm protonet, got '" + c.algorithm + "'");
        }
        // Offline training owns the machine: use every core for libtorch's intra-op pool.
        DjlRuntime.start(Runtime.getRuntime().availableProcessors());
        Omniglot data = OmniglotData.load(c.data);
        List<String> test = OmniglotData.testAlphabets(data, c.data, c.testAlphabets);
        List<String> train = data.alphabets().stream().filter(a -> !test.contains(a)).toList();
        ProtoNetPlan d = ProtoNetPlan.bundledDefault();
        ProtoNetPlan plan = new ProtoNetPlan(train, c.iterations != null ? c.iterations : d.episodes(), c.ways,
                c.shots != null ? c.shots : d.shots(), d.queries(), d.rotations(), d.learningRate(), d.halveEvery(),
                c.seed);
        String name = c.name != null ? c.name : "omniglot";
        System.out.printf(Locale.ROOT, "omniglot from %s: training alphabets %s, test alphabets %s%n", data.source(),
                train, test);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(c.out);
        ConsoleProgress bar = new ConsoleProgress(System.out, "training protonet");
        ProtoNetTraining.TrainingRun run = ProtoNetTraining.train(store, name, data, test, plan,
                (done, total, loss) -> bar.update(done, total, String.format(Locale.ROOT, "episode loss %.3f", loss)));
        ModelManifest manifest = run.manifest();
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", manifest.ref());
        log.put("algorithm", BaseModelArtifacts.PROTONET);
        log.put("train_seconds", run.trainSeconds());
        log.put("plan", plan);
        log.put("provenance", manifest.provenance());
        log.put("episode_loss", run.loss());
        log.put("episode_accuracy", run.accuracy());
        return c.finish(store, name, manifest, run.trainSeconds(), run.loss(), manifest.ref() + " (protonet, "
                + plan.ways() + "-way " + plan.shots() + "-shot episodes, loss)", log);
    }
}

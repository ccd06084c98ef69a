package io.metastream.app.cli;

import io.metastream.app.console.ConsoleProgress;
import io.metastream.app.model.BaseModelTraining;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.SinusoidTasks;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Meta-train a base model and publish it, with its provenance, to a model store.")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--dataset", defaultValue = "sinusoid", description = "Task family: sinusoid.")
    String dataset;

    @Option(names = "--algorithm", defaultValue = "reptile", description = "reptile or fomaml.")
    String algorithm;

    @Option(names = "--out", required = true, description = "Model store root directory.")
    Path out;

    @Option(names = "--name", defaultValue = "sinusoid", description = "Model name in the store.")
    String name;

    @Option(names = "--iterations", defaultValue = "5000", description = "Meta-training iterations.")
    int iterations;

    @Option(names = "--inner-steps", defaultValue = "5", description = "Inner SGD steps (also used online).")
    int innerSteps;

    @Option(names = "--inner-step-size", defaultValue = "0.02", description = "Inner SGD step size.")
    float innerStepSize;

    @Option(names = "--seed", defaultValue = "42", description = "Seed.")
    long seed;

    @Option(names = "--promote", description = "Point this alias (e.g. production) at the new version.")
    String promote;

    @Override
    public Integer call() {
        if (!dataset.equals("sinusoid")) {
            throw new IllegalArgumentException("unknown dataset '" + dataset + "' (available: sinusoid)");
        }
        MetaTrainer.Algorithm algo = MetaTrainer.Algorithm.valueOf(algorithm.toUpperCase(Locale.ROOT));
        DjlRuntime.start(1);
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault();
        MetaTrainingPlan plan = new MetaTrainingPlan(d.architecture(), new AdaptationSettings(innerSteps, innerStepSize),
                iterations, d.metaBatch(), d.shots(), d.queryShots(), d.outerStepSize(), seed);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(out);
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + algo.id());
        ModelManifest manifest = BaseModelTraining.trainAndPublish(store, name, algo, new SinusoidTasks(), plan,
                (done, total, loss) -> bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", loss)));
        System.out.println("published " + manifest.ref() + " metrics " + manifest.provenance().get("metrics"));
        if (promote != null) {
            store.setAlias(name, promote, manifest.version());
            System.out.println(promote + " -> " + manifest.ref());
        }
        return 0;
    }
}

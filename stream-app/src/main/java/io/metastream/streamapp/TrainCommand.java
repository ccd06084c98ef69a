package io.metastream.streamapp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.RidgeHeadLearner;
import io.metastream.learn.TaskEncoderLearner;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.BaseModelTraining;
import io.metastream.training.LearningCurveChart;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Meta-train a base model and publish it, with its provenance, to a model store. "
                + "Writes a JSON training log and a learning-curve PNG under <out>/_runs/<name>-v<version>/.")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--dataset", defaultValue = "sinusoid",
            description = "Task family: sinusoid, omniglot, movielens (one task per user), or records (your own "
                    + "task-keyed rows in --data).")
    String dataset;

    @Option(names = "--algorithm", defaultValue = "reptile",
            description = "maml (second order), fomaml, reptile, metasgd, anil, anil-ridge (ANIL with a "
                    + "closed-form ridge head), task-encoder (adaptation is one forward pass), or pretrain (the "
                    + "pooled fine-tuning baseline) for sinusoid; protonet for omniglot.")
    String algorithm;

    @Option(names = "--out", required = true, description = "Model store root directory.")
    Path out;

    @Option(names = "--name", description = "Model name in the store (default: the dataset).")
    String name;

    @Option(names = "--iterations",
            description = "Meta-training iterations (episodes for omniglot); default 5000 for sinusoid, 1500 for omniglot.")
    Integer iterations;

    @Option(names = "--inner-steps",
            description = "Inner SGD steps, also the default online: 5 for reptile and fomaml, else 1.")
    Integer innerSteps;

    @Option(names = "--inner-step-size",
            description = "Inner SGD step size: 0.02 for reptile, fomaml and pretrain, 0.01 for maml and anil "
                    + "(Finn et al. 2017); the nominal size for metasgd, whose sizes are learned.")
    Float innerStepSize;

    @Option(names = "--loss", description = "Loss of the inner and outer loop: mse, mae (absolute error, the "
            + "median's loss) or logistic (targets 0/1, predictions served as probabilities). Default: mse; for "
            + "movielens mae with --target rating, logistic with --target binary.")
    String loss;

    @Option(names = "--inner-step", defaultValue = "sgd", description = "How the stream takes each inner step: "
            + "sgd (always the step size times the gradient) or bounded-sgd (a step that would pass the minimum "
            + "of the support loss's Gauss-Newton model is shortened to land on it; keeps 1- and 2-shot "
            + "adaptations from blowing up). Meta-training takes plain steps either way. Default: ${DEFAULT-VALUE}.")
    String innerStep;

    /** The parsed {@code --inner-step}. */
    AdaptationSettings.InnerStep innerStep() {
        return AdaptationSettings.InnerStep.fromId(innerStep);
    }

    @Option(names = "--support-prior", description = "movielens only: pseudo-ratings that agree with the base, "
            + "added to each support set's loss (default 10).")
    Float supportPrior;

    @Option(names = "--shots", description = "Support examples per task (K): default 10 for sinusoid, 5 per class "
            + "for omniglot; for task-encoder the largest support size, sizes drawn from 0..K (default 20).")
    Integer shots;

    @Option(names = "--embedding-dim", defaultValue = "32",
            description = "task-encoder only: length of the task embedding.")
    int embeddingDim;

    @Mixin
    MovieLensOptions movielens = new MovieLensOptions();

    @Option(names = "--data", description = "omniglot: a folder in the full Omniglot layout "
            + "<split>/<Alphabet>/characterNN/*.png (default: the bundled background-small archives); movielens: a "
            + "MovieLens 100K or 1M folder (required); records: a CSV or Avro container file, or a folder of them "
            + "(required).")
    Path data;

    @Option(names = "--hidden", split = ",", description = "records only: hidden layer widths, e.g. 64,32 "
            + "(default 40,40).")
    List<Integer> hidden = RecordsTrain.defaultHidden();

    @Mixin
    RecordsTrain.TopicSource topic = new RecordsTrain.TopicSource();

    @Option(names = "--held-out", defaultValue = "0.2",
            description = "records only: fraction of the tasks held out of training and scored.")
    double heldOut;

    @Option(names = "--ways", defaultValue = "20", description = "omniglot only: classes per training episode.")
    int ways;

    @Option(names = "--test-alphabets", split = ",", description = "omniglot only: alphabets kept out of training "
            + "(default: Balinese, Early_Aramaic, Greek for the bundled data; the images_evaluation alphabets of --data).")
    List<String> testAlphabets;

    @Option(names = "--meta-batch", description = "Tasks per meta-iteration (default 25).")
    Integer metaBatchOption;

    @Option(names = "--outer-step-size", description = "Adam step size of the outer loop (default 0.002).")
    Float outerStepSizeOption;

    @Option(names = "--outer-decay-to",
            description = "Decay the outer step size linearly to this fraction of itself by the last iteration "
                    + "(default 1, constant).")
    Float outerDecayToOption;

    int metaBatch;
    float outerStepSize;
    float outerDecayTo;

    /** The outer-loop options the user gave, the {@code defaults} plan's elsewhere. */
    void outerLoopDefaults(MetaTrainingPlan defaults) {
        metaBatch = metaBatchOption != null ? metaBatchOption : defaults.metaBatch();
        outerStepSize = outerStepSizeOption != null ? outerStepSizeOption : defaults.outerStepSize();
        outerDecayTo = outerDecayToOption != null ? outerDecayToOption : defaults.finalOuterStepFraction();
    }

    @Option(names = "--seed", defaultValue = "42", description = "Seed.")
    long seed;

    @Option(names = "--promote", description = "Point this alias (e.g. production) at the new version.")
    String promote;

    @Override
    public Integer call() throws IOException {
        if (dataset.equals("omniglot")) {
            return OmniglotTrain.run(this);
        }
        if (dataset.equals("records")) {
            outerLoopDefaults(MetaTrainingPlan.sinusoidDefault());
            return RecordsTrain.run(this);
        }
        if (dataset.equals("movielens")) {
            outerLoopDefaults(io.metastream.data.movielens.ColdStartData.defaultPlan());
            return MovieLensTrain.run(this);
        }
        outerLoopDefaults(MetaTrainingPlan.sinusoidDefault());
        if (!dataset.equals("sinusoid")) {
            throw new IllegalArgumentException("unknown dataset '" + dataset
                    + "' (available: sinusoid, omniglot, movielens, records)");
        }
        String algo = algorithm.toLowerCase(Locale.ROOT);
        boolean taskEncoder = algo.equals(TaskEncoderLearner.ID);
        int iterations = this.iterations != null ? this.iterations : 5000;
        int shots = this.shots != null ? this.shots : taskEncoder ? 20 : 10;
        String name = this.name != null ? this.name : "sinusoid";
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault();
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(out);
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + algo);
        MetaTrainer.Progress progress = (done, total, loss) -> bar.update(done, total,
                String.format(Locale.ROOT, "query loss %.3f", loss));
        BaseModelTraining.TrainingRun run;
        MetaTrainingPlan plan;
        String innerLoop;
        if (taskEncoder || algo.equals(RidgeHeadLearner.ID)) {
            if (innerSteps != null || innerStepSize != null) {
                throw new IllegalArgumentException(algo + " has no inner steps: drop --inner-steps and "
                        + "--inner-step-size");
            }
            if (loss != null && Loss.fromId(loss) != Loss.MSE) {
                throw new IllegalArgumentException(algo + " is trained with squared error only: drop --loss " + loss);
            }
            plan = new MetaTrainingPlan(d.architecture(), AdaptationSettings.NONE, iterations,
                    metaBatch, shots, d.queryShots(), outerStepSize, seed, outerDecayTo);
            run = taskEncoder
                    ? BaseModelTraining.trainTaskEncoder(store, name, new SinusoidTasks(), plan, embeddingDim, progress)
                    : BaseModelTraining.train(store, name, MetaTrainer.Algorithm.ANIL_RIDGE, new SinusoidTasks(), plan,
                            progress);
            innerLoop = taskEncoder ? "embedding " + embeddingDim + ", K=0.." + shots : "ridge head, K=" + shots;
        } else {
            MetaTrainer.Algorithm a = MetaTrainer.Algorithm.fromId(algo);
            boolean firstOrderDefaults = a == MetaTrainer.Algorithm.REPTILE || a == MetaTrainer.Algorithm.FOMAML;
            int steps = innerSteps != null ? innerSteps : firstOrderDefaults ? 5 : 1;
            float stepSize = innerStepSize != null ? innerStepSize
                    : firstOrderDefaults || a == MetaTrainer.Algorithm.PRETRAIN ? 0.02f : 0.01f;
            plan = new MetaTrainingPlan(d.architecture(), new AdaptationSettings(steps, stepSize, 0f,
                    loss == null ? Loss.MSE : Loss.fromId(loss), innerStep()),
                    iterations, metaBatch, shots, d.queryShots(), outerStepSize, seed, outerDecayTo);
            run = BaseModelTraining.train(store, name, a, new SinusoidTasks(), plan, progress);
            innerLoop = steps + " inner step" + (steps == 1 ? "" : "s") + ", K=" + shots;
        }
        ModelManifest manifest = run.manifest();
        return finish(store, name, manifest, run.trainSeconds(), run.curve(),
                manifest.ref() + " (" + algo + ", " + innerLoop + ")", log(run, plan, algo));
    }

    /**
     * The end of every training run: the learning curve and the JSON log under
     * {@code <out>/_runs/<name>-v<version>/}, a line about what was published, and
     * {@code --promote}.
     */
    int finish(LocalDirectoryModelStore store, String name, ModelManifest manifest, double trainSeconds,
            float[] curve, String chartTitle, Map<String, Object> log) throws IOException {
        Path runDir = out.resolve("_runs").resolve(name + "-v" + manifest.version());
        Files.createDirectories(runDir);
        Files.write(runDir.resolve("learning-curve.png"), LearningCurveChart.png(curve, chartTitle));
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(runDir.resolve("training-log.json").toFile(), log);
        System.out.printf(Locale.ROOT, "trained in %.1f s; published %s metrics %s%n", trainSeconds,
                manifest.ref(), manifest.provenance().get("metrics"));
        System.out.println("training log and learning curve in " + runDir);
        if (promote != null) {
            store.setAlias(name, promote, manifest.version());
            System.out.println(promote + " -> " + manifest.ref());
        }
        return 0;
    }

    private static Map<String, Object> log(BaseModelTraining.TrainingRun run, MetaTrainingPlan plan, String algo) {
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", run.manifest().ref());
        log.put("algorithm", algo);
        log.put("train_seconds", run.trainSeconds());
        log.put("plan", Map.of("architecture", plan.architecture().spec(), "iterations", plan.iterations(),
                "meta_batch", plan.metaBatch(), "shots", plan.shots(), "query_shots", plan.queryShots(),
                "inner_steps", plan.adaptation().steps(), "inner_step_size", plan.adaptation().stepSize(),
                "outer_step_size", plan.outerStepSize(), "final_outer_step_fraction", plan.finalOuterStepFraction(),
                "seed", plan.seed()));
        log.put("provenance", run.manifest().provenance());
        log.put("resident_kb", run.memory());
        log.put("query_loss", run.curve());
        return log;
    }
}

package io.metastream.streamapp;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.training.BaseModelTraining;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code train sinusoid}: a base for sine-wave regression, the benchmark every learner is compared on. */
@Command(name = "sinusoid", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Meta-train a base on sine-wave regression tasks and publish it as <name> (default: "
                + "sinusoid).",
                "Defaults: 5000 iterations, K = 10 support points (task-encoder: support sizes drawn from 0..20), "
                        + "meta-batch 25, outer step size 0.002, loss mse; reptile and fomaml take 5 inner steps of "
                        + "0.02, pretrain 1 of 0.02, maml, metasgd and anil 1 of 0.01."})
final class SinusoidTrain implements Callable<Integer> {
    @Option(names = "--learner", defaultValue = "reptile", paramLabel = "ID",
            converter = LearnerOption.KindConverter.class, completionCandidates = LearnerOption.Served.class,
            description = "${COMPLETION-CANDIDATES}. maml is second order; metasgd and anil learn per-parameter "
                    + "step sizes; anil-ridge is ANIL with a closed-form ridge head and task-encoder adapts in one "
                    + "forward pass (neither takes inner steps); pretrain is the pooled fine-tuning baseline. "
                    + "Default: ${DEFAULT-VALUE}.")
    LearnerKind learner;

    /**
     * {@code --algorithm}, the name {@code --learner} had; kept so that existing scripts still run.
     * (A field of its own: picocli writes {@code --learner}'s default after parsing.)
     */
    @Option(names = "--algorithm", hidden = true, converter = LearnerOption.KindConverter.class)
    LearnerKind algorithm;

    @Option(names = "--embedding-dim", defaultValue = "32",
            description = "task-encoder: length of the task embedding. Default: ${DEFAULT-VALUE}.")
    int embeddingDim;

    @Mixin
    MetaLearningOptions loop = new MetaLearningOptions();

    @Mixin
    PublishOptions publish = new PublishOptions();

    @Override
    public Integer call() throws IOException {
        if (algorithm != null) {
            learner = algorithm;
        }
        if (!learner.isMlp()) {
            throw new IllegalArgumentException(learner.id() + " is not trained on sine waves: see `train omniglot`");
        }
        MetaTrainingPlan d = MetaTrainingPlan.sinusoidDefault();
        String name = publish.name("sinusoid");
        MetaTrainingPlan plan;
        String innerLoop;
        if (learner.stepFree()) {
            loop.refuseInnerLoop(learner);
            int shots = learner == LearnerKind.TASK_ENCODER ? 20 : d.shots();
            plan = loop.over(d.withAdaptation(AdaptationSettings.NONE).withShots(shots), publish.seed);
            innerLoop = learner == LearnerKind.TASK_ENCODER ? "embedding " + embeddingDim + ", K=0.." + plan.shots()
                    : "ridge head, K=" + plan.shots();
        } else {
            MetaTrainer.Algorithm a = MetaTrainer.Algorithm.of(learner);
            boolean firstOrder = a == MetaTrainer.Algorithm.REPTILE || a == MetaTrainer.Algorithm.FOMAML;
            // Finn et al. 2017 take one step of 0.01 for MAML; the first-order rules need more, larger steps.
            AdaptationSettings inner = new AdaptationSettings(firstOrder ? 5 : 1,
                    firstOrder || a == MetaTrainer.Algorithm.PRETRAIN ? 0.02f : 0.01f);
            plan = loop.over(d.withAdaptation(inner), publish.seed);
            int steps = plan.adaptation().steps();
            innerLoop = steps + " inner step" + (steps == 1 ? "" : "s") + ", K=" + plan.shots();
        }
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = publish.open();
        ConsoleProgress bar = new ConsoleProgress(System.out, "meta-training " + learner.id());
        MetaTrainer.Progress progress = (done, total, loss) -> bar.update(done, total,
                String.format(Locale.ROOT, "query loss %.3f", loss));
        BaseModelTraining.TrainingRun run = learner == LearnerKind.TASK_ENCODER
                ? BaseModelTraining.trainTaskEncoder(store, name, new SinusoidTasks(), plan, embeddingDim, progress)
                : BaseModelTraining.train(store, name, MetaTrainer.Algorithm.of(learner), new SinusoidTasks(), plan,
                        progress);
        ModelManifest manifest = run.manifest();
        return publish.finish(store, manifest, run.trainSeconds(), run.curve(),
                manifest.ref() + " (" + learner.id() + ", " + innerLoop + ")", log(run, plan));
    }

    private Map<String, Object> log(BaseModelTraining.TrainingRun run, MetaTrainingPlan plan) {
        Map<String, Object> log = new LinkedHashMap<>();
        log.put("model", run.manifest().ref());
        log.put("algorithm", learner.id());
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

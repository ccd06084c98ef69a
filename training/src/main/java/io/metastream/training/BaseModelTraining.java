package io.metastream.training;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.RidgeHeadLearner;
import io.metastream.learn.TaskEncoderTrainer;
import io.metastream.learn.TaskFamily;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Meta-trains a base, evaluates it on held-out tasks, and publishes it with its provenance
 * (algorithm, every hyper-parameter, data, seed, git commit, library versions, metrics).
 */
public final class BaseModelTraining {
    /** Held-out evaluation: 600 tasks as in Finn et al. 2017, 10-shot, 100 query points each. */
    private static final int EVAL_TASKS = 600;
    private static final int EVAL_QUERIES = 100;

    private BaseModelTraining() {
    }

    /** Resident set size is sampled this often (iterations) for the training log. */
    private static final int MEMORY_SAMPLE_EVERY = 100;

    /**
     * One finished run: what was published, the learning curve, and the process's resident set
     * size (kB) every {@value #MEMORY_SAMPLE_EVERY} iterations as {@code [iteration, kB]} pairs, so
     * that a log shows whether native memory stayed flat.
     */
    public record TrainingRun(ModelManifest manifest, BaseModel base, float[] curve, List<long[]> memory,
            double trainSeconds) {
    }

    public static ModelManifest trainAndPublish(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            TaskFamily family, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        return train(store, name, algorithm, family, plan, progress).manifest();
    }

    /** Scores a trained candidate on held-out data; the result goes into the provenance as {@code metrics}. */
    @FunctionalInterface
    public interface HeldOut {
        Map<String, Object> metrics(BaseModel candidate);
    }

    /**
     * Meta-trains with a {@link MetaTrainer} algorithm, evaluates on {@value #EVAL_TASKS} fresh tasks
     * of the family and publishes; returns the run with its curve and memory samples.
     */
    public static TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            TaskFamily family, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        return train(store, name, algorithm, family, plan, progress, freshTasks(family, plan.shots(), plan.seed()),
                Map.of());
    }

    /**
     * Meta-trains, scores with {@code heldOut} and publishes with {@code data} (what identifies the
     * training data beyond the family's id) in the provenance.
     */
    public static TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            TaskFamily family, MetaTrainingPlan plan, MetaTrainer.Progress progress, HeldOut heldOut,
            Map<String, Object> data) {
        List<long[]> memory = new ArrayList<>();
        long start = System.nanoTime();
        MetaTrainer.Result result = new MetaTrainer(algorithm, DjlRuntime.defaultDevice()).train(family, plan,
                sampling(memory, progress));
        double trainSeconds = (System.nanoTime() - start) / 1e9;
        boolean ridge = algorithm == MetaTrainer.Algorithm.ANIL_RIDGE;
        // A ridge head keeps its prior, the lambda it was trained with, and no inner loop.
        AdaptationSettings adaptation = !ridge ? plan.adaptation()
                : new AdaptationSettings(0, 1f, plan.adaptation().supportPrior());
        BaseModel candidate = new BaseModel(name + "@candidate", algorithm.id(), plan.architecture(),
                result.parameters(), adaptation, result.stepSizes());
        Map<String, Object> learner = new LinkedHashMap<>();
        if (ridge) {
            learner.put("inner_loop", "none: closed-form ridge head, lambda " + RidgeHeadLearner.lambda(adaptation));
            if (plan.adaptation().loss() != Loss.MSE) {
                learner.put("query_loss", plan.adaptation().loss().id());
            }
        } else {
            learner.put("inner_steps", plan.adaptation().steps());
            learner.put("inner_step_size", (double) plan.adaptation().stepSize());
            if (plan.adaptation().supportPrior() != 0) {
                learner.put("support_prior", (double) plan.adaptation().supportPrior());
            }
            if (plan.adaptation().innerStep() != AdaptationSettings.InnerStep.SGD) {
                learner.put("inner_step_rule", plan.adaptation().innerStep().id() + " (online only; meta-trained with "
                        + "plain steps)");
            }
            learner.put("inner_step_sizes", candidate.hasStepSizes() ? "per-parameter ("
                    + BaseModelArtifacts.STEP_SIZES_FILE + ")" : "scalar");
        }
        return publish(store, name, candidate, family, plan, data, learner, heldOut, result.curve(), memory,
                trainSeconds);
    }

    /**
     * Meta-trains a task encoder ({@link TaskEncoderTrainer}, support sizes 0 to {@code plan.shots()}),
     * evaluates it on {@value #EVAL_TASKS} fresh tasks at {@value #TASK_ENCODER_EVAL_SHOTS} shots (or
     * fewer if trained on fewer) and publishes it.
     */
    public static TrainingRun trainTaskEncoder(ModelStore store, String name, TaskFamily family,
            MetaTrainingPlan plan, int embeddingDim, MetaTrainer.Progress progress) {
        return trainTaskEncoder(store, name, family, plan, embeddingDim, progress,
                freshTasks(family, Math.min(TASK_ENCODER_EVAL_SHOTS, plan.shots()), plan.seed()), Map.of());
    }

    /**
     * Meta-trains a task encoder, scores it with {@code heldOut} and publishes it with {@code data}
     * in the provenance.
     */
    public static TrainingRun trainTaskEncoder(ModelStore store, String name, TaskFamily family,
            MetaTrainingPlan plan, int embeddingDim, MetaTrainer.Progress progress, HeldOut heldOut,
            Map<String, Object> data) {
        List<long[]> memory = new ArrayList<>();
        long start = System.nanoTime();
        TaskEncoderTrainer.Result result = new TaskEncoderTrainer(DjlRuntime.defaultDevice(), embeddingDim)
                .train(family, plan, sampling(memory, progress));
        double trainSeconds = (System.nanoTime() - start) / 1e9;
        Map<String, Object> learner = new LinkedHashMap<>();
        learner.put("inner_loop", "none: one forward pass of the task encoder");
        learner.put("embedding_dim", embeddingDim);
        learner.put("support_sizes", "uniform 0.." + plan.shots());
        if (plan.adaptation().supportPrior() != 0) {
            learner.put("support_prior", (double) plan.adaptation().supportPrior());
        }
        if (plan.adaptation().loss() != Loss.MSE) {
            learner.put("loss", plan.adaptation().loss().id());
        }
        return publish(store, name, result.base(name + "@candidate"), family, plan, data, learner, heldOut,
                result.curve(), memory, trainSeconds);
    }

    /** The shot count a task encoder, trained on a range of support sizes, is scored at by {@code train}. */
    private static final int TASK_ENCODER_EVAL_SHOTS = 10;

    /** Passes progress on and samples the resident set size for the training log. */
    private static MetaTrainer.Progress sampling(List<long[]> memory, MetaTrainer.Progress progress) {
        return (done, total, loss) -> {
            if (done % MEMORY_SAMPLE_EVERY == 0 || done == 1 || done == total) {
                memory.add(new long[] {done, residentKb()});
            }
            progress.iteration(done, total, loss);
        };
    }

    private static TrainingRun publish(ModelStore store, String name, BaseModel candidate, TaskFamily family,
            MetaTrainingPlan plan, Map<String, Object> data, Map<String, Object> learner, HeldOut heldOut,
            float[] curve, List<long[]> memory, double trainSeconds) {
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("dataset", family.id());
        provenance.putAll(data);
        provenance.put("algorithm", candidate.learner());
        provenance.put("seed", plan.seed());
        provenance.put("iterations", plan.iterations());
        provenance.put("meta_batch", plan.metaBatch());
        provenance.put("shots", plan.shots());
        provenance.put("query_shots", plan.queryShots());
        provenance.put("outer_optimizer", "adam");
        provenance.put("outer_step_size", (double) plan.outerStepSize());
        provenance.put("final_outer_step_fraction", (double) plan.finalOuterStepFraction());
        provenance.putAll(learner);
        provenance.put("train_seconds", Math.round(trainSeconds * 10) / 10.0);
        provenance.put("git_commit", gitCommit());
        provenance.put("libraries", DjlRuntime.versions());
        provenance.put("trained_at", Instant.now().toString());
        provenance.put("metrics", heldOut.metrics(candidate));
        if (memory.size() > 2) {
            // The first sample is taken before libtorch's allocator has warmed up.
            provenance.put("resident_kb_after_warmup", memory.get(1)[1]);
            provenance.put("resident_kb_at_end", memory.get(memory.size() - 1)[1]);
        }
        ModelManifest manifest = BaseModelArtifacts.publish(store, name, candidate, provenance);
        return new TrainingRun(manifest, candidate, curve, memory, trainSeconds);
    }

    /** Query MSE before and after adaptation on fresh tasks, K-shot, 100 query points, seed + 1. */
    private static HeldOut freshTasks(TaskFamily family, int shots, long seed) {
        return candidate -> {
            Evaluation.Report report;
            try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
                report = Evaluation.evaluate(learner, candidate, family, EVAL_TASKS, shots, EVAL_QUERIES, seed + 1,
                        200);
            }
            Map<String, Object> metrics = new LinkedHashMap<>();
            metrics.put("protocol", EVAL_TASKS + " held-out tasks, " + shots + "-shot, " + EVAL_QUERIES
                    + " query points, seed " + (seed + 1));
            metrics.put("mse_base", report.base().mean());
            metrics.put("mse_base_ci95", report.base().ci95());
            metrics.put("mse_adapted", report.adapted().mean());
            metrics.put("mse_adapted_ci95", report.adapted().ci95());
            return metrics;
        };
    }

    /** This process's resident set size in kB from {@code /proc/self/status}, or -1 off Linux. */
    static long residentKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** The commit of the working directory's git checkout, or "unknown" outside one. */
    static String gitCommit() {
        try {
            Process p = new ProcessBuilder("git", "rev-parse", "HEAD").redirectErrorStream(true).start();
            if (!p.waitFor(2, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "unknown";
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.exitValue() == 0 && out.matches("[0-9a-f]{40}") ? out : "unknown";
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }
}

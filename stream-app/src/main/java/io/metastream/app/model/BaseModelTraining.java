package io.metastream.app.model;

import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.TaskFamily;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
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
     * Meta-trains, evaluates on {@value #EVAL_TASKS} fresh tasks of the family and publishes;
     * returns the run with its curve and memory samples.
     */
    public static TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            TaskFamily family, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        return train(store, name, algorithm, family, plan, progress, freshTasks(family, plan), Map.of());
    }

    /**
     * Meta-trains, scores with {@code heldOut} and publishes with {@code data} (what identifies the
     * training data beyond the family's id) in the provenance.
     */
    public static TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            TaskFamily family, MetaTrainingPlan plan, MetaTrainer.Progress progress, HeldOut heldOut,
            Map<String, Object> data) {
        List<long[]> memory = new ArrayList<>();
        MetaTrainer.Progress sampling = (done, total, loss) -> {
            if (done % MEMORY_SAMPLE_EVERY == 0 || done == 1 || done == total) {
                memory.add(new long[] {done, residentKb()});
            }
            progress.iteration(done, total, loss);
        };
        long start = System.nanoTime();
        MetaTrainer.Result result = new MetaTrainer(algorithm, DjlRuntime.defaultDevice()).train(family, plan, sampling);
        double trainSeconds = (System.nanoTime() - start) / 1e9;
        BaseModel candidate = new BaseModel(name + "@candidate", algorithm.id(), plan.architecture(),
                result.parameters(), plan.adaptation(), result.stepSizes());
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("dataset", family.id());
        provenance.putAll(data);
        provenance.put("algorithm", algorithm.id());
        provenance.put("seed", plan.seed());
        provenance.put("iterations", plan.iterations());
        provenance.put("meta_batch", plan.metaBatch());
        provenance.put("shots", plan.shots());
        provenance.put("query_shots", plan.queryShots());
        provenance.put("outer_optimizer", "adam");
        provenance.put("outer_step_size", (double) plan.outerStepSize());
        provenance.put("final_outer_step_fraction", (double) plan.finalOuterStepFraction());
        provenance.put("inner_steps", plan.adaptation().steps());
        provenance.put("inner_step_size", (double) plan.adaptation().stepSize());
        if (plan.adaptation().supportPrior() != 0) {
            provenance.put("support_prior", (double) plan.adaptation().supportPrior());
        }
        provenance.put("inner_step_sizes", candidate.hasStepSizes() ? "per-parameter (" + BaseModelArtifacts.STEP_SIZES_FILE
                + ")" : "scalar");
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
        return new TrainingRun(manifest, candidate, result.curve(), memory, trainSeconds);
    }

    /** Query MSE before and after adaptation on fresh tasks, K-shot as trained, 100 query points. */
    private static HeldOut freshTasks(TaskFamily family, MetaTrainingPlan plan) {
        return candidate -> {
            Evaluation.Report report;
            try (GradientLearner learner = new GradientLearner(DjlRuntime.defaultDevice())) {
                report = Evaluation.evaluate(learner, candidate, family, EVAL_TASKS, plan.shots(), EVAL_QUERIES,
                        plan.seed() + 1, 200);
            }
            Map<String, Object> metrics = new LinkedHashMap<>();
            metrics.put("protocol", EVAL_TASKS + " held-out tasks, " + plan.shots() + "-shot, " + EVAL_QUERIES
                    + " query points, seed " + (plan.seed() + 1));
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

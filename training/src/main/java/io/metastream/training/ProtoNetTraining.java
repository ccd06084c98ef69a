package io.metastream.training;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import io.metastream.training.protonet.ProtoNetEvaluation;
import io.metastream.training.protonet.ProtoNetPlan;
import io.metastream.training.protonet.ProtoNetTrainer;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a prototypical network on Omniglot, scores it on the held-out alphabets, and publishes
 * it with its provenance: the data source, both alphabet lists, every hyper-parameter, seeds,
 * git commit, library versions and the held-out accuracies.
 */
public final class ProtoNetTraining {
    /** The held-out protocol stored with every model: 600 tasks, 15 queries per class. */
    public static final int EVAL_TASKS = 600;
    public static final int EVAL_QUERIES = 15;

    private ProtoNetTraining() {
    }

    /** One finished run: what was published, and the per-episode loss and accuracy. */
    public record TrainingRun(ModelManifest manifest, float[] loss, float[] accuracy, double trainSeconds) {
    }

    /**
     * @param testAlphabets alphabets never shown in training; the held-out scores use them
     * @throws IllegalArgumentException if the two alphabet lists overlap
     */
    public static TrainingRun train(ModelStore store, String name, Omniglot data, List<String> testAlphabets,
            ProtoNetPlan plan, MetaTrainer.Progress progress) {
        List<String> overlap = testAlphabets.stream().filter(plan.trainAlphabets()::contains).toList();
        if (!overlap.isEmpty()) {
            throw new IllegalArgumentException("alphabets " + overlap + " are in both the training and the test split");
        }
        long start = System.nanoTime();
        ProtoNetTrainer.Result result = new ProtoNetTrainer(DjlRuntime.defaultDevice())
                .train(data.characters(plan.trainAlphabets()), plan, progress);
        double trainSeconds = (System.nanoTime() - start) / 1e9;
        List<Omniglot.Character> test = data.characters(testAlphabets);
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("protocol", EVAL_TASKS + " tasks within one test alphabet, " + EVAL_QUERIES
                + " queries per class, no rotations, seed " + (plan.seed() + 1));
        int largest = testAlphabets.stream().mapToInt(a -> data.sizes().get(a)).max().orElse(0);
        for (int ways : new int[] {5, 20}) {
            if (ways > largest) {
                // A user folder's test alphabets may be too small for 20-way within-alphabet tasks.
                metrics.put(ways + "way", "skipped: the largest test alphabet has " + largest + " characters");
                continue;
            }
            for (int shots : new int[] {1, 5}) {
                Evaluation.Estimate e = ProtoNetEvaluation.evaluate(result.parameters(), test, ways, shots,
                        EVAL_QUERIES, EVAL_TASKS, plan.seed() + 1, DjlRuntime.defaultDevice());
                metrics.put(ways + "way_" + shots + "shot", Map.of("accuracy", e.mean(), "ci95", e.ci95()));
            }
        }
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("dataset", "omniglot");
        provenance.put("data_source", data.source());
        provenance.put("train_alphabets", plan.trainAlphabets());
        provenance.put("test_alphabets", List.copyOf(testAlphabets));
        provenance.put("algorithm", LearnerKind.PROTONET.id());
        provenance.put("seed", plan.seed());
        provenance.put("episodes", plan.episodes());
        provenance.put("ways", plan.ways());
        provenance.put("shots", plan.shots());
        provenance.put("queries_per_class", plan.queries());
        provenance.put("rotations", plan.rotations());
        provenance.put("image_size", Omniglot.SIZE + "x" + Omniglot.SIZE + " area-averaged, ink = 1");
        provenance.put("optimizer", "adam");
        provenance.put("learning_rate", (double) plan.learningRate());
        provenance.put("halve_every_episodes", plan.halveEvery());
        provenance.put("train_seconds", Math.round(trainSeconds * 10) / 10.0);
        provenance.put("git_commit", BaseModelTraining.gitCommit());
        provenance.put("libraries", DjlRuntime.versions());
        provenance.put("trained_at", Instant.now().toString());
        provenance.put("metrics", metrics);
        ModelManifest manifest = BaseModelArtifacts.publishProtoNet(store, name, result.parameters(), provenance);
        return new TrainingRun(manifest, result.loss(), result.accuracy(), trainSeconds);
    }
}

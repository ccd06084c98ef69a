package io.metastream.training;

import io.metastream.data.omniglot.Omniglot;
import io.metastream.data.omniglot.OmniglotTasks;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import io.metastream.learn.Loss;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.MlpArchitecture;
import io.metastream.store.ModelStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Meta-trains an MLP with a softmax head on N-way Omniglot episodes ({@link OmniglotTasks}, images
 * as flat pixel vectors, the test alphabets held out), scores it on those alphabets and publishes
 * it with its provenance: the gradient learners' counterpart of the protonet's
 * {@code ProtoNetTraining}, with the same held-out protocol, so the two compare cell by cell.
 */
public final class OmniglotMlpTraining {
    /** The hidden layers of the default network, 784-256-128-64-N. */
    public static final String DEFAULT_HIDDEN = "256-128-64";
    /** Held-out tasks per cell and queries per class: the protonet's protocol. */
    public static final int EVAL_TASKS = 600;
    public static final int EVAL_QUERIES = 15;
    private static final int EVAL_BATCH = 50;

    private OmniglotMlpTraining() {
    }

    /** {@code 784-<hidden>-<ways>}: the network for N-way images. */
    public static MlpArchitecture architecture(String hidden, int ways) {
        return MlpArchitecture.parse(Omniglot.PIXELS + "-" + hidden + "-" + ways);
    }

    /**
     * The default plan for {@code algorithm} on {@code ways}-way {@code shots}-shot episodes, 5
     * queries per class: Adam at 1e-3 decaying to a tenth, meta-batch 16, cross-entropy. The inner
     * loop is the one the stream runs: 5 steps of 0.4 (ANIL's per-parameter sizes on the head start
     * there), 1 step of 0.4 for the second-order MAML and Meta-SGD (Finn et al. 2017 take one step
     * of 0.4 on Omniglot), and 5 steps of 0.1 for first-order MAML, which learns little with one.
     */
    public static MetaTrainingPlan defaultPlan(MetaTrainer.Algorithm algorithm, int ways, int shots, long seed) {
        AdaptationSettings inner = switch (algorithm) {
            case ANIL -> new AdaptationSettings(5, 0.4f, 0f, Loss.CROSS_ENTROPY);
            case FOMAML, REPTILE -> new AdaptationSettings(5, 0.1f, 0f, Loss.CROSS_ENTROPY);
            default -> new AdaptationSettings(1, 0.4f, 0f, Loss.CROSS_ENTROPY);
        };
        return new MetaTrainingPlan(architecture(DEFAULT_HIDDEN, ways), inner, 2000, 16, shots, 5, 1e-3f, seed, 0.1f);
    }

    /**
     * Meta-trains on {@code trainAlphabets} (with rotations as extra classes), scores N-way 1- and
     * 5-shot accuracy on {@code testAlphabets} for N = 5 and 20 where the head and the alphabets
     * allow, and publishes.
     *
     * @param ways the episode's classes: the network's output count must be at least this
     * @throws IllegalArgumentException if the splits overlap, the plan's loss is not cross-entropy,
     *     or the network does not fit the images or the ways
     */
    public static BaseModelTraining.TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            Omniglot data, List<String> trainAlphabets, List<String> testAlphabets, int ways, boolean rotations,
            MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        List<String> overlap = testAlphabets.stream().filter(trainAlphabets::contains).toList();
        if (!overlap.isEmpty()) {
            throw new IllegalArgumentException("alphabets " + overlap + " are in both the training and the test split");
        }
        if (plan.adaptation().loss() != Loss.CROSS_ENTROPY) {
            throw new IllegalArgumentException("Omniglot bases classify: loss cross-entropy, not "
                    + plan.adaptation().loss().id());
        }
        if (plan.architecture().outputDim() != ways) {
            throw new IllegalArgumentException(plan.architecture() + " must have one output per class of the "
                    + ways + "-way episodes");
        }
        OmniglotTasks family = new OmniglotTasks(data.characters(trainAlphabets), ways, rotations);
        List<Omniglot.Character> test = data.characters(testAlphabets);
        int largest = testAlphabets.stream().mapToInt(a -> data.sizes().get(a)).max().orElse(0);
        BaseModelTraining.HeldOut heldOut = candidate -> {
            Map<String, Object> metrics = new LinkedHashMap<>();
            metrics.put("protocol", EVAL_TASKS + " tasks within one test alphabet, " + EVAL_QUERIES
                    + " queries per class, no rotations, the base's own inner loop, seed " + (plan.seed() + 1));
            try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
                for (int n : new int[] {5, 20}) {
                    if (n > ways || n > largest) {
                        metrics.put(n + "way", "skipped: the head has " + ways + " outputs and the largest test "
                                + "alphabet " + largest + " characters");
                        continue;
                    }
                    for (int shots : new int[] {1, 5}) {
                        Evaluation.Report r = evaluate(learner, candidate, test, n, shots, EVAL_QUERIES, EVAL_TASKS,
                                plan.seed() + 1);
                        Map<String, Object> cell = new LinkedHashMap<>();
                        cell.put("accuracy", r.adapted().mean());
                        cell.put("ci95", r.adapted().ci95());
                        cell.put("unadapted_accuracy", r.base().mean());
                        metrics.put(n + "way_" + shots + "shot", cell);
                    }
                }
            }
            return metrics;
        };
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("data_source", data.source());
        provenance.put("train_alphabets", List.copyOf(trainAlphabets));
        provenance.put("test_alphabets", List.copyOf(testAlphabets));
        provenance.put("ways", ways);
        provenance.put("rotations", rotations);
        provenance.put("image_size", Omniglot.SIZE + "x" + Omniglot.SIZE + " area-averaged, ink = 1, flat");
        return BaseModelTraining.train(store, name, algorithm, family, plan, progress, heldOut, provenance);
    }

    /**
     * N-way K-shot accuracy of {@code base} on {@code tasks} episodes of the test characters (no
     * rotations), each adapted with the base's own inner loop and classified over its N classes
     * ({@link Evaluation#accuracy}); the same seed draws the same episodes.
     *
     * @throws IllegalArgumentException if the base's head has fewer than {@code ways} outputs or no
     *     test alphabet has {@code ways} characters
     */
    public static Evaluation.Report evaluate(Learner learner, BaseModel base, List<Omniglot.Character> test, int ways,
            int shots, int queries, int tasks, long seed) {
        return evaluate(learner, base, base.adaptation(), test, ways, shots, queries, tasks, seed);
    }

    /** As {@link #evaluate(Learner, BaseModel, List, int, int, int, int, long)}, adapted with {@code settings}. */
    public static Evaluation.Report evaluate(Learner learner, BaseModel base, AdaptationSettings settings,
            List<Omniglot.Character> test, int ways, int shots, int queries, int tasks, long seed) {
        if (ways > base.maxClasses()) {
            throw new IllegalArgumentException(base + " classifies at most " + base.maxClasses() + " classes, not "
                    + ways);
        }
        return Evaluation.accuracy(learner, base, settings, new OmniglotTasks(test, ways, false), tasks, shots, queries,
                seed, EVAL_BATCH);
    }
}

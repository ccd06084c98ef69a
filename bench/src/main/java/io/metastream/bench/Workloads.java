package io.metastream.bench;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.SampleSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The fixed inputs every benchmark shares: the production sinusoid setting (MLP 1-40-40-1, 10 shots,
 * 5 SGD steps of 0.02), a briefly meta-trained base and seeded task pools. What is measured is cost,
 * so the base only has to be a realistic point in parameter space, not a good one.
 */
final class Workloads {
    /** Tasks adapted (or answered) per benchmark invocation, whatever the batch size. */
    static final int POOL = 1024;
    /** Support-set size of every task (the production shot count). */
    static final int SHOTS = MetaTrainingPlan.sinusoidDefault().shots();
    private static final int TRAINING_ITERATIONS = 300;
    private static final long SEED = 6L;

    private Workloads() {
    }

    /** A base meta-trained with Reptile for a few hundred iterations on one libtorch thread. */
    static BaseModel base() {
        DjlRuntime.start(1);
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(TRAINING_ITERATIONS);
        MetaTrainer.Result trained = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, DjlRuntime.defaultDevice())
                .train(new SinusoidTasks(), plan, (done, total, loss) -> { });
        return new BaseModel("sinusoid@bench", MetaTrainer.Algorithm.REPTILE.id(), plan.architecture(),
                trained.parameters(), plan.adaptation());
    }

    /** {@code n} support sets of {@link #SHOTS} points, each from its own sinusoid; the same for a seed. */
    static List<SampleSet> supports(int n) {
        Random random = new Random(SEED);
        SinusoidTasks family = new SinusoidTasks();
        List<SampleSet> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(family.sampleTask(random).sample(random, SHOTS));
        }
        return List.copyOf(out);
    }

    /** {@code tasks} split into consecutive batches of {@code size} (the last may be shorter). */
    static <T> List<List<T>> batches(List<T> tasks, int size) {
        if (size < 1) {
            throw new IllegalArgumentException("batch size must be positive, got " + size);
        }
        List<List<T>> out = new ArrayList<>();
        for (int from = 0; from < tasks.size(); from += size) {
            out.add(List.copyOf(tasks.subList(from, Math.min(tasks.size(), from + size))));
        }
        return List.copyOf(out);
    }
}

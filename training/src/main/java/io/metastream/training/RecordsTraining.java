package io.metastream.training;

import io.metastream.data.records.HeldOutTasks;
import io.metastream.data.records.RecordTasks;
import io.metastream.data.records.TaskRecords;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.MlpArchitecture;
import io.metastream.store.ModelStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A base trained on an application's own task-keyed rows ({@link TaskRecords}: CSV, Avro container
 * files, or rows read from the samples topic): the tasks are split into meta-train and held-out
 * tasks, episodes are drawn by task in time order ({@link RecordTasks}), and the held-out tasks are
 * scored as the stream meets them, adapted on each task's first {@code k} rows and scored on the
 * rest ({@link HeldOutTasks}), for every {@code k} of {@link #EVAL_SHOTS}. The scores go into the
 * provenance as {@code metrics} ({@code loss_adapted_k5}, ...), in the base's own loss: log-loss for
 * a logistic base.
 */
public final class RecordsTraining {
    /** Support sizes at which held-out tasks are scored. */
    public static final List<Integer> EVAL_SHOTS = List.of(1, 5, 10);

    private RecordsTraining() {
    }

    /** The held-out tasks and how the data was split, for {@link #train}. */
    public record Data(TaskRecords train, TaskRecords heldOut, double testFraction, long splitSeed,
            Map<String, Object> origin) {
        /** Splits {@code records} by task: {@code testFraction} of the tasks are held out. */
        public static Data split(TaskRecords records, double testFraction, long splitSeed) {
            TaskRecords.Split s = records.split(testFraction, splitSeed);
            return new Data(s.train(), s.test(), testFraction, splitSeed, Map.of());
        }

        /** The same data with {@code origin} (say, the topic offsets it was read from) in the provenance. */
        public Data withOrigin(Map<String, Object> origin) {
            return new Data(train, heldOut, testFraction, splitSeed, Map.copyOf(origin));
        }

        Map<String, Object> provenance() {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("data_source", train.source());
            p.put("data_fingerprint", train.fingerprint());
            p.put("train_tasks", train.taskCount());
            p.put("held_out_tasks", heldOut.taskCount());
            p.put("rows", train.rowCount() + heldOut.rowCount());
            p.put("held_out_fraction", testFraction);
            p.put("split_seed", splitSeed);
            p.putAll(origin);
            return p;
        }
    }

    /** An MLP for {@code inputDim} features with these hidden widths and one output. */
    public static MlpArchitecture architecture(int inputDim, List<Integer> hidden) {
        int[] layers = new int[hidden.size() + 2];
        layers[0] = inputDim;
        for (int i = 0; i < hidden.size(); i++) {
            layers[i + 1] = hidden.get(i);
        }
        layers[layers.length - 1] = 1;
        return new MlpArchitecture(layers);
    }

    /** Meta-trains on the meta-train tasks, scores on the held-out ones, publishes. */
    public static BaseModelTraining.TrainingRun train(ModelStore store, String name, MetaTrainer.Algorithm algorithm,
            Data data, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        if (plan.architecture().inputDim() != data.train().inputDim()) {
            throw new IllegalArgumentException("the architecture " + plan.architecture() + " reads "
                    + plan.architecture().inputDim() + " features, the rows have " + data.train().inputDim());
        }
        return BaseModelTraining.train(store, name, algorithm, new RecordTasks(data.train()), plan, progress,
                candidate -> metrics(data.heldOut(), candidate), data.provenance());
    }

    /** The held-out scores of {@code base} at every support size of {@link #EVAL_SHOTS}. */
    public static Map<String, Object> metrics(TaskRecords heldOut, BaseModel base) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("loss", base.adaptation().loss().id());
        m.put("protocol", "held-out tasks; adapted on each task's first k rows, scored on all later rows");
        try (DispatchingLearner learner = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            for (int k : EVAL_SHOTS) {
                var episodes = HeldOutTasks.episodes(heldOut, k);
                if (episodes.isEmpty()) {
                    continue;
                }
                Evaluation.Report r = HeldOutTasks.score(learner, base, episodes, 256);
                m.put("loss_unadapted_k" + k, r.base().mean());
                m.put("loss_adapted_k" + k, r.adapted().mean());
                m.put("loss_adapted_k" + k + "_ci95", r.adapted().ci95());
                m.put("tasks_k" + k, r.adapted().tasks());
            }
        }
        return m;
    }
}

package io.metastream.data.records;

import io.metastream.learn.TaskFamily;
import java.util.List;
import java.util.Random;

/**
 * Meta-training tasks from a user's {@link TaskRecords}, in the order a deployment sees them, as
 * {@link io.metastream.data.movielens.MovieLensTasks} does for MovieLens: the support is a task's
 * first {@code k} rows and the query up to {@code querySize} rows drawn from those after them, so
 * the base learns to predict a task's later rows from its earlier ones. {@code k} is log-uniform in
 * [1, min(supportSize, rows - 1)], because the stream adapts a task after each new row and its
 * first few rows are as common there as all the rest. Tasks with fewer than two rows have no later
 * row to query and are left out; {@link #skippedTasks()} counts them.
 */
public final class RecordTasks implements TaskFamily {
    private final List<TaskRecords.Task> tasks;
    private final int inputDim;
    private final int skipped;
    private final String id;

    /** @throws IllegalArgumentException if no task has two rows */
    public RecordTasks(TaskRecords records) {
        this.tasks = records.tasks().stream().filter(t -> t.size() >= 2).toList();
        this.skipped = records.taskCount() - tasks.size();
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("no task of " + records.source() + " has two rows or more ("
                    + records.taskCount() + " tasks, " + records.rowCount() + " rows)");
        }
        this.inputDim = records.inputDim();
        this.id = "records(" + records.source() + ", " + tasks.size() + " tasks, " + records.rowCount() + " rows, "
                + inputDim + " features, sha256:" + records.fingerprint()
                + (skipped > 0 ? ", " + skipped + " single-row tasks skipped" : "")
                + (records.timed() ? "" : ", file order") + ", time-ordered episodes)";
    }

    @Override
    public Episode sample(Random random, int supportSize, int querySize) {
        TaskRecords.Task task = tasks.get(random.nextInt(tasks.size()));
        int n = task.size();
        int max = Math.max(1, Math.min(supportSize, n - 1));
        int k = Math.max(1, Math.min(max, (int) Math.floor(Math.exp(random.nextDouble() * Math.log(max + 1)))));
        // A partial Fisher-Yates over the later rows: the first q of a uniform shuffle.
        int later = n - k;
        int q = Math.min(querySize, later);
        int[] idx = new int[later];
        for (int i = 0; i < later; i++) {
            idx[i] = k + i;
        }
        TaskRecords.Row[] query = new TaskRecords.Row[q];
        for (int i = 0; i < q; i++) {
            int j = i + random.nextInt(later - i);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
            query[i] = task.rows().get(idx[i]);
        }
        return new Episode(task.support(0, k), TaskRecords.support(List.of(query)));
    }

    @Override
    public int inputDim() {
        return inputDim;
    }

    /** Names the data for provenance: source, counts, width and content fingerprint. */
    @Override
    public String id() {
        return id;
    }

    /** The tasks episodes are drawn from (those with two rows or more). */
    public int taskCount() {
        return tasks.size();
    }

    /** The tasks left out for having a single row. */
    public int skippedTasks() {
        return skipped;
    }
}

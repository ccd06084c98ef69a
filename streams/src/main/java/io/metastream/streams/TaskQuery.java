package io.metastream.streams;

/**
 * A request for one prediction, as a {@link QueryMapping} reads it from an application's own
 * record. The prediction carries {@code queryId} back.
 *
 * <p>{@code afterSamples} (null: unset) is read-your-writes: how many samples of the task had been
 * sent before this query, counted over the task's whole life in the pipeline (every producer's,
 * since the task's state was created). The query is then answered as soon as the task has taken in
 * that many, instead of when the samples partition has been processed past the query's timestamp,
 * which on a quiet partition can take up to {@code query.sample.wait.ms}. Samples the pipeline
 * refused (dead letters) are not taken in: a producer that counts them waits out the bound. A count
 * below the task's (a restarted producer counting from 0 on a task with state) is met at once, and
 * the query answered from the samples in so far.
 */
public record TaskQuery(String taskId, String queryId, float[] features, long eventTimeMs, Long afterSamples) {
    /** A query answered by the timestamp rule alone. */
    public TaskQuery(String taskId, String queryId, float[] features, long eventTimeMs) {
        this(taskId, queryId, features, eventTimeMs, null);
    }

    /** This query, answered once its task has taken in {@code samples} samples. */
    public TaskQuery afterSamples(long samples) {
        return new TaskQuery(taskId, queryId, features, eventTimeMs, samples);
    }
}

package io.metastream.streams;

/**
 * A request for one prediction, as a {@link QueryMapping} reads it from an application's own
 * record. The prediction carries {@code queryId} back.
 */
public record TaskQuery(String taskId, String queryId, float[] features, long eventTimeMs) {
}

package io.metastream.app.topology;

/**
 * One labelled example of a task, as a {@link SampleMapping} reads it from an application's own
 * record: what the support sets hold. Checked after mapping like every sample (feature count
 * against the base, finite values, event time).
 *
 * @param eventTimeMs when it happened (epoch millis); the record timestamp is the usual choice
 */
public record TaskSample(String taskId, float[] features, float target, long eventTimeMs) {
}

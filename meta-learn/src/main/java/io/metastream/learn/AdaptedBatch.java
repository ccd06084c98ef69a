package io.metastream.learn;

import java.util.List;

/**
 * The result of one batched adaptation call: tasks in the order they were given, how long the
 * call took, and where it ran.
 */
public record AdaptedBatch(List<TaskAdaptation> tasks, long micros, String device, int steps) {
}

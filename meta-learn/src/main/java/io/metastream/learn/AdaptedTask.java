package io.metastream.learn;

/**
 * One task after adaptation: its fast weights (same layout and length as the base parameters)
 * and its support loss before and after the inner steps.
 */
public record AdaptedTask(float[] state, int supportSize, float lossBefore, float lossAfter) {
}

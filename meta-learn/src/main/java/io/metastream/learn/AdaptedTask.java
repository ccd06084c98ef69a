package io.metastream.learn;

/**
 * One task after adaptation: its fast weights (same layout and length as the base parameters),
 * its support loss before and after the inner steps, and whether the learner fell back to the
 * base because the inner steps made the support loss worse (or not finite), which a very small or
 * unusual support set can do with a step size tuned for the meta-training shot count.
 */
public record AdaptedTask(float[] state, int supportSize, float lossBefore, float lossAfter, boolean fellBack) {
}

package io.metastream.learn;

/**
 * One task after adaptation: its state (fast weights in the layout of the base parameters, a head
 * or an embedding, as the learner defines it), its support loss before and after adaptation, and
 * whether the learner fell back to the base's own state. A learner falls back when the adapted
 * support loss or the state is not finite (an extreme but finite sample, a target of 3e38 or a
 * feature of 1e30, overflows float32), and a gradient learner also when the inner steps made the
 * support loss worse, which a very small or unusual support set can do with a step size tuned for
 * the meta-training shot count. A fallen-back task's state is finite and its loss after equals its
 * loss before.
 */
public record TaskAdaptation(float[] state, int supportSize, float lossBefore, float lossAfter, boolean fellBack) {
}

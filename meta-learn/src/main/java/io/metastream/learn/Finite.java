package io.metastream.learn;

/**
 * Whether values are finite: one extreme but finite input (a target of 3e38, a feature of 1e30)
 * overflows float32 arithmetic inside a learner, and the NaN or infinity it leaves must stop at
 * the learner instead of reaching a stored state or a published prediction.
 */
public final class Finite {
    private Finite() {
    }

    /** Whether every value of {@code values} is finite (true for an empty array). */
    public static boolean all(float[] values) {
        for (float v : values) {
            if (!Float.isFinite(v)) {
                return false;
            }
        }
        return true;
    }

    /** Whether every value of every row is finite. */
    public static boolean all(float[][] rows) {
        for (float[] row : rows) {
            if (!all(row)) {
                return false;
            }
        }
        return true;
    }
}

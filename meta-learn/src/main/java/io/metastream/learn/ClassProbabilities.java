package io.metastream.learn;

/**
 * The softmax that turns a classifier's scores (a softmax head's logits, a protonet's negative
 * squared distances) into the probabilities the stream publishes, over the classes a task has.
 */
public final class ClassProbabilities {
    private ClassProbabilities() {
    }

    /**
     * The softmax of {@code scores[from .. from + count)}, shifted by their maximum so no
     * exponential overflows; in double, so probabilities of far-apart scores are still exact zeros
     * and ones rather than NaN. A score that is not finite gives probabilities that are not either,
     * which the caller must not publish.
     */
    public static float[] softmax(float[] scores, int from, int count) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < count; c++) {
            max = Math.max(max, scores[from + c]);
        }
        double[] e = new double[count];
        double sum = 0;
        for (int c = 0; c < count; c++) {
            e[c] = Math.exp(scores[from + c] - max);
            sum += e[c];
        }
        float[] p = new float[count];
        for (int c = 0; c < count; c++) {
            p[c] = (float) (e[c] / sum);
        }
        return p;
    }

    /** The index of the largest probability; the lowest index of a tie; -1 for none. */
    public static int top(float[] probabilities) {
        int best = -1;
        for (int c = 0; c < probabilities.length; c++) {
            if (best < 0 || probabilities[c] > probabilities[best]) {
                best = c;
            }
        }
        return best;
    }
}

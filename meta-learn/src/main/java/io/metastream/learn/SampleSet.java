package io.metastream.learn;

/**
 * One task's labelled examples: {@code features[i]} has target {@code targets[i]}. Used both as a
 * support set (to adapt on) and as a query set (to evaluate on).
 */
public record SampleSet(float[][] features, float[] targets) {
    public SampleSet {
        if (features.length != targets.length) {
            throw new IllegalArgumentException(
                    "features and targets differ in length: " + features.length + " vs " + targets.length);
        }
    }

    public int size() {
        return targets.length;
    }
}

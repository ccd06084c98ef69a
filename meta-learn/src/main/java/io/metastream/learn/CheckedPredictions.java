package io.metastream.learn;

/**
 * Predictions of {@link Learner#predictChecked}, one array per task, with what stood behind each:
 * the task's own state, the base instead (its state answered a non-finite value), or nothing
 * publishable (the base, too, answered a non-finite value).
 */
public record CheckedPredictions(float[][] values, boolean[] fellBack, boolean[] finite) {
    public CheckedPredictions {
        if (fellBack.length != values.length || finite.length != values.length) {
            throw new IllegalArgumentException("one flag per task: " + values.length + " tasks, " + fellBack.length
                    + " fell-back and " + finite.length + " finite flags");
        }
    }

    public int size() {
        return values.length;
    }

    /**
     * Whether the base answered task {@code t} although it was given a state, because that state's
     * answer was not finite.
     */
    public boolean fellBack(int t) {
        return fellBack[t];
    }

    /** Whether every value of task {@code t} is finite; if not, none of them may be published. */
    public boolean isFinite(int t) {
        return finite[t];
    }
}

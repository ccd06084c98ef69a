package io.metastream.data.movielens;

import io.metastream.learn.Loss;
import java.util.Locale;

/**
 * What the preference model predicts from a rating: the rating itself (1..5, scored by mean
 * absolute error, trained with the absolute error so it tends to the conditional median), or the
 * implicit-feedback reading most production personalisation uses, a positive when the rating is at
 * least {@value #POSITIVE_FROM} (click / no-click; log-loss, predictions are probabilities).
 */
public enum RatingTarget {
    RATING(Loss.ABSOLUTE), BINARY(Loss.LOGISTIC);

    /** The lowest rating that counts as a positive for {@link #BINARY}. */
    public static final float POSITIVE_FROM = 4;

    private final Loss loss;

    RatingTarget(Loss loss) {
        this.loss = loss;
    }

    /** The target of one rating. */
    public float of(float rating) {
        return this == RATING ? rating : rating >= POSITIVE_FROM ? 1f : 0f;
    }

    /** The loss a base for this target is trained and adapted with. */
    public Loss loss() {
        return loss;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @throws IllegalArgumentException naming the known ids
     */
    public static RatingTarget fromId(String id) {
        for (RatingTarget t : values()) {
            if (t.id().equals(id.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown target '" + id + "' (known: rating, binary)");
    }

    /** A prediction onto the target's scale: 1..5 for ratings, (0, 1) for probabilities. */
    public float clamp(double prediction) {
        return this == RATING ? (float) Math.max(1, Math.min(5, prediction))
                : (float) Math.max(1e-4, Math.min(1 - 1e-4, prediction));
    }
}

package io.metastream.learn.movielens;

import io.metastream.learn.Support;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Dense features of a (user, item) pair, the input of the preference model, in the spirit of MeLU's
 * side-information embeddings (Lee et al. 2019, section 3.1) as one vector a first dense layer
 * embeds:
 * <pre>
 *   [0, 19)   item genres, the 19 flags of {@link MovieLens#GENRES}
 *   19        release year, (year - 1990) / 20, 0 when unknown
 *   20        item mean rating minus the global mean, shrunk towards 0 by {@value #SHRINKAGE} pseudo-ratings
 *   21        log(1 + item rating count) / 6
 *   22        1 for a female user
 *   [23, 30)  user age group, one-hot over {@link MovieLens#AGE_GROUP_STARTS}
 *   [30, 51)  user occupation, one-hot
 * </pre>
 * The item statistics come from the meta-train users' ratings only, so a test user's ratings never
 * leak into their own features. For a meta-train rating, {@link #encodeTraining} leaves that
 * rating out of its item's mean, so training never sees a feature computed from its own target.
 */
public final class MovieLensFeatures {
    public static final int DIM = 51;
    /** Pseudo-ratings at the global mean added to each item's mean. */
    static final double SHRINKAGE = 5;
    private static final int YEAR = 19;
    private static final int ITEM_MEAN = 20;
    private static final int ITEM_COUNT = 21;
    private static final int FEMALE = 22;
    private static final int AGE = 23;
    private static final int OCCUPATION = 30;

    private final MovieLens data;
    private final double globalMean;
    private final Map<Integer, double[]> itemSums;

    private MovieLensFeatures(MovieLens data, double globalMean, Map<Integer, double[]> itemSums) {
        this.data = data;
        this.globalMean = globalMean;
        this.itemSums = itemSums;
    }

    /** Fits the item statistics on {@code training} (the meta-train users' ratings). */
    public static MovieLensFeatures fit(MovieLens data, Collection<MovieLens.Rating> training) {
        double sum = 0;
        Map<Integer, double[]> items = new HashMap<>();
        for (MovieLens.Rating r : training) {
            sum += r.rating();
            double[] s = items.computeIfAbsent(r.item(), i -> new double[2]);
            s[0] += r.rating();
            s[1]++;
        }
        return new MovieLensFeatures(data, training.isEmpty() ? 3 : sum / training.size(), items);
    }

    /** Mean rating of the meta-train users, the global-mean baseline. */
    public double globalMean() {
        return globalMean;
    }

    /** The item's shrunk mean rating on the meta-train users, the item-mean baseline. */
    public double itemMean(int item) {
        double[] s = itemSums.get(item);
        return s == null ? globalMean : shrunkMean(s[0], s[1]);
    }

    private double shrunkMean(double sum, double count) {
        return (sum + SHRINKAGE * globalMean) / (count + SHRINKAGE);
    }

    /**
     * @throws IllegalArgumentException for a user or item the data set does not have
     */
    public float[] encode(int user, int item) {
        double[] s = itemSums.getOrDefault(item, new double[2]);
        return encode(user, item, s[0], s[1]);
    }

    /** Features of a meta-train rating, its own rating left out of the item statistics. */
    public float[] encodeTraining(MovieLens.Rating r) {
        double[] s = itemSums.getOrDefault(r.item(), new double[2]);
        return encode(r.user(), r.item(), s[0] - r.rating(), Math.max(0, s[1] - 1));
    }

    private float[] encode(int user, int item, double sum, double count) {
        MovieLens.User u = data.users().get(user);
        MovieLens.Item i = data.items().get(item);
        if (u == null || i == null) {
            throw new IllegalArgumentException("no " + (u == null ? "user " + user : "item " + item) + " in the data");
        }
        float[] f = new float[DIM];
        boolean[] genres = i.genres();
        for (int g = 0; g < genres.length; g++) {
            f[g] = genres[g] ? 1 : 0;
        }
        f[YEAR] = i.year() == 0 ? 0 : (i.year() - 1990) / 20f;
        f[ITEM_MEAN] = (float) (shrunkMean(sum, count) - globalMean);
        f[ITEM_COUNT] = (float) (Math.log1p(count) / 6);
        f[FEMALE] = u.female() ? 1 : 0;
        f[AGE + u.ageGroup()] = 1;
        f[OCCUPATION + u.occupation()] = 1;
        return f;
    }

    /** Features of each rating of a user, in order, and the ratings as targets. */
    public Support support(List<MovieLens.Rating> ratings) {
        return support(ratings, r -> encode(r.user(), r.item()));
    }

    /** As {@link #support}, each meta-train rating left out of its own item's statistics. */
    public Support trainingSupport(List<MovieLens.Rating> ratings) {
        return support(ratings, this::encodeTraining);
    }

    private static Support support(List<MovieLens.Rating> ratings, Function<MovieLens.Rating, float[]> encoder) {
        float[][] x = new float[ratings.size()][];
        float[] y = new float[ratings.size()];
        for (int k = 0; k < x.length; k++) {
            x[k] = encoder.apply(ratings.get(k));
            y[k] = ratings.get(k).rating();
        }
        return new Support(x, y);
    }
}

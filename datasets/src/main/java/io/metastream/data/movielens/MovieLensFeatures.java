package io.metastream.data.movielens;

import io.metastream.learn.SampleSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
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
 *   [51, 56)  the item's rating distribution: the share of its ratings at 1..5, shrunk towards the
 *             global distribution by {@value #SHRINKAGE} pseudo-ratings
 *   56        the median of that distribution, (median - 3) / 2
 * </pre>
 * The distribution is what a model scored by mean absolute error needs: the error is least at the
 * median, and two items with one mean can have different medians.
 * The item statistics come from the meta-train users' ratings only, so a test user's ratings never
 * leak into their own features. For a meta-train rating, {@link #encodeTraining} leaves that
 * rating out of its item's statistics, so training never sees a feature computed from its own
 * target; that is exactly a cold user's view, whose ratings are in no item's statistics. (Item
 * statistics as of the time of each rating were tried as well: 0.5% worse in MAE on MovieLens 100K,
 * docs/RESULTS.md.)
 */
public final class MovieLensFeatures {
    public static final int DIM = 57;

    /**
     * Which features are on; the rest of the vector stays 0, so every set has the one layout and
     * architecture. On MovieLens 100K the user's demographics, and the genres and year, made the
     * network fit the warm users and miss on the cold ones: {@link #ITEM_STATISTICS} (mean, count
     * and distribution only) is what beats the baselines there (docs/RESULTS.md). {@link #ALL} is the
     * default, the one the synthetic data set's tastes (genre and demographic) need.
     */
    public enum FeatureSet {
        ALL, ITEM_STATISTICS;

        public String id() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        /**
         * @throws IllegalArgumentException naming the known ids
         */
        public static FeatureSet fromId(String id) {
            for (FeatureSet f : values()) {
                if (f.id().equals(id)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown feature set '" + id + "' (known: all, item-statistics)");
        }
    }
    /** Pseudo-ratings at the global mean added to each item's mean. */
    static final double SHRINKAGE = 5;
    private static final int YEAR = 19;
    private static final int ITEM_MEAN = 20;
    private static final int ITEM_COUNT = 21;
    private static final int FEMALE = 22;
    private static final int AGE = 23;
    private static final int OCCUPATION = 30;
    private static final int DISTRIBUTION = 51;
    private static final int LEVELS = 5;
    private static final int MEDIAN = 56;

    private final MovieLens data;
    private final double globalMean;
    /** Per item: rating sum, count, then the count at each of the levels 1..5. */
    private final Map<Integer, double[]> itemSums;
    /** The share of meta-train ratings at each level. */
    private final double[] globalDistribution;
    private final RatingTarget target;
    private final FeatureSet featureSet;

    private MovieLensFeatures(MovieLens data, double globalMean, Map<Integer, double[]> itemSums,
            double[] globalDistribution, RatingTarget target, FeatureSet featureSet) {
        this.data = data;
        this.featureSet = featureSet;
        this.target = target;
        this.globalMean = globalMean;
        this.itemSums = itemSums;
        this.globalDistribution = globalDistribution;
    }

    /** Fits the item statistics on {@code training} (the meta-train users' ratings). */
    public static MovieLensFeatures fit(MovieLens data, Collection<MovieLens.Rating> training) {
        return fit(data, training, RatingTarget.RATING, FeatureSet.ALL);
    }

    /** As {@link #fit(MovieLens, Collection)}, supports and queries carrying {@code target}'s values. */
    public static MovieLensFeatures fit(MovieLens data, Collection<MovieLens.Rating> training, RatingTarget target,
            FeatureSet featureSet) {
        double sum = 0;
        double[] levels = new double[LEVELS];
        Map<Integer, double[]> items = new HashMap<>();
        for (MovieLens.Rating r : training) {
            sum += r.rating();
            double[] s = items.computeIfAbsent(r.item(), i -> new double[2 + LEVELS]);
            s[0] += r.rating();
            s[1]++;
            s[2 + level(r.rating())]++;
            levels[level(r.rating())]++;
        }
        for (int l = 0; l < LEVELS; l++) {
            levels[l] = training.isEmpty() ? 1.0 / LEVELS : levels[l] / training.size();
        }
        return new MovieLensFeatures(data, training.isEmpty() ? 3 : sum / training.size(), items, levels, target,
                featureSet);
    }

    /** 0..4 for a rating of 1..5 (half stars round down). */
    private static int level(float rating) {
        return Math.max(0, Math.min(LEVELS - 1, (int) rating - 1));
    }

    public FeatureSet featureSet() {
        return featureSet;
    }

    /** What a support's or query's targets are. */
    public RatingTarget target() {
        return target;
    }

    /**
     * The share of the item's meta-train ratings that are positives ({@link RatingTarget#POSITIVE_FROM}
     * and up), shrunk towards the global share as the mean is.
     */
    public double itemPositiveRate(int item) {
        double[] s = itemSums.getOrDefault(item, new double[2 + LEVELS]);
        double positives = 0;
        for (int l = (int) RatingTarget.POSITIVE_FROM - 1; l < LEVELS; l++) {
            positives += s[2 + l];
        }
        return (positives + SHRINKAGE * globalPositiveRate()) / (s[1] + SHRINKAGE);
    }

    /** The share of all meta-train ratings that are positives, the global baseline of the binary target. */
    public double globalPositiveRate() {
        double global = 0;
        for (int l = (int) RatingTarget.POSITIVE_FROM - 1; l < LEVELS; l++) {
            global += globalDistribution[l];
        }
        return global;
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

    /**
     * The median of the item's shrunk rating distribution on the meta-train users (the level where
     * its cumulative share reaches one half), the item-median baseline: the best a predictor that
     * knows only the item can do in mean absolute error.
     */
    public double itemMedian(int item) {
        return median(itemSums.getOrDefault(item, new double[2 + LEVELS]));
    }

    /** The median level (1..5) of the shrunk distribution of item statistics {@code s}. */
    private int median(double[] s) {
        double cumulative = 0;
        for (int l = 0; l < LEVELS; l++) {
            cumulative += (s[2 + l] + SHRINKAGE * globalDistribution[l]) / (s[1] + SHRINKAGE);
            if (cumulative >= 0.5) {
                return l + 1;
            }
        }
        return LEVELS;
    }

    /** The item's genre flags, in {@link MovieLens#GENRES} order. */
    public boolean[] genres(int item) {
        MovieLens.Item i = data.items().get(item);
        if (i == null) {
            throw new IllegalArgumentException("no item " + item + " in the data");
        }
        return i.genres();
    }

    /** The item's number of ratings among the meta-train users. */
    public int itemCount(int item) {
        double[] s = itemSums.get(item);
        return s == null ? 0 : (int) s[1];
    }

    private double shrunkMean(double sum, double count) {
        return (sum + SHRINKAGE * globalMean) / (count + SHRINKAGE);
    }

    /**
     * @throws IllegalArgumentException for a user or item the data set does not have
     */
    public float[] encode(int user, int item) {
        return encode(user, item, itemSums.getOrDefault(item, new double[2 + LEVELS]), -1);
    }

    /** Features of a meta-train rating, its own rating left out of the item statistics. */
    public float[] encodeTraining(MovieLens.Rating r) {
        return encode(r.user(), r.item(), itemSums.getOrDefault(r.item(), new double[2 + LEVELS]),
                level(r.rating()));
    }

    /** {@code leftOut}: the level of a rating to leave out of the item's statistics, or -1. */
    private float[] encode(int user, int item, double[] stats, int leftOut) {
        boolean out = leftOut >= 0 && stats[1] > 0;
        double sum = out ? stats[0] - (leftOut + 1) : stats[0];
        double count = out ? stats[1] - 1 : stats[1];
        MovieLens.User u = data.users().get(user);
        MovieLens.Item i = data.items().get(item);
        if (u == null || i == null) {
            throw new IllegalArgumentException("no " + (u == null ? "user " + user : "item " + item) + " in the data");
        }
        float[] f = new float[DIM];
        if (featureSet == FeatureSet.ALL) {
            boolean[] genres = i.genres();
            for (int g = 0; g < genres.length; g++) {
                f[g] = genres[g] ? 1 : 0;
            }
            f[YEAR] = i.year() == 0 ? 0 : (i.year() - 1990) / 20f;
            f[FEMALE] = u.female() ? 1 : 0;
            f[AGE + u.ageGroup()] = 1;
            f[OCCUPATION + u.occupation()] = 1;
        }
        f[ITEM_MEAN] = (float) (shrunkMean(sum, count) - globalMean);
        f[ITEM_COUNT] = (float) (Math.log1p(count) / 6);
        for (int l = 0; l < LEVELS; l++) {
            double n = stats[2 + l] - (out && l == leftOut ? 1 : 0);
            f[DISTRIBUTION + l] = (float) ((n + SHRINKAGE * globalDistribution[l]) / (count + SHRINKAGE));
        }
        double[] kept = stats;
        if (out) {
            kept = stats.clone();
            kept[1]--;
            kept[2 + leftOut]--;
        }
        f[MEDIAN] = (median(kept) - 3) / 2f;
        return f;
    }

    /** Features of each rating of a user, in order, and the ratings' {@link #target()} values as targets. */
    public SampleSet support(List<MovieLens.Rating> ratings) {
        return support(ratings, r -> encode(r.user(), r.item()));
    }

    /** As {@link #support}, each meta-train rating left out of its own item's statistics. */
    public SampleSet trainingSupport(List<MovieLens.Rating> ratings) {
        return support(ratings, this::encodeTraining);
    }

    private SampleSet support(List<MovieLens.Rating> ratings, Function<MovieLens.Rating, float[]> encoder) {
        float[][] x = new float[ratings.size()][];
        float[] y = new float[ratings.size()];
        for (int k = 0; k < x.length; k++) {
            x[k] = encoder.apply(ratings.get(k));
            y[k] = target.of(ratings.get(k).rating());
        }
        return new SampleSet(x, y);
    }
}

package io.metastream.data.movielens;

import io.metastream.learn.TaskFamily;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Meta-training tasks from the meta-train users, each task one user, in the order a deployment
 * sees them: the support is the user's first {@code k} ratings and the query {@code querySize}
 * ratings that came after, so the base learns to predict a user's later ratings from their earlier
 * ones. {@code k} is log-uniform between 1 and {@code supportSize} (capped so at least one later
 * rating is left); training on every support size matters in the stream, where a user is adapted
 * after each new rating.
 *
 * <p>Which later ratings: in a share {@code nextQueryShare} of the episodes the query is the
 * ratings right after the support, the ones the stream asks next; in the rest (all, by default) it
 * is drawn from all later ratings. The default recipe, a task encoder, asks the next ratings in
 * every episode ({@link ColdStartData#defaultRecipe}). The two ask different things of a
 * base. A user's next ratings follow their recent ones closely, their last ratings, far from the
 * first ones, much less. On MovieLens 100K, over three training seeds, next-rating episodes made the
 * stream's prequential error lower than every baseline's from a user's first rating on (3% below the
 * best, paired by user), and the error on each user's last ten ratings 1.2% worse than with later
 * ratings drawn (docs/RESULTS.md). For ANIL on the binary target of a small synthetic set they
 * made the log-loss worse (0.65-0.71 against 0.60-0.64 over four seeds), so other learners keep
 * the later ratings unless told otherwise.
 *
 * <p>An earlier version drew support and query at random from the whole history. On MovieLens
 * 100K that taught the base a user whose early and late ratings look alike, which they do not (a
 * new user's first ratings are of other films, rated otherwise, than the ones that follow), and
 * adaptation made the cold users' predictions worse with every rating (docs/RESULTS.md).
 *
 * <p>Under the random protocols ({@link ColdStartSplit.Kind#MELU}, {@link ColdStartSplit.Kind#MELU_STATES}) the cold users' query items are random ratings, so
 * the episodes are drawn the same way: the query {@code querySize} random ratings of the user,
 * the support {@code k} random ones of the rest, in time order.
 */
public final class MovieLensTasks implements TaskFamily {
    private final List<ColdStartSplit.UserHistory> users;
    private final MovieLensFeatures features;
    private final List<List<MovieLens.Rating>> ratings;
    private final boolean random;
    private final double nextQueryShare;
    private final String id;

    public MovieLensTasks(ColdStartSplit split, MovieLensFeatures features, String dataId) {
        this(split, features, dataId, 0);
    }

    /**
     * @param nextQueryShare in [0, 1]; ignored under the random protocols
     * @throws IllegalArgumentException if {@code nextQueryShare} is outside [0, 1]
     */
    public MovieLensTasks(ColdStartSplit split, MovieLensFeatures features, String dataId, double nextQueryShare) {
        if (!(nextQueryShare >= 0 && nextQueryShare <= 1)) {
            throw new IllegalArgumentException("the share of next-rating queries must be in [0, 1], got "
                    + nextQueryShare);
        }
        this.users = split.train();
        this.features = features;
        this.random = split.protocol().kind() != ColdStartSplit.Kind.TIME;
        this.ratings = new ArrayList<>(users.size());
        for (ColdStartSplit.UserHistory u : users) {
            ratings.add(u.ratings());
        }
        this.nextQueryShare = random ? 0 : nextQueryShare;
        this.id = "movielens(" + dataId + ", " + users.size() + " meta-train users, "
                + (random ? "random episodes" : "time-ordered episodes, "
                        + Math.round(100 * this.nextQueryShare) + "% of queries the next ratings") + ")";
    }

    /** {@code supportSize} 0 draws a user with no support: the cold start itself. */
    @Override
    public Episode sample(Random random, int supportSize, int querySize) {
        List<MovieLens.Rating> all = ratings.get(random.nextInt(ratings.size()));
        // Log-uniform: a user's first few ratings are as common in the stream as all the rest.
        int max = Math.max(1, Math.min(supportSize, all.size() - 1));
        int k = Math.max(1, Math.min(max, (int) Math.floor(Math.exp(random.nextDouble() * Math.log(max + 1)))));
        if (supportSize == 0) {
            k = 0; // a cold user: what a task encoder is trained on too
        }
        if (this.random) {
            List<MovieLens.Rating> shuffled = new ArrayList<>(all);
            Collections.shuffle(shuffled, random);
            int q = Math.min(querySize, all.size() - 1);
            int s = Math.min(k, all.size() - q);
            List<MovieLens.Rating> support = new ArrayList<>(shuffled.subList(q, q + s));
            support.sort(MovieLens.TIME_ORDER);
            return new Episode(features.trainingSupport(support), features.trainingSupport(shuffled.subList(0, q)));
        }
        if (nextQueryShare > 0 && random.nextDouble() < nextQueryShare) {
            return new Episode(features.trainingSupport(all.subList(0, k)),
                    features.trainingSupport(all.subList(k, Math.min(all.size(), k + querySize))));
        }
        List<MovieLens.Rating> later = new ArrayList<>(all.subList(k, all.size()));
        Collections.shuffle(later, random);
        return new Episode(features.trainingSupport(all.subList(0, k)),
                features.trainingSupport(later.subList(0, Math.min(querySize, later.size()))));
    }

    @Override
    public int inputDim() {
        return MovieLensFeatures.DIM;
    }

    @Override
    public String id() {
        return id;
    }
}

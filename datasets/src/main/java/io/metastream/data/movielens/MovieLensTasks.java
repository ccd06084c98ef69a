package io.metastream.data.movielens;

import io.metastream.learn.TaskFamily;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Meta-training tasks from the meta-train users, each task one user, in the order a deployment
 * sees them: the support is the user's first {@code k} ratings and the query {@code querySize}
 * ratings drawn from those that came after, so the base learns to predict a user's later ratings
 * from their earlier ones. {@code k} is log-uniform between 1 and {@code supportSize} (capped so at
 * least one later rating is left); training on every support size matters in the stream, where a
 * user is adapted after each new rating.
 *
 * <p>An earlier version drew support and query at random from the whole history. On MovieLens
 * 100K that taught the base a user whose early and late ratings look alike, which they do not (a
 * new user's first ratings are of other films, rated otherwise, than the ones that follow), and
 * adaptation made the cold users' predictions worse with every rating (docs/RESULTS.md).
 */
public final class MovieLensTasks implements TaskFamily {
    private final List<ColdStartSplit.UserHistory> users;
    private final MovieLensFeatures features;
    private final String id;

    public MovieLensTasks(ColdStartSplit split, MovieLensFeatures features, String dataId) {
        this.users = split.train();
        this.features = features;
        this.id = "movielens(" + dataId + ", " + users.size() + " meta-train users, time-ordered episodes)";
    }

    @Override
    public Episode sample(Random random, int supportSize, int querySize) {
        ColdStartSplit.UserHistory user = users.get(random.nextInt(users.size()));
        List<MovieLens.Rating> ratings = user.ratings();
        // Log-uniform: a user's first few ratings are as common in the stream as all the rest.
        int max = Math.max(1, Math.min(supportSize, ratings.size() - 1));
        int k = Math.max(1, Math.min(max, (int) Math.floor(Math.exp(random.nextDouble() * Math.log(max + 1)))));
        List<MovieLens.Rating> later = new ArrayList<>(ratings.subList(k, ratings.size()));
        Collections.shuffle(later, random);
        return new Episode(features.trainingSupport(ratings.subList(0, k)),
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

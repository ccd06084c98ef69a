package io.metastream.learn.movielens;

import io.metastream.learn.TaskFamily;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Meta-training tasks from the meta-train users: each task is one user; the query is
 * {@code querySize} of their ratings drawn at random, the support a random subset of the rest whose
 * size is log-uniform between 1 and {@code supportSize} (capped by what the user has). Training on
 * every support size matters in the stream, where a user is adapted after each new rating.
 */
public final class MovieLensTasks implements TaskFamily {
    private final List<ColdStartSplit.UserHistory> users;
    private final MovieLensFeatures features;
    private final String id;

    public MovieLensTasks(ColdStartSplit split, MovieLensFeatures features, String dataId) {
        this.users = split.train();
        this.features = features;
        this.id = "movielens(" + dataId + ", " + users.size() + " meta-train users)";
    }

    @Override
    public Episode sample(Random random, int supportSize, int querySize) {
        ColdStartSplit.UserHistory user = users.get(random.nextInt(users.size()));
        List<MovieLens.Rating> shuffled = new ArrayList<>(user.ratings());
        Collections.shuffle(shuffled, random);
        int q = Math.min(querySize, shuffled.size() - 1);
        int rest = shuffled.size() - q;
        // Log-uniform: a user's first few ratings are as common in the stream as all the rest.
        int max = Math.min(supportSize, rest);
        int k = Math.min(max, (int) Math.floor(Math.exp(random.nextDouble() * Math.log(max + 1))));
        k = Math.max(1, k);
        return new Episode(features.trainingSupport(shuffled.subList(q, q + k)),
                features.trainingSupport(shuffled.subList(0, q)));
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

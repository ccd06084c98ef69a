package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.ColdStartSplit;
import io.metastream.data.movielens.MovieLensFeatures;
import io.metastream.data.movielens.RatingTarget;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * What a MovieLens model predicts and reads, the options that train, eval and replay share: eval
 * and replay must name what the model was trained with (target, features, protocol and split
 * seed), and the store refuses a mismatch.
 */
final class MovieLensOptions {
    @Option(names = "--target", defaultValue = "rating", description = "rating (1..5, scored by "
            + "MAE, RMSE, nDCG@3) or binary (rating >= 4 is a positive; AUC, log-loss, nDCG@3).")
    String target;

    @Option(names = "--features", description = "all (genres, year, item statistics, user demographics) or "
            + "item-statistics (item mean, count, rating distribution and median only). Default: the default "
            + "recipe's, item-statistics.")
    String features;

    @Option(names = "--protocol", defaultValue = "time", description = "Which users are cold and what is "
            + "predicted, both with MeLU's numbers (users with 13..100 ratings, a fifth cold, 10 query items each): "
            + "time (the latest users to arrive, their last 10 ratings; the stream's view), melu (users and "
            + "query items at random, as MeLU's paper evaluates) or melu-states (MeLU's own ML-1M split, from "
            + "its published state files: warm_state users train, user_cold_state users are cold). "
            + "Default: ${DEFAULT-VALUE}.")
    String protocol;

    @Option(names = "--split-seed", defaultValue = "1", description = "The seed that draws the users and query "
            + "items of --protocol melu (the query items of melu-states). Default: ${DEFAULT-VALUE}.")
    long splitSeed;

    RatingTarget target() {
        return RatingTarget.fromId(target);
    }

    ColdStartSplit.Protocol protocol() {
        return ColdStartSplit.Protocol.of(ColdStartSplit.Kind.fromId(protocol), splitSeed);
    }

    MovieLensFeatures.FeatureSet featureSet() {
        return features == null ? ColdStartData.defaultRecipe(target()).features()
                : MovieLensFeatures.FeatureSet.fromId(features);
    }

    /** Reads the folder with these options. */
    ColdStartData read(Path dir) {
        return ColdStartData.read(dir, target(), featureSet(), protocol());
    }
}

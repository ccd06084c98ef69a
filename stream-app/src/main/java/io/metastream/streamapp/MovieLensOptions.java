package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.MovieLensFeatures;
import io.metastream.data.movielens.RatingTarget;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * What a MovieLens model predicts and reads, the options that train, eval and replay share: eval
 * and replay must name what the model was trained with, and the store refuses a mismatch.
 */
final class MovieLensOptions {
    @Option(names = "--target", defaultValue = "rating", description = "rating (1..5, scored by "
            + "MAE, RMSE, nDCG@3) or binary (rating >= 4 is a positive; AUC, log-loss, nDCG@3).")
    String target;

    @Option(names = "--features", defaultValue = "all", description = "all (genres, year, item "
            + "statistics, user demographics) or item-statistics (item mean, count, rating distribution and "
            + "median only, what wins on MovieLens 100K).")
    String features;

    RatingTarget target() {
        return RatingTarget.fromId(target);
    }

    /** Reads the folder with these options. */
    ColdStartData read(Path dir) {
        return ColdStartData.read(dir, target(), MovieLensFeatures.FeatureSet.fromId(features));
    }
}

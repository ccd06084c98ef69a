package io.metastream.cli;

import io.metastream.learn.movielens.MovieLens;
import io.metastream.learn.movielens.SyntheticMovieLens;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "synthesize", mixinStandardHelpOptions = true,
        description = "Write a synthetic rating data set in the MovieLens 100K layout (u.data, u.item, u.user), "
                + "with latent user tastes, to try train, eval and replay without the real files.")
final class SynthesizeCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "Folder to write (created if absent).")
    Path out;

    @Option(names = "--users", defaultValue = "600", description = "Users (default ${DEFAULT-VALUE}).")
    int users;

    @Option(names = "--items", defaultValue = "400", description = "Movies (default ${DEFAULT-VALUE}).")
    int items;

    @Option(names = "--seed", defaultValue = "1", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        SyntheticMovieLens.Spec standard = SyntheticMovieLens.Spec.standard(seed);
        SyntheticMovieLens.write(out, new SyntheticMovieLens.Spec(users, items, standard.minRatings(),
                standard.maxRatings(), seed));
        MovieLens written = MovieLens.read(out);
        System.out.println("wrote " + written.ratings().size() + " ratings of " + written.users().size() + " users on "
                + written.items().size() + " movies to " + out + " (fingerprint " + written.fingerprint() + ")");
        return 0;
    }
}

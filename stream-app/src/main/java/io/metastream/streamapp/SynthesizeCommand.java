package io.metastream.streamapp;

import io.metastream.data.movielens.MovieLens;
import io.metastream.data.movielens.SyntheticMovieLens;
import io.metastream.data.records.SyntheticClicks;
import io.metastream.data.records.TaskRecords;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "synthesize", mixinStandardHelpOptions = true,
        description = "Write a synthetic rating data set in the MovieLens 100K layout (u.data, u.item, u.user), "
                + "with latent user tastes, to try train, eval and replay without the real files; or, with --clicks, "
                + "a click log for train records.")
final class SynthesizeCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "Folder to write (created if absent).")
    Path out;

    @Option(names = "--users", defaultValue = "600", description = "Users (default ${DEFAULT-VALUE}).")
    int users;

    @Option(names = "--items", defaultValue = "400", description = "Movies (default ${DEFAULT-VALUE}).")
    int items;

    @Option(names = "--seed", defaultValue = "1", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--clicks", description = "Write <out>/clicks.csv instead: --users users' clicks (24 features, "
            + "0/1 targets, 20 to 40 rows each, SyntheticClicks).")
    boolean clicks;

    @Override
    public Integer call() throws IOException {
        if (clicks) {
            Files.createDirectories(out);
            Path file = TaskRecords.writeCsv(out.resolve("clicks.csv"), new SyntheticClicks.Population(24, seed)
                    .users("user-", users, seed + 1, 1_700_000_000_000L));
            TaskRecords written = TaskRecords.read(file);
            System.out.println("wrote " + written.rowCount() + " clicks of " + written.taskCount() + " users to " + file
                    + " (fingerprint " + written.fingerprint() + ")");
            return 0;
        }
        SyntheticMovieLens.Spec standard = SyntheticMovieLens.Spec.standard(seed);
        SyntheticMovieLens.write(out, new SyntheticMovieLens.Spec(users, items, standard.minRatings(),
                standard.maxRatings(), seed));
        MovieLens written = MovieLens.read(out);
        System.out.println("wrote " + written.ratings().size() + " ratings of " + written.users().size() + " users on "
                + written.items().size() + " movies to " + out + " (fingerprint " + written.fingerprint() + ")");
        return 0;
    }
}

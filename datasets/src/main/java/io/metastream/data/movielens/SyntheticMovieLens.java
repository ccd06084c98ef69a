package io.metastream.data.movielens;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

/**
 * Writes a synthetic rating data set in the MovieLens 100K layout, so that the whole
 * recommendation path (reader, features, meta-training, evaluation, replay) runs without the real
 * files, whose licence forbids shipping them.
 *
 * <p>Ratings come from latent tastes: {@code round(3.4 + item quality + user bias + mean over the
 * item's genres of the user's taste for the genre + noise)}, clamped to 1..5. A user's taste is
 * partly shared with their age group and gender (so side information helps a cold user) and mostly
 * their own (so only their ratings reveal it): the setting where per-user adaptation has something
 * to learn that no population-level baseline can.
 */
public final class SyntheticMovieLens {
    /** Shape of the generated population. */
    public record Spec(int users, int items, int minRatings, int maxRatings, long seed) {
        public Spec {
            if (users < 2 || items < maxRatings || minRatings < 1 || maxRatings < minRatings) {
                throw new IllegalArgumentException("need users >= 2, 1 <= minRatings <= maxRatings <= items: "
                        + this);
            }
        }

        /** About 600 users rating 13 to 120 of 400 items each, a tenth of them above the protocol's 100. */
        public static Spec standard(long seed) {
            return new Spec(600, 400, 13, 120, seed);
        }
    }

    private SyntheticMovieLens() {
    }

    /** Writes {@code u.data}, {@code u.item} and {@code u.user} into {@code dir} (created if absent). */
    public static void write(Path dir, Spec spec) {
        Random random = new Random(spec.seed());
        int genres = MovieLens.GENRES.size();
        float[] quality = new float[spec.items()];
        boolean[][] itemGenres = new boolean[spec.items()][genres];
        StringBuilder items = new StringBuilder();
        for (int i = 0; i < spec.items(); i++) {
            quality[i] = (float) (random.nextGaussian() * 0.45);
            int count = 1 + random.nextInt(3);
            for (int k = 0; k < count; k++) {
                itemGenres[i][1 + random.nextInt(genres - 1)] = true;
            }
            int year = 1950 + random.nextInt(49);
            items.append(i + 1).append("|Synthetic Movie ").append(i + 1).append(" (").append(year).append(")|01-Jan-")
                    .append(year).append("||http://example.invalid/").append(i + 1);
            for (boolean g : itemGenres[i]) {
                items.append('|').append(g ? 1 : 0);
            }
            items.append('\n');
        }
        // Tastes shared by an age group and by a gender, then each user's own.
        float[][] byAge = gaussians(random, MovieLens.AGE_GROUP_STARTS.length, genres, 0.35);
        float[][] byGender = gaussians(random, 2, genres, 0.35);
        int[] ages = {15, 21, 30, 40, 47, 52, 60};
        StringBuilder users = new StringBuilder();
        StringBuilder ratings = new StringBuilder();
        long start = 880_000_000L;
        for (int u = 0; u < spec.users(); u++) {
            int ageGroup = random.nextInt(ages.length);
            boolean female = random.nextBoolean();
            int occupation = random.nextInt(MovieLens.OCCUPATIONS);
            users.append(u + 1).append('|').append(ages[ageGroup]).append('|').append(female ? 'F' : 'M').append('|')
                    .append(MovieLens.OCCUPATIONS_100K.get(occupation)).append("|00000\n");
            float bias = (float) (random.nextGaussian() * 0.35);
            float[] taste = new float[genres];
            for (int g = 0; g < genres; g++) {
                taste[g] = byAge[ageGroup][g] + byGender[female ? 1 : 0][g] + (float) (random.nextGaussian() * 1.0);
            }
            int n = spec.minRatings() + random.nextInt(spec.maxRatings() - spec.minRatings() + 1);
            Set<Integer> seen = new LinkedHashSet<>();
            while (seen.size() < n) {
                seen.add(random.nextInt(spec.items()));
            }
            // Users arrive one after another, an hour apart; each rates a movie every few minutes.
            long t = start + u * 3_600L;
            for (int i : seen) {
                double sum = 0;
                int count = 0;
                for (int g = 0; g < genres; g++) {
                    if (itemGenres[i][g]) {
                        sum += taste[g];
                        count++;
                    }
                }
                double score = 3.4 + quality[i] + bias + sum / count + random.nextGaussian() * 0.4;
                int rating = (int) Math.max(1, Math.min(5, Math.round(score)));
                t += 30 + random.nextInt(300);
                ratings.append(u + 1).append('\t').append(i + 1).append('\t').append(rating).append('\t').append(t)
                        .append('\n');
            }
        }
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("u.item"), items, StandardCharsets.ISO_8859_1);
            Files.writeString(dir.resolve("u.user"), users, StandardCharsets.ISO_8859_1);
            Files.writeString(dir.resolve("u.data"), ratings, StandardCharsets.ISO_8859_1);
            Files.writeString(dir.resolve("README.synthetic"), String.format(Locale.ROOT,
                    "Synthetic MovieLens-100K-format data written by metastream (%s); not real ratings.%n", spec),
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static float[][] gaussians(Random random, int rows, int cols, double sd) {
        float[][] out = new float[rows][cols];
        for (float[] row : out) {
            for (int c = 0; c < cols; c++) {
                row[c] = (float) (random.nextGaussian() * sd);
            }
        }
        return out;
    }
}

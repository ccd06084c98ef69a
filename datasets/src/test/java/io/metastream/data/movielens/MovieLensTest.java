package io.metastream.data.movielens;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MovieLensTest {
    @TempDir
    Path dir;

    private void write(String file, String text) throws IOException {
        Files.writeString(dir.resolve(file), text, StandardCharsets.ISO_8859_1);
    }

    @Test
    void readsTheMovieLens100kLayout() throws IOException {
        write("u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n");
        write("u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                + "2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n"
                + "3|Caf\u00e9 (unknown)|||http://x|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
        write("u.data", "2\t1\t4\t881250950\n1\t2\t3\t881250949\n1\t1\t5\t881250951\n");
        MovieLens m = MovieLens.read(dir);
        assertEquals(MovieLens.Format.ML_100K, m.format());
        assertEquals(new MovieLens.User(1, 1, false, MovieLens.OCCUPATIONS_100K.indexOf("technician")), m.users().get(1));
        assertEquals(5, m.users().get(2).ageGroup(), "53 falls in the 50-55 group");
        assertTrue(m.users().get(2).female());
        MovieLens.Item toyStory = m.items().get(1);
        assertEquals(1995, toyStory.year());
        assertTrue(toyStory.genres()[MovieLens.GENRES.indexOf("Animation")]);
        assertTrue(toyStory.genres()[MovieLens.GENRES.indexOf("Comedy")]);
        assertFalse(toyStory.genres()[MovieLens.GENRES.indexOf("Action")]);
        assertEquals(0, m.items().get(3).year(), "no release date, no year in the title");
        assertEquals("Caf\u00e9 (unknown)", m.items().get(3).title(), "ISO-8859-1 as GroupLens ships it");
        assertEquals(List.of(881250949L, 881250950L, 881250951L),
                m.ratings().stream().map(MovieLens.Rating::timestamp).toList(), "ratings come in time order");
        assertEquals(List.of(2, 1), m.ratingsByUser().get(1).stream().map(MovieLens.Rating::item).toList());
    }

    @Test
    void readsTheMovieLens1mLayout() throws IOException {
        write("users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n");
        write("movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Heat (1995)::Action|Crime|Thriller\n");
        write("ratings.dat", "1::1::5::978300760\n2::2::3::978302109\n2::1::4::978301968\n");
        MovieLens m = MovieLens.read(dir);
        assertEquals(MovieLens.Format.ML_1M, m.format());
        assertEquals(new MovieLens.User(1, 0, true, 10), m.users().get(1));
        assertEquals(6, m.users().get(2).ageGroup(), "1M's age code 56 is the last group");
        boolean[] heat = m.items().get(2).genres();
        assertTrue(heat[MovieLens.GENRES.indexOf("Crime")] && heat[MovieLens.GENRES.indexOf("Thriller")]);
        assertEquals(1995, m.items().get(2).year());
        assertEquals(3, m.ratings().size());
        assertEquals(5f, m.ratings().get(0).rating());
    }

    @Test
    void namesTheFileAndLineThatDoesNotParse() throws IOException {
        write("users.dat", "1::F::1::10::48067\n");
        write("movies.dat", "1::Toy Story (1995)::Animation\n");
        write("ratings.dat", "1::1::5::978300760\n1::7::4::978300761\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MovieLens.read(dir));
        assertTrue(e.getMessage().contains("ratings.dat line 2") && e.getMessage().contains("unknown item 7"),
                e.getMessage());
        Files.delete(dir.resolve("ratings.dat"));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> MovieLens.read(dir));
        assertTrue(none.getMessage().contains("grouplens.org"), none.getMessage());
    }

    @Test
    void theSyntheticDataSetReadsBackWithTheShapeAskedFor() {
        SyntheticMovieLens.Spec spec = new SyntheticMovieLens.Spec(50, 80, 13, 60, 3);
        SyntheticMovieLens.write(dir, spec);
        MovieLens m = MovieLens.read(dir);
        assertEquals(50, m.users().size());
        assertEquals(80, m.items().size());
        Map<Integer, List<MovieLens.Rating>> byUser = m.ratingsByUser();
        assertEquals(50, byUser.size());
        for (List<MovieLens.Rating> r : byUser.values()) {
            assertTrue(r.size() >= 13 && r.size() <= 60, "ratings per user " + r.size());
            assertEquals(r.size(), r.stream().map(MovieLens.Rating::item).distinct().count(), "no item twice");
        }
        String first = m.fingerprint();
        SyntheticMovieLens.write(dir, spec);
        assertEquals(first, MovieLens.read(dir).fingerprint(), "same spec, same files");
        SyntheticMovieLens.write(dir, new SyntheticMovieLens.Spec(50, 80, 13, 60, 4));
        assertNotEquals(first, MovieLens.read(dir).fingerprint());
    }

    @Test
    void splitKeepsEligibleUsersAndHoldsOutTheLatestArrivals() {
        SyntheticMovieLens.write(dir, new SyntheticMovieLens.Spec(100, 200, 5, 120, 5));
        MovieLens m = MovieLens.read(dir);
        ColdStartSplit split = ColdStartSplit.of(m, ColdStartSplit.Protocol.time());
        long eligible = m.ratingsByUser().values().stream().filter(r -> r.size() >= 13 && r.size() <= 100).count();
        assertEquals(eligible, split.train().size() + split.test().size());
        assertEquals(Math.round(eligible * 0.2), split.test().size());
        long lastTrainArrival = split.train().stream().mapToLong(h -> h.ratings().get(0).timestamp()).max()
                .orElseThrow();
        for (ColdStartSplit.UserHistory h : split.test()) {
            assertTrue(h.ratings().get(0).timestamp() >= lastTrainArrival, "test users arrive last");
            List<MovieLens.Rating> q = h.query();
            assertEquals(10, q.size());
            assertTrue(h.support().stream().allMatch(s -> s.timestamp() <= q.get(0).timestamp()),
                    "support is what the user rated before the query items");
        }
    }

    /**
     * MeLU's random protocol: the same eligible users split 80/20 at random by the seed, each cold
     * user's query 10 of their ratings at random (not their latest), the rest their support; the
     * same seed draws the same split, another seed another.
     */
    @Test
    void meluSplitDrawsUsersAndQueryItemsAtRandomBySeed() {
        SyntheticMovieLens.write(dir, new SyntheticMovieLens.Spec(150, 200, 5, 120, 5));
        MovieLens m = MovieLens.read(dir);
        ColdStartSplit time = ColdStartSplit.of(m, ColdStartSplit.Protocol.time());
        ColdStartSplit melu = ColdStartSplit.of(m, ColdStartSplit.Protocol.melu(7));
        assertEquals(time.train().size(), melu.train().size());
        assertEquals(time.test().size(), melu.test().size());
        assertEquals(users(melu), users(ColdStartSplit.of(m, ColdStartSplit.Protocol.melu(7))), "seeded");
        assertNotEquals(users(melu), users(ColdStartSplit.of(m, ColdStartSplit.Protocol.melu(8))));
        assertNotEquals(users(melu), users(time), "not the latest arrivals");
        java.util.Set<Integer> trainUsers = new java.util.HashSet<>();
        melu.train().forEach(h -> trainUsers.add(h.user()));
        int queryNotLatest = 0;
        Map<Integer, List<MovieLens.Rating>> byUser = m.ratingsByUser();
        for (ColdStartSplit.UserHistory h : melu.test()) {
            assertFalse(trainUsers.contains(h.user()), "a cold user is never a meta-train user");
            assertEquals(10, h.query().size());
            List<MovieLens.Rating> all = byUser.get(h.user());
            assertEquals(all, h.ratings(), "support and query together are the user's ratings, in time order");
            assertEquals(all.size() - 10, h.support().size());
            if (!h.query().equals(all.subList(all.size() - 10, all.size()))) {
                queryNotLatest++;
            }
            assertEquals(h.support().stream().sorted(MovieLens.TIME_ORDER).toList(), h.support());
        }
        assertTrue(queryNotLatest > melu.test().size() / 2, "query items are drawn, not the latest");
        assertEquals("melu:7", melu.protocol().id());
        assertEquals("time", time.protocol().id());
        assertEquals(ColdStartSplit.Kind.MELU, ColdStartSplit.Kind.fromId("MeLU"));
        assertThrows(IllegalArgumentException.class, () -> ColdStartSplit.Kind.fromId("random"));
    }

    /** Training episodes follow the protocol: random ones under melu, support and query disjoint. */
    @Test
    void meluEpisodesDrawTheQueryAtRandomFromTheUsersRatings() {
        SyntheticMovieLens.write(dir, new SyntheticMovieLens.Spec(60, 50, 13, 40, 6));
        ColdStartData d = ColdStartData.prepare(MovieLens.read(dir), ColdStartSplit.Protocol.melu(3));
        MovieLensTasks tasks = d.tasks();
        assertTrue(tasks.id().contains("random episodes"), tasks.id());
        java.util.Random random = new java.util.Random(1);
        for (int e = 0; e < 50; e++) {
            io.metastream.learn.TaskFamily.Episode episode = tasks.sample(random, 90, 10);
            assertEquals(10, episode.query().size());
            assertTrue(episode.support().size() >= 1);
        }
        assertTrue(ColdStartData.prepare(MovieLens.read(dir), ColdStartSplit.Protocol.time()).tasks().id()
                .contains("time-ordered episodes"));
        assertEquals("melu:3", d.provenance().get("protocol_id"));
    }

    /**
     * Time-ordered episodes: the support is a user's first k ratings; the query is the ratings right
     * after it in the share of episodes that ask the next ones, and otherwise drawn from all later
     * ratings. Every user rates 20 films in one pattern by position (four 1s, four 2s, ... four 5s),
     * so a target tells its rating's position to within four.
     */
    @Test
    void timeOrderedEpisodesAskTheNextRatingsInTheirShare() throws IOException {
        StringBuilder users = new StringBuilder();
        StringBuilder items = new StringBuilder();
        StringBuilder data = new StringBuilder();
        for (int i = 1; i <= 20; i++) {
            items.append(i).append("|Film ").append(i).append(" (1995)|01-Jan-1995||http://x")
                    .append("|0".repeat(19)).append('\n');
        }
        for (int u = 1; u <= 10; u++) {
            users.append(u).append("|30|M|other|00000\n");
            for (int j = 0; j < 20; j++) {
                data.append(u).append('\t').append(j + 1).append('\t').append(1 + j / 4).append('\t')
                        .append(880000000L + 1000L * u + j).append('\n');
            }
        }
        write("u.user", users.toString());
        write("u.item", items.toString());
        write("u.data", data.toString());
        ColdStartData d = ColdStartData.prepare(MovieLens.read(dir), ColdStartSplit.Protocol.time());
        java.util.Random random = new java.util.Random(5);
        MovieLensTasks next = d.tasks(1);
        assertTrue(next.id().contains("100% of queries the next ratings"), next.id());
        int laterDiffers = 0;
        for (int e = 0; e < 200; e++) {
            io.metastream.learn.TaskFamily.Episode episode = next.sample(random, 90, 10);
            int k = episode.support().size();
            float[] support = episode.support().targets();
            for (int j = 0; j < k; j++) {
                assertEquals(1 + j / 4, support[j], "the support is the user's first ratings");
            }
            float[] query = episode.query().targets();
            assertEquals(Math.min(10, 20 - k), query.length);
            for (int q = 0; q < query.length; q++) {
                assertEquals(1 + (k + q) / 4, query[q], "query rating " + q + " after a support of " + k);
            }
            assertTrue(k >= 1);
        }
        MovieLensTasks later = d.tasks(0);
        for (int e = 0; e < 200; e++) {
            io.metastream.learn.TaskFamily.Episode episode = later.sample(random, 90, 10);
            int k = episode.support().size();
            float[] query = episode.query().targets();
            boolean asNext = true;
            for (int q = 0; q < query.length; q++) {
                assertTrue(query[q] >= 1 + k / 4, "a query rating from after the support");
                asNext &= query[q] == 1 + (k + q) / 4;
            }
            laterDiffers += asNext ? 0 : 1;
        }
        assertTrue(laterDiffers > 50, "later ratings are drawn, not the next ones: " + laterDiffers);
        assertThrows(IllegalArgumentException.class, () -> d.tasks(1.5));
        assertThrows(IllegalArgumentException.class, () -> d.tasks(Double.NaN));
    }

    /**
     * MovieLens 1M from the authors' state files (a made-up fixture in their layout; no MovieLens
     * data is committed): the ratings are MetaHIN's states together, MeLU's warm state is what its
     * cold states leave (checked against warm_state_y.json), and melu-states trains on its warm users
     * and tests on its user-cold ones, with their ratings in that state only.
     */
    @Test
    void readsMelusStateFilesAndSplitsByThem() throws IOException {
        write("users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n");
        write("movies.dat", "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Heat (1995)::Action|Crime\n"
                + "3::Casino (1995)::Drama\n4::Nixon (1995)::Drama\n");
        // User 1 and 3 are warm; user 2 is a new user (user_cold_state) with one new item (item 4).
        String u1 = items(1, 14);
        write("meta_training.json", "{\"1\": " + u1 + ", \"3\": [1, 2]}");
        write("meta_training_y.json", "{\"1\": " + stars(14, 4) + ", \"3\": [5, 1]}");
        write("warm_up.json", "{}");
        write("warm_up_y.json", "{}");
        write("user_cold_testing.json", "{\"2\": " + items(2, 13) + "}");
        write("user_cold_testing_y.json", "{\"2\": " + stars(13, 3) + "}");
        write("item_cold_testing.json", "{\"3\": [4]}");
        write("item_cold_testing_y.json", "{\"3\": [2]}");
        write("user_and_item_cold_testing.json", "{}");
        write("user_and_item_cold_testing_y.json", "{}");
        write("user_cold_state.json", "{\"2\": " + items(2, 13).replace("[", "[\"").replace(", ", "\", \"")
                .replace("]", "\"]") + "}");
        write("user_cold_state_y.json", "{\"2\": " + stars(13, 3) + "}");
        write("item_cold_state.json", "{\"3\": [4]}");
        write("item_cold_state_y.json", "{\"3\": [2]}");
        write("user_and_item_cold_state.json", "{}");
        write("user_and_item_cold_state_y.json", "{}");
        write("warm_state_y.json", "{\"1\": " + stars(14, 4) + ", \"3\": [1, 5]}");
        MovieLens m = MovieLens.read(dir);
        assertEquals(MovieLens.Format.ML_1M_STATES, m.format());
        assertFalse(m.hasTimestamps());
        assertEquals(14 + 2 + 13 + 1, m.ratings().size());
        MovieLens.States states = m.states().orElseThrow();
        assertEquals(List.of(1, 3), states.warm().keySet().stream().sorted().toList());
        assertEquals(2, states.warm().get(3).size(), "item 4 is a new item: not warm");
        assertEquals(13, states.userCold().get(2).size());

        ColdStartSplit split = ColdStartSplit.of(m, ColdStartSplit.Protocol.meluStates(5));
        assertEquals(List.of(1), split.train().stream().map(ColdStartSplit.UserHistory::user).toList(),
                "user 3 has fewer than 13 warm ratings");
        assertEquals(List.of(2), users(split));
        assertEquals(10, split.test().get(0).query().size());
        assertEquals(3, split.test().get(0).support().size());
        assertEquals("melu-states:5", split.protocol().id());
        IllegalArgumentException time = assertThrows(IllegalArgumentException.class,
                () -> ColdStartSplit.of(m, ColdStartSplit.Protocol.time()));
        assertTrue(time.getMessage().contains("no timestamps"), time.getMessage());

        // A warm_state_y.json that is not what MeLU's cold states leave is refused, naming the user.
        write("warm_state_y.json", "{\"1\": " + stars(14, 4) + ", \"3\": [1, 4]}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MovieLens.read(dir));
        assertTrue(e.getMessage().contains("user 3"), e.getMessage());
        // So is a MeLU cold rating that MetaHIN's states do not have.
        write("warm_state_y.json", "{\"1\": " + stars(14, 4) + ", \"3\": [1, 5]}");
        write("item_cold_state_y.json", "{\"3\": [5]}");
        e = assertThrows(IllegalArgumentException.class, () -> MovieLens.read(dir));
        assertTrue(e.getMessage().contains("item_cold_state.json") && e.getMessage().contains("item 4"),
                e.getMessage());
    }

    @Test
    void theStatesProtocolNeedsStateFiles() {
        SyntheticMovieLens.write(dir, new SyntheticMovieLens.Spec(60, 50, 13, 40, 6));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ColdStartSplit.of(MovieLens.read(dir), ColdStartSplit.Protocol.meluStates(1)));
        assertTrue(e.getMessage().contains("state files"), e.getMessage());
    }

    /** {@code n} item ids cycling over 1..3, as a JSON list: a fixture user's rated items. */
    private static String items(int seed, int n) {
        StringBuilder b = new StringBuilder("[");
        for (int k = 0; k < n; k++) {
            b.append(k == 0 ? "" : ", ").append(1 + (k + seed) % 3);
        }
        return b.append("]").toString();
    }

    /** {@code n} ratings of {@code stars}, as a JSON list. */
    private static String stars(int n, int stars) {
        StringBuilder b = new StringBuilder("[");
        for (int k = 0; k < n; k++) {
            b.append(k == 0 ? "" : ", ").append(stars);
        }
        return b.append("]").toString();
    }

    private static List<Integer> users(ColdStartSplit split) {
        return split.test().stream().map(ColdStartSplit.UserHistory::user).sorted().toList();
    }

    @Test
    void featuresComeFromMetaTrainUsersAndLeaveATrainingRatingOut() {
        SyntheticMovieLens.write(dir, new SyntheticMovieLens.Spec(60, 50, 13, 40, 6));
        ColdStartData d = ColdStartData.prepare(MovieLens.read(dir), ColdStartSplit.Protocol.time());
        List<MovieLens.Rating> train = d.split().trainRatings();
        MovieLens.Rating r = train.get(0);
        float[] serving = d.features().encode(r.user(), r.item());
        float[] training = d.features().encodeTraining(r);
        assertEquals(MovieLensFeatures.DIM, serving.length);
        assertEquals(1f, sum(serving, 23, 30), "one age group");
        assertEquals(1f, sum(serving, 30, 51), "one occupation");
        assertEquals(1f, sum(serving, 51, 56), 1e-5f, "a rating distribution");
        assertEquals(1f, sum(training, 51, 56), 1e-5f, "a rating distribution");
        double all = 0;
        int n = 0;
        for (MovieLens.Rating t : train) {
            if (t.item() == r.item()) {
                all += t.rating();
                n++;
            }
        }
        double g = d.features().globalMean();
        // Serving: every meta-train rating of the item; training: all but the rating itself.
        assertEquals((all + 5 * g) / (n + 5), d.features().itemMean(r.item()), 1e-9);
        assertEquals((float) ((all + 5 * g) / (n + 5) - g), serving[20], 1e-6f);
        assertEquals((float) ((all - r.rating() + 5 * g) / (n - 1 + 5) - g), training[20], 1e-6f);
        assertEquals((float) (Math.log1p(n - 1) / 6), training[21], 1e-6f);
        assertEquals((d.features().itemMedian(r.item()) - 3) / 2f, serving[56], 0f);
        assertArrayEquals(serving, d.features().encode(r.user(), r.item()));
        // The item-statistics set keeps the layout and turns the rest off.
        ColdStartData items = ColdStartData.prepare(MovieLens.read(dir), ColdStartSplit.Protocol.time(),
                RatingTarget.RATING, MovieLensFeatures.FeatureSet.ITEM_STATISTICS);
        float[] only = items.features().encode(r.user(), r.item());
        assertEquals(0f, sum(only, 0, 20) + sum(only, 22, 51), "genres, year and the user are off");
        assertEquals(serving[20], only[20]);
        assertEquals(sum(serving, 51, 56), sum(only, 51, 56), 1e-6f);
    }

    /** The binary target: a positive from 4 stars; the item's positive rate is shrunk like its mean. */
    @Test
    void binaryTargetsArePositivesFromFourStars() {
        SyntheticMovieLens.write(dir, new SyntheticMovieLens.Spec(60, 50, 13, 40, 6));
        ColdStartData d = ColdStartData.prepare(MovieLens.read(dir), ColdStartSplit.Protocol.time(),
                RatingTarget.BINARY);
        List<MovieLens.Rating> ratings = d.split().test().get(0).ratings();
        float[] y = d.features().support(ratings).targets();
        for (int k = 0; k < y.length; k++) {
            assertEquals(ratings.get(k).rating() >= 4 ? 1f : 0f, y[k]);
        }
        int item = ratings.get(0).item();
        double positives = 0;
        int n = 0;
        double allPositives = 0;
        for (MovieLens.Rating t : d.split().trainRatings()) {
            allPositives += t.rating() >= 4 ? 1 : 0;
            if (t.item() == item) {
                positives += t.rating() >= 4 ? 1 : 0;
                n++;
            }
        }
        double global = allPositives / d.split().trainRatings().size();
        assertEquals((positives + 5 * global) / (n + 5), d.features().itemPositiveRate(item), 1e-9);
    }

    private static float sum(float[] v, int from, int to) {
        float s = 0;
        for (int i = from; i < to; i++) {
            s += v[i];
        }
        return s;
    }
}

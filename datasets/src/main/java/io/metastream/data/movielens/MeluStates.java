package io.metastream.data.movielens;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MovieLens 1M as the MeLU and MetaHIN authors published it, for a machine that cannot fetch
 * GroupLens's {@code ratings.dat}: the folder holds {@code users.dat} and {@code movies.dat}
 * (GroupLens's), and two sets of state files, each a JSON object from user id to item ids
 * ({@code S.json}) and one to the ratings in the same order ({@code S_y.json}).
 * <ul>
 *   <li>MetaHIN's (Lu, Fang and Shi, KDD 2020; github.com/rootlu/MetaHIN, {@code data/movielens/}):
 *       {@code meta_training}, {@code warm_up}, {@code user_cold_testing}, {@code item_cold_testing}
 *       and {@code user_and_item_cold_testing}. Together they hold the 1,000,209 ratings (4
 *       (user, item) pairs twice, as MeLU's files do too): the rating set is read from them, and only
 *       that.</li>
 *   <li>MeLU's (Lee et al., KDD 2019; github.com/hoyeoplee/MeLU, {@code movielens/ml-1m/}):
 *       {@code user_cold_state}, {@code item_cold_state}, {@code user_and_item_cold_state}, and
 *       of {@code warm_state} only {@code warm_state_y.json} (its item file is 4 MiB or more).
 *       MeLU's warm state is every rating outside its three cold states; each user's ratings there
 *       are checked against {@code warm_state_y.json}.</li>
 * </ul>
 * The result carries no timestamps, so only the random protocols apply to it, and
 * {@link MovieLens.States} for MeLU's own ({@link ColdStartSplit.Kind#MELU_STATES}). The licence of
 * MovieLens forbids redistributing the files: they are read where the user put them.
 */
final class MeluStates {
    /** MetaHIN's states, whose union is the whole rating set. */
    static final List<String> METAHIN = List.of("meta_training", "warm_up", "user_cold_testing",
            "item_cold_testing", "user_and_item_cold_testing");
    /** MeLU's cold states; its warm state is the rest. */
    static final List<String> MELU_COLD = List.of("user_cold_state", "item_cold_state", "user_and_item_cold_state");
    static final String MELU_USER_COLD = "user_cold_state.json";
    static final String MELU_WARM_Y = "warm_state_y.json";

    private MeluStates() {
    }

    /**
     * @throws IllegalArgumentException naming the file and user where the files disagree with each
     *     other or with {@code users} and {@code items}
     */
    static MovieLens read(Path dir, Map<Integer, MovieLens.User> users, Map<Integer, MovieLens.Item> items) {
        // A multiset by (user, item): the authors' files hold 4 pairs twice (items 811 and 1741), both
        // sets alike, so each is kept as the files have it.
        Map<Long, List<MovieLens.Rating>> remaining = new LinkedHashMap<>();
        List<MovieLens.Rating> all = new ArrayList<>();
        List<String> files = new ArrayList<>(List.of("users.dat", "movies.dat"));
        for (String state : METAHIN) {
            for (MovieLens.Rating r : state(dir, state, users, items)) {
                remaining.computeIfAbsent(key(r), k -> new ArrayList<>()).add(r);
                all.add(r);
            }
            files.add(state + ".json");
            files.add(state + "_y.json");
        }
        Map<Integer, List<MovieLens.Rating>> userCold = new LinkedHashMap<>();
        for (String state : MELU_COLD) {
            for (MovieLens.Rating r : state(dir, state, users, items)) {
                if (!take(remaining, r)) {
                    throw new IllegalArgumentException(dir.resolve(state + ".json") + ": user " + r.user()
                            + " rated item " + r.item() + " " + r.rating() + ", a rating no MetaHIN state has left: "
                            + "the two sets are not one MovieLens 1M");
                }
                if (state.equals("user_cold_state")) {
                    userCold.computeIfAbsent(r.user(), u -> new ArrayList<>()).add(r);
                }
            }
            files.add(state + ".json");
            files.add(state + "_y.json");
        }
        Map<Integer, List<MovieLens.Rating>> warm = new LinkedHashMap<>();
        for (List<MovieLens.Rating> left : remaining.values()) {
            for (MovieLens.Rating r : left) {
                warm.computeIfAbsent(r.user(), u -> new ArrayList<>()).add(r);
            }
        }
        checkWarm(dir.resolve(MELU_WARM_Y), warm);
        files.add(MELU_WARM_Y);
        return new MovieLens(MovieLens.Format.ML_1M_STATES, users, items, all,
                MovieLens.fingerprint(dir, files.toArray(String[]::new)), new MovieLens.States(warm, userCold));
    }

    /** Removes one rating equal to {@code r} from its pair's list; whether there was one. */
    private static boolean take(Map<Long, List<MovieLens.Rating>> remaining, MovieLens.Rating r) {
        List<MovieLens.Rating> left = remaining.get(key(r));
        if (left == null || !left.remove(r)) {
            return false;
        }
        if (left.isEmpty()) {
            remaining.remove(key(r));
        }
        return true;
    }

    private static long key(MovieLens.Rating r) {
        return ((long) r.user() << 32) | (r.item() & 0xffffffffL);
    }

    /** One state's ratings, in file order, timestamp 0. */
    private static List<MovieLens.Rating> state(Path dir, String state, Map<Integer, MovieLens.User> users,
            Map<Integer, MovieLens.Item> items) {
        Path x = dir.resolve(state + ".json");
        Path y = dir.resolve(state + "_y.json");
        JsonNode itemsByUser = json(x);
        JsonNode ratingsByUser = json(y);
        List<MovieLens.Rating> out = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : itemsByUser.properties()) {
            int user = integer(x, e.getKey());
            JsonNode ys = ratingsByUser.get(e.getKey());
            if (ys == null || !ys.isArray() || !e.getValue().isArray() || ys.size() != e.getValue().size()) {
                throw new IllegalArgumentException(y + ": user " + user + " has no list of ratings as long as its "
                        + "items in " + x.getFileName());
            }
            if (!users.containsKey(user)) {
                throw new IllegalArgumentException(x + ": user " + user + " is not in users.dat");
            }
            for (int k = 0; k < ys.size(); k++) {
                int item = e.getValue().get(k).asInt(-1);
                float rating = (float) ys.get(k).asDouble(-1);
                if (!items.containsKey(item)) {
                    throw new IllegalArgumentException(x + ": user " + user + " rated item " + item
                            + ", which is not in movies.dat");
                }
                if (!(rating >= 1 && rating <= 5) || rating != Math.rint(rating)) {
                    throw new IllegalArgumentException(y + ": user " + user + " rating " + ys.get(k)
                            + " is not a whole star in 1..5");
                }
                out.add(new MovieLens.Rating(user, item, rating, 0L));
            }
        }
        if (ratingsByUser.size() != itemsByUser.size()) {
            throw new IllegalArgumentException(y + " has " + ratingsByUser.size() + " users, " + x.getFileName()
                    + " " + itemsByUser.size());
        }
        return out;
    }

    /** Each user's warm ratings, as a multiset, are the ones of {@code warm_state_y.json}. */
    private static void checkWarm(Path file, Map<Integer, List<MovieLens.Rating>> warm) {
        JsonNode published = json(file);
        if (published.size() != warm.size()) {
            throw new IllegalArgumentException(file + " has " + published.size() + " users, the ratings outside "
                    + "MeLU's cold states " + warm.size());
        }
        for (Map.Entry<Integer, List<MovieLens.Rating>> e : warm.entrySet()) {
            JsonNode ys = published.get(Integer.toString(e.getKey()));
            int[] want = new int[ys == null ? 0 : ys.size()];
            for (int k = 0; k < want.length; k++) {
                want[k] = ys.get(k).asInt();
            }
            int[] have = e.getValue().stream().mapToInt(r -> (int) r.rating()).toArray();
            Arrays.sort(want);
            Arrays.sort(have);
            if (!Arrays.equals(want, have)) {
                throw new IllegalArgumentException(file + ": user " + e.getKey() + "'s warm ratings are not the ones "
                        + "outside MeLU's cold states: the files are not one split");
            }
        }
    }

    private static JsonNode json(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + " is missing (MeluStates: MeLU's and MetaHIN's state files)");
        }
        try {
            JsonNode n = new ObjectMapper().readTree(file.toFile());
            if (n == null || !n.isObject()) {
                throw new IllegalArgumentException(file + " is not a JSON object of users");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " does not parse: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int integer(Path file, String s) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": user id '" + s + "' is not an integer");
        }
    }
}

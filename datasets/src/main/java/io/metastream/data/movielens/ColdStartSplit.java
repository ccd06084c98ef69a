package io.metastream.data.movielens;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The cold-start protocols. Both keep MeLU's numbers (Lee, Im, Jang, Cho and Chung, "MeLU:
 * Meta-Learned User Preference Estimator for Cold-Start Recommendation", KDD 2019, section 4.1):
 * only users with 13 to 100 ratings take part, a fifth of them are the meta-test (cold) users,
 * and for each of those {@code queryItems} (10) ratings are the query and the rest the support.
 * They differ in how users and query items are chosen ({@link Kind}).
 */
public record ColdStartSplit(List<UserHistory> train, List<UserHistory> test, Protocol protocol) {
    /**
     * One user's ratings, split into the support (what the user has rated, in time order) and the
     * query (the ratings to predict, in time order). Meta-train users are split by the same rule,
     * although training draws its own episodes from {@link #ratings()}.
     */
    public record UserHistory(int user, List<MovieLens.Rating> support, List<MovieLens.Rating> query) {
        public UserHistory {
            support = List.copyOf(support);
            query = List.copyOf(query);
        }

        /** Every rating of the user, in time order. */
        public List<MovieLens.Rating> ratings() {
            List<MovieLens.Rating> all = new ArrayList<>(support.size() + query.size());
            all.addAll(support);
            all.addAll(query);
            all.sort(MovieLens.TIME_ORDER);
            return all;
        }

        /** The timestamp of the user's first rating: when the user arrived. */
        long arrival() {
            long first = Long.MAX_VALUE;
            for (MovieLens.Rating r : support) {
                first = Math.min(first, r.timestamp());
            }
            for (MovieLens.Rating r : query) {
                first = Math.min(first, r.timestamp());
            }
            return first;
        }
    }

    /** How the meta-test users and their query items are chosen. */
    public enum Kind {
        /**
         * The deployment's view: the last users to arrive (by their first rating) are the cold
         * ones, and their query items are their latest ratings, so the support is what they rated
         * before, as in the stream.
         */
        TIME,
        /**
         * MeLU's published evaluation as the literature repeats it: users split at random, and 10
         * random ratings of each cold user as the query, the rest as support (seeded).
         */
        MELU,
        /**
         * MeLU's own split of MovieLens 1M, from its published state files ({@link MovieLens#states()}):
         * the meta-train users are its warm state's, the cold users its user-cold state's (new users
         * on existing items), each with their ratings in that state only; 10 random query items
         * each, the rest support (seeded), as MeLU's {@code data_generation.py} draws them.
         */
        MELU_STATES;

        public String id() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        /**
         * @throws IllegalArgumentException naming the known ids
         */
        public static Kind fromId(String id) {
            for (Kind k : values()) {
                if (k.id().equals(id.toLowerCase(Locale.ROOT))) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown protocol '" + id + "' (known: time, melu, melu-states)");
        }
    }

    /** The protocol's numbers; {@code seed} draws the users and query items of {@link Kind#MELU}. */
    public record Protocol(Kind kind, int minRatings, int maxRatings, int queryItems, double testFraction, long seed) {
        public Protocol {
            if (kind == null || minRatings <= queryItems || maxRatings < minRatings
                    || !(testFraction > 0 && testFraction < 1)) {
                throw new IllegalArgumentException("need a kind, queryItems < minRatings <= maxRatings and "
                        + "testFraction in (0, 1): " + this);
            }
        }

        /** The time-ordered protocol with MeLU's numbers: 13 to 100 ratings, 10 query items, a fifth held out. */
        public static Protocol time() {
            return new Protocol(Kind.TIME, 13, 100, 10, 0.2, 0L);
        }

        /** MeLU's random protocol with its numbers, drawn with {@code seed}. */
        public static Protocol melu(long seed) {
            return new Protocol(Kind.MELU, 13, 100, 10, 0.2, seed);
        }

        /** MeLU's published ML-1M states with its numbers, query items drawn with {@code seed}. */
        public static Protocol meluStates(long seed) {
            return new Protocol(Kind.MELU_STATES, 13, 100, 10, 0.2, seed);
        }

        /** The protocol of {@code kind}; the seed matters to the random ones only. */
        public static Protocol of(Kind kind, long seed) {
            return switch (kind) {
                case TIME -> time();
                case MELU -> melu(seed);
                case MELU_STATES -> meluStates(seed);
            };
        }

        /** {@code time}, or {@code melu:SEED}: what a model's provenance records to be matched. */
        public String id() {
            return kind == Kind.TIME ? kind.id() : kind.id() + ":" + seed;
        }

        public String describe() {
            return switch (kind) {
                case TIME -> "users with " + minRatings + ".." + maxRatings + " ratings; the latest "
                        + (int) (testFraction * 100) + "% of users (by first rating) are meta-test; per test user the "
                        + "last " + queryItems + " ratings are queries, the earlier ones support";
                case MELU -> "users with " + minRatings + ".." + maxRatings + " ratings; " + (int) (testFraction * 100)
                        + "% of users at random are meta-test; per test user " + queryItems + " random ratings are "
                        + "queries, the rest support (seed " + seed + ")";
                case MELU_STATES -> "MeLU's published states: meta-train users from warm_state, meta-test users from "
                        + "user_cold_state (new users, existing items), each with " + minRatings + ".." + maxRatings
                        + " ratings in their state; per test user " + queryItems + " random ratings are queries, the "
                        + "rest support (seed " + seed + ")";
            };
        }
    }

    /**
     * Splits {@code data} by the protocol.
     *
     * @throws IllegalArgumentException if too few users are eligible, or the data cannot be split
     *     so (no timestamps for {@link Kind#TIME}, no states for {@link Kind#MELU_STATES})
     */
    public static ColdStartSplit of(MovieLens data, Protocol protocol) {
        if (protocol.kind() == Kind.MELU_STATES) {
            MovieLens.States states = data.states().orElseThrow(() -> new IllegalArgumentException("--protocol "
                    + "melu-states needs MeLU's state files (a folder of them, MeluStates); this data is "
                    + data.format()));
            return new ColdStartSplit(stateUsers(states.warm(), protocol), stateUsers(states.userCold(), protocol),
                    protocol);
        }
        if (protocol.kind() == Kind.TIME && !data.hasTimestamps()) {
            throw new IllegalArgumentException(data.format() + " has no timestamps: no time-ordered split; use "
                    + "--protocol melu or melu-states");
        }
        List<List<MovieLens.Rating>> eligible = new ArrayList<>();
        for (Map.Entry<Integer, List<MovieLens.Rating>> e : data.ratingsByUser().entrySet()) {
            int n = e.getValue().size();
            if (n >= protocol.minRatings() && n <= protocol.maxRatings()) {
                eligible.add(e.getValue());
            }
        }
        // Arrival order, ties by user id: the order TIME splits in, and a fixed order for MELU to shuffle.
        eligible.sort(Comparator.comparingLong((List<MovieLens.Rating> r) -> r.get(0).timestamp())
                .thenComparingInt(r -> r.get(0).user()));
        int test = (int) Math.round(eligible.size() * protocol.testFraction());
        if (test < 1 || test >= eligible.size()) {
            throw new IllegalArgumentException("only " + eligible.size() + " users have " + protocol.minRatings()
                    + ".." + protocol.maxRatings() + " ratings: too few to split");
        }
        if (protocol.kind() == Kind.MELU) {
            Collections.shuffle(eligible, new Random(protocol.seed()));
            List<UserHistory> testUsers = histories(eligible.subList(0, test), protocol);
            List<UserHistory> trainUsers = histories(eligible.subList(test, eligible.size()), protocol);
            // Meta-train users in arrival order, test users too: only which users are which is random.
            Comparator<UserHistory> arrival = Comparator.comparingLong(UserHistory::arrival)
                    .thenComparingInt(UserHistory::user);
            trainUsers.sort(arrival);
            testUsers.sort(arrival);
            return new ColdStartSplit(List.copyOf(trainUsers), List.copyOf(testUsers), protocol);
        }
        int cut = eligible.size() - test;
        return new ColdStartSplit(List.copyOf(histories(eligible.subList(0, cut), protocol)),
                List.copyOf(histories(eligible.subList(cut, eligible.size()), protocol)), protocol);
    }

    /** The users of one state with an eligible number of ratings there, in user order. */
    private static List<UserHistory> stateUsers(Map<Integer, List<MovieLens.Rating>> state, Protocol protocol) {
        List<UserHistory> out = new ArrayList<>();
        state.keySet().stream().sorted().forEach(user -> {
            List<MovieLens.Rating> ratings = state.get(user);
            if (ratings.size() >= protocol.minRatings() && ratings.size() <= protocol.maxRatings()) {
                List<MovieLens.Rating> ordered = new ArrayList<>(ratings);
                ordered.sort(MovieLens.TIME_ORDER);
                out.add(history(ordered, protocol));
            }
        });
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no user of a MeLU state has " + protocol.minRatings() + ".."
                    + protocol.maxRatings() + " ratings there");
        }
        return List.copyOf(out);
    }

    private static List<UserHistory> histories(List<List<MovieLens.Rating>> users, Protocol protocol) {
        List<UserHistory> out = new ArrayList<>(users.size());
        for (List<MovieLens.Rating> ratings : users) {
            out.add(history(ratings, protocol));
        }
        return out;
    }

    /** One user's ratings (in time order) split by the protocol. */
    static UserHistory history(List<MovieLens.Rating> ratings, Protocol protocol) {
        int user = ratings.get(0).user();
        int q = protocol.queryItems();
        if (protocol.kind() == Kind.TIME) {
            return new UserHistory(user, ratings.subList(0, ratings.size() - q),
                    ratings.subList(ratings.size() - q, ratings.size()));
        }
        // Each user's query from a generator of its own, so it does not depend on which other
        // users are eligible or in what order they are drawn.
        Random random = new Random(protocol.seed() * 1_000_003L + user);
        List<Integer> order = new ArrayList<>(ratings.size());
        for (int k = 0; k < ratings.size(); k++) {
            order.add(k);
        }
        Collections.shuffle(order, random);
        boolean[] query = new boolean[ratings.size()];
        for (int k = 0; k < q; k++) {
            query[order.get(k)] = true;
        }
        List<MovieLens.Rating> support = new ArrayList<>();
        List<MovieLens.Rating> queries = new ArrayList<>();
        for (int k = 0; k < ratings.size(); k++) {
            (query[k] ? queries : support).add(ratings.get(k));
        }
        return new UserHistory(user, support, queries);
    }

    /** Every rating of the meta-train users. */
    public List<MovieLens.Rating> trainRatings() {
        List<MovieLens.Rating> all = new ArrayList<>();
        for (UserHistory h : train) {
            all.addAll(h.support());
            all.addAll(h.query());
        }
        return all;
    }
}

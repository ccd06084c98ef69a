package io.metastream.data.movielens;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The cold-start protocol of MeLU (Lee, Im, Jang, Cho and Chung, "MeLU: Meta-Learned User
 * Preference Estimator for Cold-Start Recommendation", KDD 2019, section 4.1): only users with
 * 13 to 100 ratings take part; for each test user {@code queryItems} (10) ratings are the query
 * and the rest the support. Users are split by time: the last {@code testFraction} of users to
 * arrive (by their first rating) are the meta-test users, the cold users a deployment meets next.
 * A test user's query items are their latest ratings, so the support is what they rated before,
 * as in the stream.
 */
public record ColdStartSplit(List<UserHistory> train, List<UserHistory> test, Protocol protocol) {
    /** One user's ratings in time order. */
    public record UserHistory(int user, List<MovieLens.Rating> ratings) {
        public UserHistory {
            ratings = List.copyOf(ratings);
        }

        /** All but the last {@code queryItems} ratings. */
        public List<MovieLens.Rating> support(int queryItems) {
            return ratings.subList(0, ratings.size() - queryItems);
        }

        /** The last {@code queryItems} ratings. */
        public List<MovieLens.Rating> query(int queryItems) {
            return ratings.subList(ratings.size() - queryItems, ratings.size());
        }
    }

    /** The protocol's numbers. */
    public record Protocol(int minRatings, int maxRatings, int queryItems, double testFraction) {
        public Protocol {
            if (minRatings <= queryItems || maxRatings < minRatings || !(testFraction > 0 && testFraction < 1)) {
                throw new IllegalArgumentException("need queryItems < minRatings <= maxRatings and testFraction in "
                        + "(0, 1): " + this);
            }
        }

        /** MeLU's: 13 to 100 ratings, 10 query items; a fifth of the users held out. */
        public static Protocol melu() {
            return new Protocol(13, 100, 10, 0.2);
        }

        public String describe() {
            return "users with " + minRatings + ".." + maxRatings + " ratings; the latest " + (int) (testFraction * 100)
                    + "% of users (by first rating) are meta-test; per test user the last " + queryItems
                    + " ratings are queries, the earlier ones support";
        }
    }

    /** Splits {@code data} by the protocol. */
    public static ColdStartSplit of(MovieLens data, Protocol protocol) {
        List<UserHistory> eligible = new ArrayList<>();
        for (Map.Entry<Integer, List<MovieLens.Rating>> e : data.ratingsByUser().entrySet()) {
            int n = e.getValue().size();
            if (n >= protocol.minRatings() && n <= protocol.maxRatings()) {
                eligible.add(new UserHistory(e.getKey(), e.getValue()));
            }
        }
        eligible.sort(Comparator.comparingLong((UserHistory h) -> h.ratings().get(0).timestamp())
                .thenComparingInt(UserHistory::user));
        int test = (int) Math.round(eligible.size() * protocol.testFraction());
        if (test < 1 || test >= eligible.size()) {
            throw new IllegalArgumentException("only " + eligible.size() + " users have " + protocol.minRatings()
                    + ".." + protocol.maxRatings() + " ratings: too few to split");
        }
        int cut = eligible.size() - test;
        return new ColdStartSplit(List.copyOf(eligible.subList(0, cut)), List.copyOf(eligible.subList(cut,
                eligible.size())), protocol);
    }

    /** Every rating of the meta-train users. */
    public List<MovieLens.Rating> trainRatings() {
        List<MovieLens.Rating> all = new ArrayList<>();
        for (UserHistory h : train) {
            all.addAll(h.ratings());
        }
        return all;
    }
}

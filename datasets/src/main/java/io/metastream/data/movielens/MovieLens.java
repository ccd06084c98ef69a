package io.metastream.data.movielens;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A MovieLens rating data set read from a folder in one of two published layouts (GroupLens,
 * https://grouplens.org/datasets/movielens/):
 * <ul>
 *   <li>MovieLens 100K: {@code u.data} (user, item, rating, timestamp, tab-separated),
 *       {@code u.item} (id|title|release date|video date|URL|19 genre flags) and {@code u.user}
 *       (id|age|gender|occupation|zip);</li>
 *   <li>MovieLens 1M: {@code ratings.dat} (user::item::rating::timestamp), {@code movies.dat}
 *       (id::Title (Year)::Genre|Genre) and {@code users.dat} (id::gender::age
 *       group::occupation code::zip).</li>
 * </ul>
 * Both are read as ISO-8859-1, as GroupLens ships them. Users and items carry their side
 * information in a common form (genres as the 19 flags of 100K, 1M's genres mapped onto them; an
 * age group; an occupation index in [0, 21)) so one feature encoding serves both.
 */
public final class MovieLens {
    /** The 19 genres in the order of MovieLens 100K's {@code u.genre}; 1M uses the last 18. */
    public static final List<String> GENRES = List.of("unknown", "Action", "Adventure", "Animation", "Children's",
            "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
            "Romance", "Sci-Fi", "Thriller", "War", "Western");

    /** MovieLens 100K's {@code u.occupation}, alphabetical; 1M numbers its own 21 occupations 0 to 20. */
    public static final List<String> OCCUPATIONS_100K = List.of("administrator", "artist", "doctor", "educator",
            "engineer", "entertainment", "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing",
            "none", "other", "programmer", "retired", "salesman", "scientist", "student", "technician", "writer");

    /** Occupation indices run over [0, OCCUPATIONS). */
    public static final int OCCUPATIONS = 21;

    /** The age groups of MovieLens 1M (lower bounds: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+). */
    public static final int[] AGE_GROUP_STARTS = {1, 18, 25, 35, 45, 50, 56};

    /** One rating; {@code timestamp} in seconds since the epoch. */
    public record Rating(int user, int item, float rating, long timestamp) {
    }

    /**
     * A user's side information: {@code ageGroup} indexes {@link #AGE_GROUP_STARTS}, {@code female}
     * is the gender flag, {@code occupation} is in [0, {@value #OCCUPATIONS}).
     */
    public record User(int id, int ageGroup, boolean female, int occupation) {
    }

    /** An item's side information; {@code year} is 0 where the data set gives none. */
    public record Item(int id, String title, int year, boolean[] genres) {
    }

    /** Time order, ties broken by user and item, so every reader of the same files sees one order. */
    public static final Comparator<Rating> TIME_ORDER = Comparator.comparingLong(Rating::timestamp)
            .thenComparingInt(Rating::user).thenComparingInt(Rating::item);

    /**
     * Which layout a folder was read from. {@link #ML_1M_STATES}: MovieLens 1M put together from the
     * published state files of MeLU and MetaHIN ({@link MeluStates}), without timestamps.
     */
    public enum Format {
        ML_100K, ML_1M, ML_1M_STATES
    }

    /**
     * MeLU's split of MovieLens 1M as its authors published it (github.com/hoyeoplee/MeLU,
     * {@code movielens/ml-1m/*_state*.json}): the ratings of the existing users on existing items
     * ({@code warm_state}), on which MeLU is meta-trained, and those of the new users on existing
     * items ({@code user_cold_state}), its "user cold-start" test; each user's ratings in file order.
     */
    public record States(Map<Integer, List<Rating>> warm, Map<Integer, List<Rating>> userCold) {
        public States {
            warm = Collections.unmodifiableMap(new LinkedHashMap<>(warm));
            userCold = Collections.unmodifiableMap(new LinkedHashMap<>(userCold));
        }
    }

    private final Format format;
    private final Map<Integer, User> users;
    private final Map<Integer, Item> items;
    private final List<Rating> ratings;
    private final String fingerprint;
    private final States states;

    public MovieLens(Format format, Map<Integer, User> users, Map<Integer, Item> items, List<Rating> ratings,
            String fingerprint) {
        this(format, users, items, ratings, fingerprint, null);
    }

    /** @param states MeLU's state split, or {@code null} for a data set without one */
    public MovieLens(Format format, Map<Integer, User> users, Map<Integer, Item> items, List<Rating> ratings,
            String fingerprint, States states) {
        this.states = states;
        this.format = format;
        this.users = Collections.unmodifiableMap(new LinkedHashMap<>(users));
        this.items = Collections.unmodifiableMap(new LinkedHashMap<>(items));
        List<Rating> sorted = new ArrayList<>(ratings);
        sorted.sort(TIME_ORDER);
        this.ratings = Collections.unmodifiableList(sorted);
        this.fingerprint = fingerprint;
    }

    /**
     * Reads the folder, detecting the layout by its rating file.
     *
     * @throws IllegalArgumentException naming the folder and the files it expected, or the file
     *     and line that does not parse
     */
    public static MovieLens read(Path dir) {
        if (Files.isRegularFile(dir.resolve("u.data"))) {
            return read100k(dir);
        }
        if (Files.isRegularFile(dir.resolve("ratings.dat"))) {
            return read1m(dir);
        }
        if (Files.isRegularFile(dir.resolve(MeluStates.MELU_USER_COLD))) {
            Map<Integer, User> users = users1m(dir);
            Map<Integer, Item> items = items1m(dir);
            return MeluStates.read(dir, users, items);
        }
        throw new IllegalArgumentException(dir + " holds neither MovieLens 100K (u.data, u.item, u.user) nor "
                + "MovieLens 1M (ratings.dat, movies.dat, users.dat) nor the state files of MeLU and MetaHIN "
                + "(MeluStates); download one from https://grouplens.org/datasets/movielens/ and unzip it");
    }

    private static MovieLens read100k(Path dir) {
        Map<Integer, User> users = new LinkedHashMap<>();
        for (Line l : lines(dir.resolve("u.user"))) {
            String[] f = l.split("\\|", 5);
            int occupation = OCCUPATIONS_100K.indexOf(f[3].trim().toLowerCase(Locale.ROOT));
            if (occupation < 0) {
                throw l.error("unknown occupation '" + f[3] + "'");
            }
            users.put(l.integer(f[0]), new User(l.integer(f[0]), ageGroup(l.integer(f[1])), gender(l, f[2]),
                    occupation));
        }
        Map<Integer, Item> items = new LinkedHashMap<>();
        for (Line l : lines(dir.resolve("u.item"))) {
            String[] f = l.split("\\|", -1);
            if (f.length < 5 + GENRES.size()) {
                throw l.error("expected " + (5 + GENRES.size()) + " fields, got " + f.length);
            }
            boolean[] genres = new boolean[GENRES.size()];
            for (int g = 0; g < genres.length; g++) {
                genres[g] = f[5 + g].trim().equals("1");
            }
            Matcher year = Pattern.compile("(\\d{4})\\s*$").matcher(f[2].trim());
            items.put(l.integer(f[0]), new Item(l.integer(f[0]), f[1], year.find() ? Integer.parseInt(year.group(1))
                    : yearInTitle(f[1]), genres));
        }
        List<Rating> ratings = new ArrayList<>();
        for (Line l : lines(dir.resolve("u.data"))) {
            String[] f = l.split("\t", 4);
            ratings.add(rating(l, f, users, items));
        }
        return new MovieLens(Format.ML_100K, users, items, ratings,
                fingerprint(dir, "u.data", "u.item", "u.user"));
    }

    private static MovieLens read1m(Path dir) {
        Map<Integer, User> users = users1m(dir);
        Map<Integer, Item> items = items1m(dir);
        List<Rating> ratings = new ArrayList<>();
        for (Line l : lines(dir.resolve("ratings.dat"))) {
            ratings.add(rating(l, l.split("::", 4), users, items));
        }
        return new MovieLens(Format.ML_1M, users, items, ratings,
                fingerprint(dir, "ratings.dat", "movies.dat", "users.dat"));
    }

    /** MovieLens 1M's {@code users.dat}. */
    static Map<Integer, User> users1m(Path dir) {
        Map<Integer, User> users = new LinkedHashMap<>();
        for (Line l : lines(dir.resolve("users.dat"))) {
            String[] f = l.split("::", 5);
            int occupation = l.integer(f[3]);
            if (occupation < 0 || occupation >= OCCUPATIONS) {
                throw l.error("occupation code " + occupation + " outside 0.." + (OCCUPATIONS - 1));
            }
            users.put(l.integer(f[0]), new User(l.integer(f[0]), ageGroup(l.integer(f[2])), gender(l, f[1]),
                    occupation));
        }
        return users;
    }

    /** MovieLens 1M's {@code movies.dat}. */
    static Map<Integer, Item> items1m(Path dir) {
        Map<Integer, Item> items = new LinkedHashMap<>();
        for (Line l : lines(dir.resolve("movies.dat"))) {
            String[] f = l.split("::", 3);
            boolean[] genres = new boolean[GENRES.size()];
            for (String g : f[2].trim().split("\\|")) {
                int at = GENRES.indexOf(g.trim());
                if (at < 0) {
                    throw l.error("unknown genre '" + g + "'");
                }
                genres[at] = true;
            }
            items.put(l.integer(f[0]), new Item(l.integer(f[0]), f[1], yearInTitle(f[1]), genres));
        }
        return items;
    }

    private static Rating rating(Line l, String[] f, Map<Integer, User> users, Map<Integer, Item> items) {
        if (f.length < 4) {
            throw l.error("expected user, item, rating, timestamp");
        }
        int user = l.integer(f[0]);
        int item = l.integer(f[1]);
        if (!users.containsKey(user) || !items.containsKey(item)) {
            throw l.error("rating of an unknown " + (users.containsKey(user) ? "item " + item : "user " + user));
        }
        float r = l.integer(f[2]);
        if (r < 1 || r > 5) {
            throw l.error("rating " + r + " outside 1..5");
        }
        return new Rating(user, item, r, Long.parseLong(f[3].trim()));
    }

    /** The index in {@link #AGE_GROUP_STARTS} of the group an age (or a 1M group code) falls in. */
    static int ageGroup(int age) {
        int group = 0;
        for (int i = 0; i < AGE_GROUP_STARTS.length; i++) {
            if (age >= AGE_GROUP_STARTS[i]) {
                group = i;
            }
        }
        return group;
    }

    private static boolean gender(Line l, String g) {
        return switch (g.trim()) {
            case "F" -> true;
            case "M" -> false;
            default -> throw l.error("gender '" + g + "' is neither F nor M");
        };
    }

    private static int yearInTitle(String title) {
        Matcher m = Pattern.compile("\\((\\d{4})\\)\\s*$").matcher(title.trim());
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    static String fingerprint(Path dir, String... files) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String f : files) {
                sha.update(Files.readAllBytes(dir.resolve(f)));
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A line of a data file with its position, for error messages that say where. */
    private record Line(Path file, int number, String text) {
        String[] split(String regex, int limit) {
            return text.split(regex, limit);
        }

        int integer(String s) {
            try {
                return Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                throw error("'" + s + "' is not an integer");
            }
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException(file + " line " + number + ": " + what);
        }
    }

    private static List<Line> lines(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + " is missing");
        }
        try {
            List<String> raw = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
            List<Line> out = new ArrayList<>(raw.size());
            for (int i = 0; i < raw.size(); i++) {
                if (!raw.get(i).isBlank()) {
                    out.add(new Line(file, i + 1, raw.get(i)));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Format format() {
        return format;
    }

    public Map<Integer, User> users() {
        return users;
    }

    public Map<Integer, Item> items() {
        return items;
    }

    /** Every rating, in time order. */
    public List<Rating> ratings() {
        return ratings;
    }

    /** The first 16 hex digits of the SHA-256 of the data files, for provenance. */
    public String fingerprint() {
        return fingerprint;
    }

    /** MeLU's state split, where the data came with one ({@link Format#ML_1M_STATES}). */
    public java.util.Optional<States> states() {
        return java.util.Optional.ofNullable(states);
    }

    /** Whether the ratings carry times (the state files have none, so no time-ordered split exists). */
    public boolean hasTimestamps() {
        return format != Format.ML_1M_STATES;
    }

    /** Each user's ratings in time order. */
    public Map<Integer, List<Rating>> ratingsByUser() {
        Map<Integer, List<Rating>> by = new LinkedHashMap<>();
        for (Rating r : ratings) {
            by.computeIfAbsent(r.user(), u -> new ArrayList<>()).add(r);
        }
        return by;
    }
}

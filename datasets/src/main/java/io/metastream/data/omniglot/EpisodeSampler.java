package io.metastream.data.omniglot;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Draws N-way K-shot episodes whose N classes all come from one alphabet (the harder,
 * "within-alphabet" protocol of Lake et al. 2015: every distractor is a character of the same
 * script). With {@code rotations} each character also counts as 3 more classes, rotated by 90,
 * 180 and 270 degrees (Santoro et al. 2016, used for training by Vinyals et al. 2016 and Snell et
 * al. 2017), which quadruples the classes a small background set offers.
 */
public final class EpisodeSampler {
    /** One class of an episode: a character seen under a rotation of {@code quarterTurns} x 90 degrees. */
    public record EpisodeClass(Omniglot.Character character, int quarterTurns) {
    }

    /**
     * One episode: {@code support[c]} and {@code query[c]} are the drawing indices of class
     * {@code c}, disjoint within a class.
     */
    public record Episode(String alphabet, List<EpisodeClass> classes, int[][] support, int[][] query) {
        public int ways() {
            return classes.size();
        }

        /** Support images, class-major ({@code c * shots + k}), {@link Omniglot#PIXELS} floats each. */
        public float[] supportPixels() {
            return pixels(support);
        }

        /** Query images, class-major. */
        public float[] queryPixels() {
            return pixels(query);
        }

        /** Support images as rows, class-major, each rotated straight into its own row. */
        public float[][] supportRows() {
            return rows(support);
        }

        /** Query images as rows, class-major. */
        public float[][] queryRows() {
            return rows(query);
        }

        private float[][] rows(int[][] drawings) {
            int per = drawings[0].length;
            float[][] out = new float[ways() * per][];
            for (int c = 0; c < ways(); c++) {
                EpisodeClass k = classes.get(c);
                for (int i = 0; i < per; i++) {
                    out[c * per + i] = new float[Omniglot.PIXELS];
                    rotate(k.character().images().get(drawings[c][i]), k.quarterTurns(), out[c * per + i], 0);
                }
            }
            return out;
        }

        private float[] pixels(int[][] drawings) {
            int per = drawings[0].length;
            float[] out = new float[ways() * per * Omniglot.PIXELS];
            for (int c = 0; c < ways(); c++) {
                EpisodeClass k = classes.get(c);
                for (int i = 0; i < per; i++) {
                    rotate(k.character().images().get(drawings[c][i]), k.quarterTurns(), out,
                            (c * per + i) * Omniglot.PIXELS);
                }
            }
            return out;
        }
    }

    private final Map<String, List<EpisodeClass>> byAlphabet = new LinkedHashMap<>();
    private final List<String> alphabets = new ArrayList<>();
    private final int minDrawings;

    /**
     * @param rotations whether each character also appears as three rotated classes
     * @throws IllegalArgumentException if there are no characters
     */
    public EpisodeSampler(List<Omniglot.Character> characters, boolean rotations) {
        if (characters.isEmpty()) {
            throw new IllegalArgumentException("no characters to sample episodes from");
        }
        int min = Integer.MAX_VALUE;
        for (Omniglot.Character c : characters) {
            for (int r = 0; r < (rotations ? 4 : 1); r++) {
                byAlphabet.computeIfAbsent(c.alphabet(), a -> new ArrayList<>()).add(new EpisodeClass(c, r));
            }
            min = Math.min(min, c.images().size());
        }
        alphabets.addAll(byAlphabet.keySet());
        this.minDrawings = min;
    }

    /** The largest number of ways an episode can have: the classes of the largest alphabet. */
    public int maxWays() {
        return byAlphabet.values().stream().mapToInt(List::size).max().orElse(0);
    }

    /**
     * Picks an alphabet with at least {@code ways} classes, with probability proportional to its
     * class count (so every eligible class is equally likely to appear), then {@code ways} of its
     * classes, then for each class {@code shots + queries} distinct drawings.
     *
     * @throws IllegalArgumentException if no alphabet has {@code ways} classes or a class has fewer
     *     than {@code shots + queries} drawings
     */
    public Episode sample(Random random, int ways, int shots, int queries) {
        if (ways < 2 || shots < 1 || queries < 1) {
            throw new IllegalArgumentException("need ways >= 2, shots >= 1, queries >= 1, got " + ways + ", "
                    + shots + ", " + queries);
        }
        if (shots + queries > minDrawings) {
            throw new IllegalArgumentException("shots + queries = " + (shots + queries) + " exceeds the "
                    + minDrawings + " drawings of the smallest class");
        }
        int total = 0;
        for (String a : alphabets) {
            total += eligible(a, ways);
        }
        if (total == 0) {
            throw new IllegalArgumentException("no alphabet has " + ways + " classes (largest has " + maxWays() + ")");
        }
        int pick = random.nextInt(total);
        String alphabet = null;
        for (String a : alphabets) {
            pick -= eligible(a, ways);
            if (pick < 0) {
                alphabet = a;
                break;
            }
        }
        List<EpisodeClass> pool = byAlphabet.get(alphabet);
        int[] chosen = firstOfPermutation(random, pool.size(), ways);
        List<EpisodeClass> classes = new ArrayList<>(ways);
        int[][] support = new int[ways][shots];
        int[][] query = new int[ways][queries];
        for (int c = 0; c < ways; c++) {
            EpisodeClass k = pool.get(chosen[c]);
            classes.add(k);
            int[] drawings = firstOfPermutation(random, k.character().images().size(), shots + queries);
            System.arraycopy(drawings, 0, support[c], 0, shots);
            System.arraycopy(drawings, shots, query[c], 0, queries);
        }
        return new Episode(alphabet, List.copyOf(classes), support, query);
    }

    private int eligible(String alphabet, int ways) {
        int n = byAlphabet.get(alphabet).size();
        return n >= ways ? n : 0;
    }

    /** The first {@code k} entries of a uniformly random permutation of 0..n-1 (partial Fisher-Yates). */
    static int[] firstOfPermutation(Random random, int n, int k) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = 0; i < k; i++) {
            int j = i + random.nextInt(n - i);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return Arrays.copyOf(p, k);
    }

    /** Copies a square image into {@code out} at {@code offset}, turned {@code quarterTurns} x 90 degrees clockwise. */
    static void rotate(float[] image, int quarterTurns, float[] out, int offset) {
        int n = Omniglot.SIZE;
        for (int y = 0; y < n; y++) {
            for (int x = 0; x < n; x++) {
                int sy;
                int sx;
                switch (quarterTurns & 3) {
                    case 0 -> { sy = y; sx = x; }
                    case 1 -> { sy = n - 1 - x; sx = y; }
                    case 2 -> { sy = n - 1 - y; sx = n - 1 - x; }
                    default -> { sy = x; sx = n - 1 - y; }
                }
                out[offset + y * n + x] = image[sy * n + sx];
            }
        }
    }
}

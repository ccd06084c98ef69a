package io.metastream.data.omniglot;

import io.metastream.learn.omniglot.ConvEmbedding;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import javax.imageio.ImageIO;

/**
 * Omniglot images (Lake, Salakhutdinov and Tenenbaum, Science 2015; MIT licence), downscaled to
 * {@value #SIZE}x{@value #SIZE} as in Vinyals et al. 2016 and Snell et al. 2017, ink = 1 and
 * paper = 0. Read either from the two "background small" archives vendored in this jar (so
 * training works offline) or from a folder in the full layout
 * {@code <split>/<Alphabet>/characterNN/*.png}. A character that appears twice (Greek and Latin
 * are in both small archives) is kept once, keyed by alphabet and character name.
 */
public final class Omniglot {
    /** The side the images are scaled to: what the {@link ConvEmbedding} of the protonet learner takes. */
    public static final int SIZE = ConvEmbedding.IMAGE_SIZE;
    public static final int PIXELS = SIZE * SIZE;
    /** The vendored archives, on the class path under {@code /omniglot/}. */
    public static final List<String> BUNDLED = List.of("images_background_small1.zip", "images_background_small2.zip");
    /**
     * Evaluation alphabets of the bundled small background sets: the three with 20 or more
     * characters (22-24) that leave the most characters for training, so that 20-way
     * within-alphabet episodes exist for testing.
     */
    public static final List<String> BUNDLED_TEST_ALPHABETS = List.of("Balinese", "Early_Aramaic", "Greek");
    /** The other five bundled alphabets: 172 characters, 688 classes with rotations. */
    public static final List<String> BUNDLED_TRAIN_ALPHABETS = List.of("Japanese_(katakana)", "Korean", "Latin",
            "Sanskrit", "Tagalog");

    /** One character: its drawings as rows of {@value #PIXELS} floats. */
    public record Character(String alphabet, String name, List<float[]> images) {
    }

    /** Characters grouped by alphabet, alphabets and characters in name order. */
    private final Map<String, Map<String, List<float[]>>> alphabets;

    /** The split folder (first path element) each alphabet was first read from. */
    private final Map<String, String> splits;
    private final String source;

    private Omniglot(Map<String, Map<String, List<float[]>>> alphabets, Map<String, String> splits, String source) {
        this.alphabets = alphabets;
        this.splits = splits;
        this.source = source;
    }

    /** The two bundled "background small" archives: 8 alphabets, 242 characters. */
    public static Omniglot bundled() {
        Map<String, Map<String, List<float[]>>> all = new TreeMap<>();
        Map<String, String> splits = new TreeMap<>();
        for (String archive : BUNDLED) {
            try (InputStream in = Omniglot.class.getResourceAsStream("/omniglot/" + archive)) {
                if (in == null) {
                    throw new IllegalStateException("/omniglot/" + archive + " is missing from the class path");
                }
                readZip(in, all, splits);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read bundled /omniglot/" + archive, e);
            }
        }
        return new Omniglot(all, splits, "bundled " + BUNDLED);
    }

    /**
     * Reads every {@code <split>/<Alphabet>/characterNN/*.png} under {@code root} (any number of
     * split folders, e.g. {@code images_background} and {@code images_evaluation}).
     *
     * @throws IllegalArgumentException if the folder holds no image in that layout
     * @throws UncheckedIOException naming the file that could not be read
     */
    public static Omniglot fromDirectory(Path root) {
        Map<String, Map<String, List<float[]>>> all = new TreeMap<>();
        Map<String, String> splits = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root, 4)) {
            for (Path png : files.filter(p -> p.toString().endsWith(".png")).sorted().toList()) {
                Path rel = root.relativize(png);
                if (rel.getNameCount() != 4) {
                    continue;
                }
                add(all, rel.getName(1).toString(), rel.getName(2).toString(), Files.readAllBytes(png), png.toString());
                splits.putIfAbsent(rel.getName(1).toString(), rel.getName(0).toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Omniglot folder " + root, e);
        }
        if (all.isEmpty()) {
            throw new IllegalArgumentException(root + " holds no <split>/<Alphabet>/<character>/*.png images");
        }
        return new Omniglot(all, splits, root.toAbsolutePath().toString());
    }

    private static void readZip(InputStream in, Map<String, Map<String, List<float[]>>> all,
            Map<String, String> splits) throws IOException {
        // Names sorted first so that the order of drawings never depends on the archive's order.
        Map<String, byte[]> entries = new TreeMap<>();
        try (ZipInputStream zip = new ZipInputStream(in)) {
            for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
                if (!e.isDirectory() && e.getName().endsWith(".png")) {
                    entries.put(e.getName(), zip.readAllBytes());
                }
            }
        }
        Map<String, Map<String, List<float[]>>> archive = new TreeMap<>();
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
            String[] parts = e.getKey().split("/");
            if (parts.length == 4) {
                add(archive, parts[1], parts[2], e.getValue(), e.getKey());
                splits.putIfAbsent(parts[1], parts[0]);
            }
        }
        archive.forEach((alphabet, chars) -> chars.forEach(
                (name, images) -> all.computeIfAbsent(alphabet, a -> new TreeMap<>()).putIfAbsent(name, images)));
    }

    private static void add(Map<String, Map<String, List<float[]>>> all, String alphabet, String character,
            byte[] png, String origin) throws IOException {
        all.computeIfAbsent(alphabet, a -> new TreeMap<>()).computeIfAbsent(character, c -> new ArrayList<>())
                .add(decode(png, origin));
    }

    /** The one conversion of a PNG to pixels, so a one-shot run's image equals a data set's. */
    private static float[] decode(byte[] png, String origin) throws IOException {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        if (image == null) {
            throw new IOException(origin + " is not a readable PNG");
        }
        return downscale(image);
    }

    /**
     * One Omniglot drawing read from a PNG file, converted exactly as this reader converts the
     * images of a data set ({@link #downscale}): for images kept outside the
     * {@code <split>/<Alphabet>/<character>} layout, such as Lake et al.'s one-shot runs.
     *
     * @throws UncheckedIOException naming the file if it cannot be read or is not a PNG
     */
    public static float[] readImage(Path png) {
        try {
            return decode(Files.readAllBytes(png), png.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Omniglot image " + png, e);
        }
    }

    /**
     * Area-averaged ink coverage on a {@value #SIZE}x{@value #SIZE} grid: each output pixel is the
     * mean ink of the source area it covers (3.75 x 3.75 pixels for 105x105), so thin strokes
     * survive as grey instead of vanishing as they would with point sampling.
     */
    static float[] downscale(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        float[] out = new float[PIXELS];
        double sx = (double) w / SIZE;
        double sy = (double) h / SIZE;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = image.getRGB(x, y);
                double ink = 1 - ((rgb >> 16 & 0xff) + (rgb >> 8 & 0xff) + (rgb & 0xff)) / (3 * 255.0);
                if (ink == 0) {
                    continue;
                }
                // The source pixel [x, x+1) spreads over the output cells it overlaps.
                for (int oy = (int) (y / sy); oy < SIZE && oy * sy < y + 1; oy++) {
                    double fy = Math.min(y + 1, (oy + 1) * sy) - Math.max(y, oy * sy);
                    for (int ox = (int) (x / sx); ox < SIZE && ox * sx < x + 1; ox++) {
                        double fx = Math.min(x + 1, (ox + 1) * sx) - Math.max(x, ox * sx);
                        out[oy * SIZE + ox] += (float) (ink * fx * fy / (sx * sy));
                    }
                }
            }
        }
        return out;
    }

    /** Alphabet names, sorted. */
    public List<String> alphabets() {
        return List.copyOf(alphabets.keySet());
    }

    /**
     * The characters of the named alphabets, in name order.
     *
     * @throws IllegalArgumentException naming an unknown alphabet and the known ones
     */
    public List<Character> characters(List<String> names) {
        List<Character> out = new ArrayList<>();
        for (String a : names) {
            Map<String, List<float[]>> chars = alphabets.get(a);
            if (chars == null) {
                throw new IllegalArgumentException("no alphabet '" + a + "' (have " + alphabets.keySet() + ")");
            }
            chars.forEach((name, images) -> out.add(new Character(a, name, Collections.unmodifiableList(images))));
        }
        return out;
    }

    /** Where the images came from: the bundled archives or a folder, for provenance. */
    public String source() {
        return source;
    }

    /**
     * The alphabets read from a split folder whose name contains {@code evaluation} (the full
     * data set's {@code images_evaluation}), the default test alphabets for a user folder.
     */
    public List<String> evaluationSplitAlphabets() {
        return splits.entrySet().stream().filter(e -> e.getValue().contains("evaluation")).map(Map.Entry::getKey)
                .toList();
    }

    /** Number of characters in each alphabet. */
    public Map<String, Integer> sizes() {
        Map<String, Integer> m = new TreeMap<>();
        alphabets.forEach((a, chars) -> m.put(a, chars.size()));
        return m;
    }
}

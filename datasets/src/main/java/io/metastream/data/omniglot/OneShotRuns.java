package io.metastream.data.omniglot;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The one-shot classification runs of Lake, Salakhutdinov and Tenenbaum (Science 2015): twenty
 * fixed 20-way 1-shot tasks on the evaluation alphabets, scored against people and a convnet in
 * the paper. A run is a folder with {@code training/} (one drawing per class), {@code test/}
 * (the drawings to classify) and {@code class_labels.txt}, whose lines pair a test image with the
 * training image of its class, e.g. {@code run01/test/item01.png run01/training/class08.png}.
 * Images are converted as {@link Omniglot} converts any drawing ({@link Omniglot#readImage}).
 */
public final class OneShotRuns {
    /** The file of a run that pairs each test image with its training image. */
    public static final String LABELS = "class_labels.txt";

    private OneShotRuns() {
    }

    /**
     * One run: its classes are its training images in file-name order, numbered from 0.
     *
     * @param trainingFiles the training images, relative to the run folder, class {@code i} at {@code i}
     * @param testFiles the test images, relative to the run folder, in the order of {@link #LABELS}
     * @param testClasses the class of each test image
     */
    public record Run(String name, List<String> trainingFiles, float[][] training, List<String> testFiles,
            float[][] test, int[] testClasses) {
        public int classes() {
            return training.length;
        }
    }

    /**
     * The run in {@code dir} if it holds {@link #LABELS}, else every sub-folder that does, in name
     * order ({@code run01} .. {@code run20} for the published set).
     *
     * @throws IllegalArgumentException if there is no run, or a run is malformed (the file and line named)
     * @throws UncheckedIOException naming a file that cannot be read
     */
    public static List<Run> read(Path dir) {
        if (Files.isRegularFile(dir.resolve(LABELS))) {
            return List.of(readRun(dir));
        }
        List<Path> runs;
        try (Stream<Path> children = Files.list(dir)) {
            runs = children.filter(p -> Files.isRegularFile(p.resolve(LABELS))).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list one-shot runs in " + dir, e);
        }
        if (runs.isEmpty()) {
            throw new IllegalArgumentException(dir + " holds no one-shot run: no " + LABELS + " in it or in a "
                    + "sub-folder");
        }
        return runs.stream().map(OneShotRuns::readRun).toList();
    }

    /**
     * One run folder.
     *
     * @throws IllegalArgumentException if a line of {@link #LABELS} does not name two images, names a
     *     test image twice, or a training image that is not in {@code training/}; or the run has fewer
     *     than two classes or no test image
     * @throws UncheckedIOException naming a file that cannot be read
     */
    public static Run readRun(Path run) {
        Path labels = run.resolve(LABELS);
        Map<String, Integer> classOf = new TreeMap<>();
        try (Stream<Path> files = Files.list(run.resolve("training"))) {
            files.filter(p -> p.toString().endsWith(".png")).map(p -> "training/" + p.getFileName()).sorted()
                    .forEach(f -> classOf.put(f, classOf.size()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + run.resolve("training"), e);
        }
        if (classOf.size() < 2) {
            throw new IllegalArgumentException(run.resolve("training") + " has " + classOf.size()
                    + " training images; a run needs at least two classes");
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(labels);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + labels, e);
        }
        List<String> testFiles = new ArrayList<>();
        List<Integer> testClasses = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] pair = line.split("\\s+");
            String where = labels + " line " + (i + 1);
            if (pair.length != 2) {
                throw new IllegalArgumentException(where + ": expected '<test image> <training image>', got '"
                        + line + "'");
            }
            String test = inRun(pair[0], where);
            Integer c = classOf.get(inRun(pair[1], where));
            if (c == null) {
                throw new IllegalArgumentException(where + ": " + pair[1] + " is not an image in "
                        + run.resolve("training"));
            }
            if (!seen.add(test)) {
                throw new IllegalArgumentException(where + ": test image " + pair[0] + " is labelled twice");
            }
            testFiles.add(test);
            testClasses.add(c);
        }
        if (testFiles.isEmpty()) {
            throw new IllegalArgumentException(labels + " pairs no test image with a training image");
        }
        List<String> trainingFiles = List.copyOf(classOf.keySet());
        return new Run(run.getFileName().toString(), trainingFiles, images(run, trainingFiles),
                List.copyOf(testFiles), images(run, testFiles),
                testClasses.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * The last two elements of a path in {@link #LABELS} ({@code test/item01.png}): the published
     * file names them from the folder above the run, which may have been renamed or moved.
     */
    private static String inRun(String path, String where) {
        String[] parts = path.replace('\\', '/').split("/");
        if (parts.length < 2 || !parts[parts.length - 1].endsWith(".png")) {
            throw new IllegalArgumentException(where + ": '" + path + "' is not <folder>/<image>.png");
        }
        return parts[parts.length - 2] + "/" + parts[parts.length - 1];
    }

    private static float[][] images(Path run, List<String> files) {
        float[][] out = new float[files.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = Omniglot.readImage(run.resolve(files.get(i)));
        }
        return out;
    }
}

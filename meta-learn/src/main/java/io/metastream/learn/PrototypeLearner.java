package io.metastream.learn;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.SequentialBlock;
import io.metastream.learn.omniglot.ConvEmbedding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The online side of a prototypical network (Snell, Swersky and Zemel 2017): adapting to a task is
 * embedding its support images and taking each class's mean embedding, its prototype (their
 * equation 1); a query's class probabilities are the softmax over its negative squared Euclidean
 * distances to the prototypes (equation 2). A task's state is its prototypes, class after class,
 * {@value ConvEmbedding#FILTERS} floats each, in the order of its class indices.
 *
 * <p>All support images of all tasks in one call go through the embedding together, as do all
 * queries, in native batches of {@value #IMAGES_PER_CALL}. Batch normalisation runs on its
 * running statistics, so an image's embedding does not depend on what it is batched with, and
 * prototypes computed here equal those of the offline evaluation up to float rounding.
 *
 * <p>The embedding of each base version is read once and kept (the last {@value #VERSIONS_KEPT}
 * versions, so a hot swap re-embeds lazily without reloading on every call).
 */
public final class PrototypeLearner extends NativeLearner {
    static final int IMAGES_PER_CALL = 256;
    static final int VERSIONS_KEPT = 2;
    private final Map<String, Loaded> blocks = new LinkedHashMap<>();
    /** The embedding file each cached block was read from. */
    private final Map<String, byte[]> loadedBytes = new LinkedHashMap<>();

    /** An embedding read into its own manager, closed when the version leaves the cache. */
    private record Loaded(NDManager manager, SequentialBlock block) {
    }

    public PrototypeLearner(Device device) {
        super(device);
    }

    @Override
    public boolean serves(BaseModel base) {
        return base.embeddingView() != null;
    }

    /**
     * @throws IllegalArgumentException if an image does not have the base's pixel count, or a
     *     task's class indices are not {@code 0 .. C-1} each with an example
     */
    @Override
    public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        long start = System.nanoTime();
        int d = ConvEmbedding.FILTERS;
        int images = 0;
        for (SampleSet s : supports) {
            images += s.size();
        }
        float[][] embedded = embed(base, supports.stream().map(SampleSet::features).toList(), images);
        List<TaskAdaptation> results = new ArrayList<>(supports.size());
        int row = 0;
        for (int t = 0; t < supports.size(); t++) {
            SampleSet s = supports.get(t);
            int classes = classCount(s, t);
            float[] prototypes = new float[classes * d];
            int[] counts = new int[classes];
            for (int k = 0; k < s.size(); k++) {
                int c = (int) s.targets()[k];
                counts[c]++;
                float[] e = embedded[row + k];
                for (int j = 0; j < d; j++) {
                    prototypes[c * d + j] += e[j];
                }
            }
            for (int c = 0; c < classes; c++) {
                for (int j = 0; j < d; j++) {
                    prototypes[c * d + j] /= counts[c];
                }
            }
            // The support's own cross-entropy under its prototypes, against log C for knowing nothing.
            double loss = 0;
            for (int k = 0; k < s.size(); k++) {
                float[] p = probabilities(embedded[row + k], prototypes, classes);
                loss -= Math.log(Math.max(p[(int) s.targets()[k]], Float.MIN_NORMAL));
            }
            float before = (float) Math.log(classes);
            float after = s.size() == 0 ? before : (float) (loss / s.size());
            results.add(new TaskAdaptation(prototypes, s.size(), before, after, false));
            row += s.size();
        }
        return new AdaptedBatch(results, (System.nanoTime() - start) / 1_000, device(), 0);
    }

    /**
     * Classes {@code 0 .. max}, each of which must have an example: so no index reaches the sample
     * count, which bounds what is allocated for them (a target of 1e9 is refused, not counted).
     */
    private static int classCount(SampleSet s, int task) {
        GradientLearner.checkClassIndices(s, task, s.size());
        int classes = 0;
        for (float y : s.targets()) {
            classes = Math.max(classes, (int) y + 1);
        }
        boolean[] seen = new boolean[classes];
        for (float y : s.targets()) {
            seen[(int) y] = true;
        }
        for (int c = 0; c < classes; c++) {
            if (!seen[c]) {
                throw new IllegalArgumentException("task " + task + " has no example of class " + c + " of " + classes);
            }
        }
        return classes;
    }

    @Override
    public float[][][] classify(BaseModel base, List<float[]> states, List<float[][]> queries, int[] classCounts) {
        if (states.size() != queries.size() || classCounts.length != queries.size()) {
            throw new IllegalArgumentException("states, queries and class counts differ in length: " + states.size()
                    + ", " + queries.size() + ", " + classCounts.length);
        }
        int d = ConvEmbedding.FILTERS;
        List<float[][]> asked = new ArrayList<>(queries.size());
        int images = 0;
        for (int t = 0; t < queries.size(); t++) {
            // A task without prototypes has nothing to be compared with: its images are not embedded.
            float[][] q = states.get(t) == null ? new float[0][] : queries.get(t);
            asked.add(q);
            images += q.length;
        }
        float[][] embedded = embed(base, asked, images);
        float[][][] out = new float[queries.size()][][];
        int row = 0;
        for (int t = 0; t < queries.size(); t++) {
            float[] prototypes = states.get(t);
            if (prototypes == null) {
                continue;
            }
            if (prototypes.length % d != 0 || classCounts[t] < 0 || classCounts[t] > prototypes.length / d) {
                throw new IllegalArgumentException("task " + t + " state has " + prototypes.length + " floats, not "
                        + classCounts[t] + " prototypes of " + d);
            }
            out[t] = new float[asked.get(t).length][];
            for (int k = 0; k < out[t].length; k++) {
                out[t][k] = probabilities(embedded[row + k], prototypes, classCounts[t]);
            }
            row += asked.get(t).length;
        }
        return out;
    }

    /** Per query the probability of its most likely class; NaN for a task without prototypes. */
    @Override
    public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
        int[] counts = new int[states.size()];
        for (int t = 0; t < counts.length; t++) {
            counts[t] = states.get(t) == null ? 0 : states.get(t).length / ConvEmbedding.FILTERS;
        }
        float[][][] p = classify(base, states, queries, counts);
        float[][] out = new float[queries.size()][];
        for (int t = 0; t < out.length; t++) {
            out[t] = new float[queries.get(t).length];
            for (int k = 0; k < out[t].length; k++) {
                out[t][k] = p[t] == null || counts[t] == 0 ? Float.NaN : p[t][k][ClassProbabilities.top(p[t][k])];
            }
        }
        return out;
    }

    /** Softmax over the negative squared distances of {@code e} to the first {@code classes} prototypes. */
    private static float[] probabilities(float[] e, float[] prototypes, int classes) {
        int d = e.length;
        float[] scores = new float[classes];
        for (int c = 0; c < classes; c++) {
            float sum = 0;
            for (int j = 0; j < d; j++) {
                float diff = e[j] - prototypes[c * d + j];
                sum += diff * diff;
            }
            scores[c] = -sum;
        }
        return ClassProbabilities.softmax(scores, 0, classes);
    }

    /** The embeddings of every image of {@code sets}, in order, in batches across sets. */
    private float[][] embed(BaseModel base, List<float[][]> sets, int images) {
        int pixels = base.inputDim();
        float[] all = new float[images * pixels];
        int at = 0;
        for (int t = 0; t < sets.size(); t++) {
            for (float[] x : sets.get(t)) {
                if (x.length != pixels) {
                    throw new IllegalArgumentException("task " + t + " has an image of " + x.length + " values, "
                            + base.version() + " reads " + pixels);
                }
                System.arraycopy(x, 0, all, at, pixels);
                at += pixels;
            }
        }
        if (images == 0) {
            return new float[0][];
        }
        DjlRuntime.configureCurrentThread();
        while (true) {
            Loaded loaded = block(base);
            // One forward at a time per block: DJL blocks are not documented as safe for concurrent
            // use. A block evicted between the lookup and the lock is looked up again.
            synchronized (loaded) {
                if (loaded.manager().isOpen()) {
                    try (NDManager scratch = scratch()) {
                        return ConvEmbedding.embed(loaded.block(), scratch, all, IMAGES_PER_CALL);
                    }
                }
            }
        }
    }

    private synchronized Loaded block(BaseModel base) {
        Loaded loaded = blocks.get(base.version());
        byte[] cachedBytes = loadedBytes.get(base.version());
        if (loaded != null && (cachedBytes == base.embeddingView() || Arrays.equals(cachedBytes, base.embeddingView()))) {
            return loaded;
        }
        if (loaded != null) {
            // Another artifact under the same version name (a test's store, a re-created store): reload.
            blocks.remove(base.version()).manager().close();
        }
        NDManager manager = scratch();
        try {
            loaded = new Loaded(manager, ConvEmbedding.read(manager, base.embeddingView()));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        blocks.put(base.version(), loaded);
        loadedBytes.put(base.version(), base.embeddingView());
        while (blocks.size() > VERSIONS_KEPT) {
            String oldest = blocks.keySet().iterator().next();
            // A call still embedding with it holds its lock; closing waits for that call.
            Loaded evicted = blocks.remove(oldest);
            loadedBytes.remove(oldest);
            synchronized (evicted) {
                evicted.manager().close();
            }
        }
        return loaded;
    }
}

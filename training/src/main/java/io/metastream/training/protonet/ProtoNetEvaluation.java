package io.metastream.training.protonet;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import io.metastream.data.omniglot.EpisodeSampler;
import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.Evaluation;
import io.metastream.learn.omniglot.ConvEmbedding;
import io.metastream.learn.omniglot.PrototypeMath;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * N-way K-shot accuracy of a trained embedding on test characters, within alphabets and without
 * rotations, as mean and 95% confidence half-width over tasks ({@link Evaluation.Estimate}).
 * Batch norm is in inference mode, so an image's embedding does not depend on its episode: every
 * test drawing is embedded once, and the episodes then only gather rows (fast enough for
 * thousands of tasks on a CPU).
 */
public final class ProtoNetEvaluation {
    private static final int TASKS_PER_CALL = 50;

    private ProtoNetEvaluation() {
    }

    /**
     * @param parameters a {@link ConvEmbedding} file
     * @param seed the same seed draws the same tasks
     * @throws IllegalArgumentException if no test alphabet has {@code ways} characters
     */
    public static Evaluation.Estimate evaluate(byte[] parameters, List<Omniglot.Character> test, int ways, int shots,
            int queries, int tasks, long seed, Device device) {
        EpisodeSampler sampler = new EpisodeSampler(test, false);
        double[] accuracy = new double[tasks];
        try (NDManager manager = NDManager.newBaseManager(device)) {
            SequentialBlock block = ConvEmbedding.read(manager, parameters);
            Map<Omniglot.Character, float[][]> embedded = new IdentityHashMap<>();
            for (Omniglot.Character c : test) {
                float[] pixels = new float[c.images().size() * Omniglot.PIXELS];
                for (int i = 0; i < c.images().size(); i++) {
                    System.arraycopy(c.images().get(i), 0, pixels, i * Omniglot.PIXELS, Omniglot.PIXELS);
                }
                embedded.put(c, ConvEmbedding.embed(block, manager, pixels, 256));
            }
            Random random = new Random(seed);
            int d = ConvEmbedding.FILTERS;
            for (int from = 0; from < tasks; from += TASKS_PER_CALL) {
                int n = Math.min(TASKS_PER_CALL, tasks - from);
                float[] s = new float[n * ways * shots * d];
                float[] q = new float[n * ways * queries * d];
                for (int t = 0; t < n; t++) {
                    EpisodeSampler.Episode e = sampler.sample(random, ways, shots, queries);
                    for (int c = 0; c < ways; c++) {
                        float[][] rows = embedded.get(e.classes().get(c).character());
                        for (int k = 0; k < shots; k++) {
                            System.arraycopy(rows[e.support()[c][k]], 0, s, ((t * ways + c) * shots + k) * d, d);
                        }
                        for (int k = 0; k < queries; k++) {
                            System.arraycopy(rows[e.query()[c][k]], 0, q, ((t * ways + c) * queries + k) * d, d);
                        }
                    }
                }
                try (NDManager scratch = manager.newSubManager()) {
                    NDArray protos = PrototypeMath.prototypes(
                            scratch.create(s, new Shape(n, (long) ways * shots, d)), ways, shots);
                    NDArray logits = PrototypeMath.logits(scratch.create(q, new Shape(n, (long) ways * queries, d)),
                            protos);
                    float[] acc = PrototypeMath.accuracy(logits, queries);
                    for (int t = 0; t < n; t++) {
                        accuracy[from + t] = acc[t];
                    }
                }
            }
        }
        return Evaluation.Estimate.of(accuracy);
    }
}

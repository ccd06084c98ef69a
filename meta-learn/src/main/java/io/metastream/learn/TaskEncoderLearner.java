package io.metastream.learn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The model-based learner: adaptation is one forward pass, with no gradient steps. An encoder MLP
 * maps each support point {@code [x, y]} to a vector {@code r}; the task embedding is the mean of
 * the {@code r}, so it does not depend on the order of the points, and a task with no points gets
 * the zero vector (the cold embedding, which meta-training covers). The decoder MLP predicts from
 * {@code [x, embedding]}. This is the deterministic conditional neural process of Garnelo et al.,
 * "Conditional Neural Processes", ICML 2018. The adapted state of a task is its embedding.
 *
 * <p>With a {@link AdaptationSettings#supportPrior() support prior} {@code k} in the base's
 * settings the mean is taken over {@code n + k} points, {@code k} of them at the cold embedding:
 * a task's embedding then moves from the cold one as a shrunk mean does, little after one point
 * (a user's first rating says little), and the decoder can read how much the task has shown. The
 * base's {@link AdaptationSettings#loss() loss} gives the link of its predictions.
 *
 * <p>Owns one root {@link NDManager}; each call works in its own sub-manager, closed before the
 * call returns. Thread-safe.
 */
public final class TaskEncoderLearner extends NativeLearner {
    /** @param device where to compute; {@link DjlRuntime#defaultDevice()} picks a GPU when present */
    public TaskEncoderLearner(Device device) {
        super(device);
    }

    /**
     * Embeds each support set. {@code settings} are ignored: there are no inner steps. The support
     * losses before and after are the decoder's with the cold and with the task's embedding. A task
     * whose embedding or support loss with it is not finite falls back to the cold embedding.
     *
     * @throws IllegalArgumentException if {@code base} has no task encoder or a feature vector has
     *     the wrong length
     */
    @Override
    public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        long start = System.nanoTime();
        requireEncoder(base);
        DjlRuntime.configureCurrentThread();
        List<TaskAdaptation> results = new ArrayList<>(supports.size());
        if (!supports.isEmpty()) {
            try (NDManager scratch = scratch()) {
                AdaptationSettings a = base.adaptation();
                TaskBatch batch = TaskBatch.of(scratch, supports, base.inputDim(), a.supportPrior());
                List<NDArray> encoder = rows(scratch, base.encoderArchitecture(), base.encoderParametersView());
                List<NDArray> decoder = rows(scratch, base.architecture(), base.parametersView());
                NDArray z = embed(encoder, batch.x, batch.y, batch.w);
                NDArray cold = scratch.zeros(z.getShape());
                float[] before = MlpMath.loss(decoder, decoderInput(batch.x, cold), batch.y, batch.w, a.loss())
                        .toFloatArray();
                float[] after = MlpMath.loss(decoder, decoderInput(batch.x, z), batch.y, batch.w, a.loss())
                        .toFloatArray();
                float[] all = z.toFloatArray();
                int r = base.embeddingDim();
                for (int t = 0; t < batch.tasks; t++) {
                    float[] embedding = Arrays.copyOfRange(all, t * r, (t + 1) * r);
                    // An extreme support point (y = 3e38) overflows the encoder, and the mean is
                    // NaN or huge: keep the cold embedding then, the base's own answer.
                    if (Float.isFinite(after[t]) && Finite.all(embedding)) {
                        results.add(new TaskAdaptation(embedding, supports.get(t).size(), before[t], after[t], false));
                    } else {
                        results.add(new TaskAdaptation(new float[r], supports.get(t).size(), before[t], before[t], true));
                    }
                }
            }
        }
        return new AdaptedBatch(results, (System.nanoTime() - start) / 1_000, device(), 0);
    }

    /**
     * Predicts with each task's embedding, or with the cold (zero) embedding where the state is
     * {@code null}.
     *
     * @throws IllegalArgumentException if a state is not an embedding of the base's length
     */
    @Override
    public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
        requireEncoder(base);
        if (states.size() != queries.size()) {
            throw new IllegalArgumentException("states and queries differ in length: " + states.size() + " vs "
                    + queries.size());
        }
        int tasks = queries.size();
        float[][] out = new float[tasks][];
        if (tasks == 0) {
            return out;
        }
        int r = base.embeddingDim();
        float[] embeddings = new float[tasks * r];
        List<SampleSet> asSets = new ArrayList<>(tasks);
        for (int t = 0; t < tasks; t++) {
            float[] state = states.get(t);
            if (state != null) {
                if (state.length != r) {
                    throw new IllegalArgumentException("state " + t + " has " + state.length + " floats, the task "
                            + "embedding of " + base.version() + " has " + r);
                }
                System.arraycopy(state, 0, embeddings, t * r, r);
            }
            asSets.add(new SampleSet(queries.get(t), new float[queries.get(t).length]));
        }
        DjlRuntime.configureCurrentThread();
        try (NDManager scratch = scratch()) {
            TaskBatch batch = TaskBatch.of(scratch, asSets, base.inputDim());
            List<NDArray> decoder = rows(scratch, base.architecture(), base.parametersView());
            NDArray z = scratch.create(embeddings, new Shape(tasks, 1, r));
            float[] flat = MlpMath.forward(decoder, decoderInput(batch.x, z)).toFloatArray();
            int width = (int) batch.x.getShape().get(1);
            Loss loss = base.adaptation().loss();
            for (int t = 0; t < tasks; t++) {
                out[t] = Arrays.copyOfRange(flat, t * width, t * width + queries.get(t).length);
                for (int k = 0; k < out[t].length; k++) {
                    out[t][k] = loss.link(out[t][k]);
                }
            }
        }
        return out;
    }

    private static void requireEncoder(BaseModel base) {
        if (base.encoderArchitecture() == null) {
            throw new IllegalArgumentException(base.version() + " (" + base.learner() + ") has no task encoder");
        }
    }

    /** One parameter row {@code [1, P]} in {@code manager}, unpacked. */
    private static List<NDArray> rows(NDManager manager, MlpArchitecture arch, float[] params) {
        return MlpMath.unpack(manager.create(params, new Shape(1, params.length)), arch);
    }

    /**
     * Task embeddings {@code [T, 1, R]}: the mean of the encoder's outputs over each task's real
     * rows (the weights {@code w} are {@code 1/(n + prior)} there and 0 on padding), 0 for an empty
     * task.
     */
    static NDArray embed(List<NDArray> encoder, NDArray x, NDArray y, NDArray w) {
        return MlpMath.forward(encoder, x.concat(y, 2)).mul(w).sum(new int[] {1}, true);
    }

    /** The decoder's input {@code [T, K, d + R]}: each row of {@code x} with its task's embedding. */
    static NDArray decoderInput(NDArray x, NDArray z) {
        Shape s = x.getShape();
        return x.concat(z.broadcast(new Shape(s.get(0), s.get(1), z.getShape().get(2))), 2);
    }
}

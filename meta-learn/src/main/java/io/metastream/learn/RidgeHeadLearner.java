package io.metastream.learn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ANIL with a closed-form head, in the manner of R2-D2 (Bertinetto, Henriques, Torr and Vedaldi,
 * "Meta-learning with differentiable closed-form solvers", ICLR 2019): the body (every layer but
 * the last) stays the base's, and the last layer is the ridge-regression solution on the body's
 * features of the support set, shrunk towards the base's own last layer:
 * <pre>
 *   W = argmin ||[h, 1] W - y||^2 + lambda ||W - W0||^2 = (Phi'Phi + lambda I)^-1 (Phi'y + lambda W0)
 * </pre>
 * with {@code Phi = [h, 1]} over the support points (a sum, not a mean, so more points weigh more
 * against the prior) and {@code lambda = }{@value #LAMBDA}, or the base's
 * {@link AdaptationSettings#supportPrior() support prior} where it has one ({@link #lambda}). The
 * regulariser's scale is learned through the body: scaling the last hidden layer scales the
 * features against a fixed lambda; the intercept's column is 1, so lambda alone shrinks it. An
 * empty support set gives {@code W0}, so a cold task gets the base. Meta-training
 * ({@link MetaTrainer.Algorithm#ANIL_RIDGE}) differentiates the query loss through the solve.
 *
 * <p>The adapted state of a task is its head, in the layout of the last layer's slice of the
 * parameter vector (weights {@code [h, o]} row-major, then the bias {@code [o]}). Owns one root
 * {@link NDManager}; each call works in its own sub-manager, closed before it returns. Thread-safe.
 */
public final class RidgeHeadLearner extends NativeLearner {
    /** The ridge penalty towards the base's head (fixed; the body learns the features' scale). */
    public static final float LAMBDA = 1f;

    /**
     * The ridge penalty of a base with {@code settings}: its support prior, pseudo-points at the
     * base's head (a recommender's user bias needs several: one rating says little), or
     * {@value #LAMBDA} where it has none.
     */
    public static float lambda(AdaptationSettings settings) {
        return settings.supportPrior() > 0 ? settings.supportPrior() : LAMBDA;
    }

    /** @param device where to compute; {@link DjlRuntime#defaultDevice()} picks a GPU when present */
    public RidgeHeadLearner(Device device) {
        super(device);
    }

    /**
     * Solves each task's head; {@code settings} are ignored (no inner steps). The support losses are
     * the base's and the adapted network's MSE on the support set. A task whose head or support loss
     * after the solve is not finite falls back to the base's head.
     */
    @Override
    public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        long start = System.nanoTime();
        DjlRuntime.configureCurrentThread();
        MlpArchitecture arch = base.architecture();
        List<TaskAdaptation> results = new ArrayList<>(supports.size());
        if (!supports.isEmpty()) {
            try (NDManager scratch = scratch()) {
                TaskBatch batch = TaskBatch.of(scratch, supports, arch.inputDim());
                List<NDArray> theta = MlpMath.unpack(GradientLearner.baseRows(scratch, base, 1), arch);
                NDArray head = solveHead(theta, batch.x, batch.y, batch.w, lambda(base.adaptation()));
                List<NDArray> phi = withHead(theta, head);
                float[] before = MlpMath.loss(theta, batch.x, batch.y, batch.w).toFloatArray();
                float[] after = MlpMath.loss(phi, batch.x, batch.y, batch.w).toFloatArray();
                float[] all = head.toFloatArray();
                int size = headSize(arch);
                float[] params = base.parametersView();
                for (int t = 0; t < batch.tasks; t++) {
                    float[] solved = Arrays.copyOfRange(all, t * size, (t + 1) * size);
                    // An extreme support point (x = 1e30, y = 3e38) overflows the Gram matrix or
                    // the right-hand side in float32, and the solve returns NaN or a huge head:
                    // keep the base's head then, as for an empty support set.
                    if (Float.isFinite(after[t]) && Finite.all(solved)) {
                        results.add(new TaskAdaptation(solved, supports.get(t).size(), before[t], after[t], false));
                    } else {
                        results.add(new TaskAdaptation(Arrays.copyOfRange(params, params.length - size, params.length),
                                supports.get(t).size(), before[t], before[t], true));
                    }
                }
            }
        }
        return new AdaptedBatch(results, (System.nanoTime() - start) / 1_000, device(), 0);
    }

    /**
     * Predicts with each task's head, or the base's own where the state is {@code null}.
     *
     * @throws IllegalArgumentException if a state is not a head of the base's last layer
     */
    @Override
    public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
        if (states.size() != queries.size()) {
            throw new IllegalArgumentException("states and queries differ in length: " + states.size() + " vs "
                    + queries.size());
        }
        MlpArchitecture arch = base.architecture();
        int tasks = queries.size();
        float[][] out = new float[tasks][];
        if (tasks == 0) {
            return out;
        }
        int size = headSize(arch);
        float[] params = base.parametersView();
        float[] heads = new float[tasks * size];
        List<SampleSet> asSets = new ArrayList<>(tasks);
        for (int t = 0; t < tasks; t++) {
            float[] state = states.get(t);
            if (state != null && state.length != size) {
                throw new IllegalArgumentException("state " + t + " has " + state.length + " floats, the head of "
                        + arch + " has " + size);
            }
            System.arraycopy(state == null ? params : state, state == null ? params.length - size : 0, heads,
                    t * size, size);
            asSets.add(new SampleSet(queries.get(t), new float[queries.get(t).length]));
        }
        DjlRuntime.configureCurrentThread();
        try (NDManager scratch = scratch()) {
            TaskBatch batch = TaskBatch.of(scratch, asSets, arch.inputDim());
            List<NDArray> theta = MlpMath.unpack(GradientLearner.baseRows(scratch, base, 1), arch);
            NDArray head = scratch.create(heads, new Shape(tasks, arch.fanIn(arch.depth() - 1) + 1, arch.outputDim()));
            float[] flat = MlpMath.forward(withHead(theta, head), batch.x).toFloatArray();
            int width = (int) batch.x.getShape().get(1);
            for (int t = 0; t < tasks; t++) {
                out[t] = Arrays.copyOfRange(flat, t * width, t * width + queries.get(t).length);
            }
        }
        return out;
    }

    /** Floats in a head: the last layer's weights and bias. */
    static int headSize(MlpArchitecture arch) {
        int last = arch.depth() - 1;
        return (arch.fanIn(last) + 1) * arch.fanOut(last);
    }

    /**
     * The ridge heads {@code [T, h + 1, o]} (weights, then the bias as the last row) of the tasks in
     * {@code x, y} (padding rows, where {@code w} is 0, do not count), for the parameters
     * {@code theta} (task axis 1 or T). Differentiable: no Java-number operand touches anything
     * that depends on {@code theta}.
     */
    static NDArray solveHead(List<NDArray> theta, NDArray x, NDArray y, NDArray w, float lambda) {
        int last = theta.size() / 2 - 1;
        NDArray mask = w.gt(0f).toType(DataType.FLOAT32, false);
        NDArray features = MlpMath.hidden(theta, x).mul(mask).concat(mask, 2);
        NDArray transposed = features.transpose(0, 2, 1);
        NDArray prior = theta.get(2 * last).concat(theta.get(2 * last + 1), 1);
        long n = features.getShape().get(2);
        // lambda as a tensor of this call's manager, not a Java number: the prior depends on theta,
        // and autograd must not keep a scalar operand that DJL frees right after the op.
        NDArray penalty = x.getManager().eye((int) n).mul(lambda);
        NDArray gram = transposed.matMul(features).add(penalty);
        NDArray rhs = transposed.matMul(y.mul(mask)).add(penalty.matMul(prior));
        return gram.inverse().matMul(rhs);
    }

    /** {@code theta} with its last layer replaced by the per-task {@code heads [T, h + 1, o]}. */
    static List<NDArray> withHead(List<NDArray> theta, NDArray heads) {
        long h = heads.getShape().get(1) - 1;
        List<NDArray> out = new ArrayList<>(theta.subList(0, theta.size() - 2));
        out.add(heads.get(new NDIndex(":, 0:{}, :", h)));
        out.add(heads.get(new NDIndex(":, {}:, :", h)));
        return out;
    }

    /**
     * Mean over tasks of the query loss of {@code settings} after solving each task's head on its
     * support set with their lambda. The solve is squared error whatever the loss is: meta-training
     * with the absolute error
     * teaches the body features whose least-squares head lands near the query's median.
     */
    static NDArray queryLoss(List<NDArray> theta, TaskBatch support, TaskBatch query, AdaptationSettings settings) {
        List<NDArray> phi = withHead(theta, solveHead(theta, support.x, support.y, support.w, lambda(settings)));
        return MlpMath.loss(phi, query.x, query.y, query.w, settings.loss()).mean();
    }
}

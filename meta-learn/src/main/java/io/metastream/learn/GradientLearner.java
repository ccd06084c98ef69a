package io.metastream.learn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Adaptation by a few SGD steps from the base, batched over tasks: the online half of MAML,
 * first-order MAML, Reptile, Meta-SGD, ANIL and the fine-tuning baseline (they differ only in how
 * the base was trained and in the base's per-parameter step sizes, if any): every
 * {@link LearnerKind#takesInnerSteps()} kind. Owns one root
 * {@link NDManager}; each call works in its own sub-manager, closed before the call returns.
 */
public final class GradientLearner extends NativeLearner {
    /** @param device where to compute; {@link DjlRuntime#defaultDevice()} picks a GPU when present */
    public GradientLearner(Device device) {
        super(device);
    }

    /**
     * A batch pads every support set to the largest one, so support sets of very different sizes
     * (a recommender's users: 1 to 100 ratings) are adapted in groups whose largest set is at most
     * this many times the smallest, or {@link #GROUP_PADDING} rows more, whichever is larger: the
     * arithmetic wasted on padding stays bounded, and small sets (where a native call costs more
     * than the padding) still share one call.
     */
    static final double GROUP_SIZE_RATIO = 1.5;
    static final int GROUP_PADDING = 16;

    /**
     * @throws IllegalArgumentException if a feature vector does not match the base's input size,
     *     or, for a base that {@link BaseModel#classifies()}, a target is not a class index below
     *     its {@link BaseModel#maxClasses()} (the cross-entropy of an index past the last output
     *     would be silently 0)
     */
    @Override
    public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        long start = System.nanoTime();
        if (settings.loss().classifies()) {
            for (int t = 0; t < supports.size(); t++) {
                checkClassIndices(supports.get(t), t, base.architecture().outputDim());
            }
        }
        DjlRuntime.configureCurrentThread();
        Integer[] order = new Integer[supports.size()];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, Comparator.comparingInt(i -> supports.get(i).size()));
        TaskAdaptation[] results = new TaskAdaptation[supports.size()];
        int from = 0;
        while (from < order.length) {
            int smallest = supports.get(order[from]).size();
            double largest = Math.max(smallest * GROUP_SIZE_RATIO, smallest + GROUP_PADDING);
            int to = from + 1;
            while (to < order.length && supports.get(order[to]).size() <= largest) {
                to++;
            }
            List<SampleSet> group = new ArrayList<>(to - from);
            for (int k = from; k < to; k++) {
                group.add(supports.get(order[k]));
            }
            List<TaskAdaptation> adapted = adaptGroup(base, group, settings);
            for (int k = from; k < to; k++) {
                results[order[k]] = adapted.get(k - from);
            }
            from = to;
        }
        long micros = (System.nanoTime() - start) / 1_000;
        return new AdaptedBatch(Arrays.asList(results), micros, device(), settings.steps());
    }

    /**
     * The one check of class-index targets, shared with {@link PrototypeLearner}.
     *
     * @throws IllegalArgumentException naming {@code task} if a target is not an integer in
     *     {@code 0 .. classes-1}
     */
    static void checkClassIndices(SampleSet set, int task, int classes) {
        for (float y : set.targets()) {
            if (!(y >= 0 && y < classes && y == Math.rint(y))) {
                throw new IllegalArgumentException("task " + task + " has target " + y + ", not a class index in 0.."
                        + (classes - 1));
            }
        }
    }

    /**
     * Whether every step size before the last layer is 0 (ANIL): only the head moves. The one
     * test of head-only adaptation, for serving here and for meta-training
     * ({@link SecondOrderGradient}), so that both take the same shortcut for the same base.
     */
    static boolean bodyIsFixed(float[] alpha, MlpArchitecture arch) {
        if (arch.depth() < 2) {
            return false;
        }
        int head = MetaTrainer.headOffset(arch);
        for (int i = 0; i < head; i++) {
            if (alpha[i] != 0f) {
                return false;
            }
        }
        return true;
    }

    /** One batched call for support sets of similar sizes. */
    private List<TaskAdaptation> adaptGroup(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        MlpArchitecture arch = base.architecture();
        List<TaskAdaptation> results = new ArrayList<>(supports.size());
        try (NDManager scratch = scratch()) {
            TaskBatch batch = TaskBatch.of(scratch, supports, arch.inputDim(), settings.supportPrior());
            List<NDArray> theta = MlpMath.unpack(baseRows(scratch, base, 1), arch);
            float[] alpha = base.stepSizesFor(settings);
            NDArray lossBefore;
            NDArray lossAfter = null;
            List<NDArray> phi;
            if (alpha == null) {
                MlpMath.Descent descent = MlpMath.descend(theta, batch.x, batch.y, batch.w, settings.steps(),
                        settings.stepSize(), settings.loss(), settings.innerStep());
                lossBefore = descent.lossBefore();
                phi = descent.params();
            } else {
                List<NDArray> alphas = MlpMath.unpack(scratch.create(alpha, new Shape(1, alpha.length)), arch);
                // An ANIL base never moves its body: its head adapts alone, a one-layer network
                // over the body's features, computed once instead of at every step.
                int body = bodyIsFixed(alpha, arch) ? theta.size() - 2 : 0;
                NDArray x = body == 0 ? batch.x : MlpMath.hidden(theta, batch.x);
                List<NDArray> moving = theta.subList(body, theta.size());
                lossBefore = MlpMath.loss(moving, x, batch.y, batch.w, settings.loss());
                List<NDArray> moved = MlpMath.sgd(moving, alphas.subList(body, alphas.size()), x, batch.y, batch.w,
                        settings.steps(), settings.loss(), settings.innerStep());
                lossAfter = MlpMath.loss(moved, x, batch.y, batch.w, settings.loss());
                phi = new ArrayList<>(theta.subList(0, body));
                phi.addAll(moved);
            }
            if (lossAfter == null) {
                lossAfter = MlpMath.loss(phi, batch.x, batch.y, batch.w, settings.loss());
            }
            // With zero steps phi is the un-broadcast base; rows gives every task its own row.
            float[][] all = MlpMath.rows(phi, batch.tasks, arch.parameterCount());
            float[] before = lossBefore.toFloatArray();
            float[] after = lossAfter.toFloatArray();
            for (int t = 0; t < batch.tasks; t++) {
                // Never hand out an adaptation that fits its own support set worse than the
                // base does: SGD overshoots on some tiny support sets, and a diverged state
                // would answer every later query of the task with garbage. Nor one whose loss or
                // weights are not finite: an extreme sample (a target of 3e38) overflows the
                // loss of base and state alike (inf <= inf), and such a state would be stored.
                float[] adapted = all[t];
                boolean fallBack = !(after[t] <= before[t]) || !Float.isFinite(after[t]) || !Finite.all(adapted);
                results.add(new TaskAdaptation(fallBack ? base.parameters() : adapted, supports.get(t).size(),
                        before[t], fallBack ? before[t] : after[t], fallBack));
            }
        }
        return results;
    }

    /**
     * The prediction per query: the loss's link of the network's one output, or, for a base that
     * {@link BaseModel#classifies()}, the probability of the most likely of all its classes (as a
     * protonet's {@code predict} answers; {@link #classify} gives every class, over the classes a
     * task has).
     */
    @Override
    public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
        MlpArchitecture arch = base.architecture();
        float[] rows = stateRows(base, states, queries);
        int tasks = queries.size();
        if (tasks == 0) {
            return new float[0][];
        }
        if (arch.outputDim() == 1 && multiplyAdds(arch, queries) <= PLAIN_JAVA_MAX_MULTIPLY_ADDS) {
            return predictInJava(arch, rows, queries, base.adaptation().loss());
        }
        float[][] outputs = forward(base, rows, queries);
        float[][] out = new float[tasks][];
        Loss loss = base.adaptation().loss();
        int width = arch.outputDim();
        for (int t = 0; t < tasks; t++) {
            out[t] = new float[queries.get(t).length];
            for (int k = 0; k < out[t].length; k++) {
                if (loss.classifies()) {
                    float[] p = ClassProbabilities.softmax(outputs[t], k * width, width);
                    out[t][k] = p[ClassProbabilities.top(p)];
                } else {
                    out[t][k] = loss.link(outputs[t][k * width]);
                }
            }
        }
        return out;
    }

    /**
     * The softmax over the first {@code classCounts[t]} logits of the network's N outputs, per
     * query, from one batched forward pass for all tasks; a {@code null} state answers with the
     * base's own parameters (a softmax head has an answer before any support set, unlike a
     * protonet).
     *
     * @throws IllegalArgumentException if the base does not classify, the lists differ in length, a
     *     class count is outside {@code 0 .. maxClasses()}, or a state or query has the wrong size
     */
    @Override
    public float[][][] classify(BaseModel base, List<float[]> states, List<float[][]> queries, int[] classCounts) {
        if (!base.classifies()) {
            throw new IllegalArgumentException(base + " does not classify: it was trained with loss "
                    + base.adaptation().loss().id());
        }
        if (classCounts.length != queries.size()) {
            throw new IllegalArgumentException("queries and class counts differ in length: " + queries.size()
                    + " vs " + classCounts.length);
        }
        int width = base.architecture().outputDim();
        for (int t = 0; t < classCounts.length; t++) {
            if (classCounts[t] < 0 || classCounts[t] > width) {
                throw new IllegalArgumentException("task " + t + " has " + classCounts[t] + " classes, "
                        + base.version() + " has " + width + " outputs");
            }
        }
        float[] rows = stateRows(base, states, queries);
        float[][][] out = new float[queries.size()][][];
        if (queries.isEmpty()) {
            return out;
        }
        float[][] outputs = forward(base, rows, queries);
        for (int t = 0; t < out.length; t++) {
            out[t] = new float[queries.get(t).length][];
            for (int k = 0; k < out[t].length; k++) {
                out[t][k] = ClassProbabilities.softmax(outputs[t], k * width, classCounts[t]);
            }
        }
        return out;
    }

    /**
     * Every task's parameters, its state or else the base's, as one flat {@code [T * P]} block.
     *
     * @throws IllegalArgumentException if the lists differ in length or a state has the wrong size
     */
    private static float[] stateRows(BaseModel base, List<float[]> states, List<float[][]> queries) {
        if (states.size() != queries.size()) {
            throw new IllegalArgumentException("states and queries differ in length: " + states.size()
                    + " vs " + queries.size());
        }
        MlpArchitecture arch = base.architecture();
        int p = arch.parameterCount();
        float[] rows = new float[queries.size() * p];
        for (int t = 0; t < queries.size(); t++) {
            float[] state = states.get(t) == null ? base.parametersView() : states.get(t);
            if (state.length != p) {
                throw new IllegalArgumentException("state " + t + " has " + state.length + " floats, "
                        + arch + " needs " + p);
            }
            System.arraycopy(state, 0, rows, t * p, p);
        }
        return rows;
    }

    /**
     * The network's raw outputs for every query of every task, in one batched {@link MlpMath#forward}:
     * per task {@code K_t * N} floats, query after query.
     */
    private float[][] forward(BaseModel base, float[] rows, List<float[][]> queries) {
        MlpArchitecture arch = base.architecture();
        int tasks = queries.size();
        List<SampleSet> asSets = new ArrayList<>(tasks);
        for (float[][] q : queries) {
            asSets.add(new SampleSet(q, new float[q.length]));
        }
        DjlRuntime.configureCurrentThread();
        try (NDManager scratch = scratch()) {
            TaskBatch batch = TaskBatch.of(scratch, asSets, arch.inputDim());
            List<NDArray> params = MlpMath.unpack(scratch.create(rows, new Shape(tasks, arch.parameterCount())), arch);
            float[] flat = MlpMath.forward(params, batch.x).toFloatArray();
            int perTask = (int) batch.x.getShape().get(1) * arch.outputDim();
            float[][] out = new float[tasks][];
            for (int t = 0; t < tasks; t++) {
                out[t] = Arrays.copyOfRange(flat, t * perTask, t * perTask + queries.get(t).length * arch.outputDim());
            }
            return out;
        }
    }

    /**
     * Predictions of at most this many multiply-adds in all are computed in plain Java loops: a
     * DJL forward pass costs about 20 native ops, some 100 µs of one core whatever its size, against
     * about 2 µs for one query of the 1-40-40-1 sinusoid network in Java. That fixed cost was 30% of
     * the task API's CPU per predict request (docs/BENCHMARKS.md, "The HTTP predict path"); it is
     * also what a small micro-batch of queries pays. Above this size the batched matmuls win.
     */
    static final long PLAIN_JAVA_MAX_MULTIPLY_ADDS = 1L << 16;

    private static long multiplyAdds(MlpArchitecture arch, List<float[][]> queries) {
        long perRow = 0;
        for (int l = 0; l < arch.depth(); l++) {
            perRow += (long) arch.fanIn(l) * arch.fanOut(l);
        }
        long total = 0;
        for (float[][] q : queries) {
            total += q.length * perRow;
        }
        return total;
    }

    /**
     * {@link MlpMath#forward} and the loss's link for every query row, in float arithmetic over the
     * packed rows ({@link MlpMath#pack}'s layout: per layer {@code W [in, out]} row-major, then
     * {@code b [out]}); ReLU on every layer but the last, which has one output. The sums run in
     * another order than libtorch's, so results agree with the batched path to float rounding.
     *
     * @throws IllegalArgumentException if a query row's length is not the network's input size
     */
    private static float[][] predictInJava(MlpArchitecture arch, float[] rows, List<float[][]> queries, Loss loss) {
        int p = arch.parameterCount();
        int widest = 0;
        for (int l = 0; l < arch.depth(); l++) {
            widest = Math.max(widest, Math.max(arch.fanIn(l), arch.fanOut(l)));
        }
        float[] in = new float[widest];
        float[] out = new float[widest];
        float[][] answers = new float[queries.size()][];
        for (int t = 0; t < queries.size(); t++) {
            float[][] q = queries.get(t);
            answers[t] = new float[q.length];
            for (int k = 0; k < q.length; k++) {
                if (q[k].length != arch.inputDim()) {
                    throw new IllegalArgumentException("task " + t + " row " + k + " has " + q[k].length
                            + " features, the model takes " + arch.inputDim());
                }
                System.arraycopy(q[k], 0, in, 0, q[k].length);
                int offset = t * p;
                float[] a = in;
                float[] z = out;
                for (int l = 0; l < arch.depth(); l++) {
                    int fanIn = arch.fanIn(l);
                    int fanOut = arch.fanOut(l);
                    int bias = offset + fanIn * fanOut;
                    for (int j = 0; j < fanOut; j++) {
                        z[j] = 0f;
                    }
                    for (int i = 0; i < fanIn; i++) {
                        float ai = a[i];
                        int w = offset + i * fanOut;
                        for (int j = 0; j < fanOut; j++) {
                            z[j] += ai * rows[w + j];
                        }
                    }
                    boolean hidden = l < arch.depth() - 1;
                    for (int j = 0; j < fanOut; j++) {
                        float v = z[j] + rows[bias + j];
                        z[j] = hidden ? Math.max(v, 0f) : v;
                    }
                    offset = bias + fanOut;
                    float[] swap = a;
                    a = z;
                    z = swap;
                }
                answers[t][k] = loss.link(a[0]);
            }
        }
        return answers;
    }

    /** The base parameters as {@code rows} identical rows {@code [rows, P]} in {@code manager}. */
    static NDArray baseRows(NDManager manager, BaseModel base, int rows) {
        float[] params = base.parametersView();
        NDArray one = manager.create(params, new Shape(1, params.length));
        return rows == 1 ? one : one.repeat(0, rows);
    }
}

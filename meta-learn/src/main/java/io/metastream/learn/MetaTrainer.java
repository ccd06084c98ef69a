package io.metastream.learn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Offline meta-training of a base initialisation, batched over the tasks of each meta-batch.
 * The algorithms differ only in the outer direction computed from the adapted fast weights:
 * <ul>
 *   <li>{@link Algorithm#REPTILE} (Nichol, Achiam and Schulman, "On First-Order Meta-Learning
 *       Algorithms", 2018): {@code theta - mean_t phi_t};</li>
 *   <li>{@link Algorithm#FOMAML} (first-order MAML, Finn et al. 2017, section 5.2): the query-set
 *       gradient at {@code phi_t}, averaged over tasks;</li>
 *   <li>{@link Algorithm#MAML} (Finn et al. 2017): the exact gradient of the query loss through
 *       the inner loop, second-order terms included ({@link SecondOrderGradient});</li>
 *   <li>{@link Algorithm#METASGD} (Li, Zhou, Chen and Li, "Meta-SGD", 2017): as MAML, and the
 *       per-parameter inner step sizes are learned too, initialised uniform in [0.005, 0.1];</li>
 *   <li>{@link Algorithm#ANIL} (Raghu, Raghu, Bengio and Vinyals, "Rapid Learning or Feature
 *       Reuse?", ICLR 2020): as MAML, but the inner loop adapts only the last layer, whose
 *       per-parameter step sizes are learned as in Meta-SGD (starting from the scalar step);
 *       with one fixed step size, one step on the head alone moves too little (docs/RESULTS.md);</li>
 *   <li>{@link Algorithm#ANIL_RIDGE}: ANIL with a closed-form ridge-regression head instead of inner
 *       steps (R2-D2, Bertinetto et al. 2019); the exact gradient through the solve
 *       ({@link RidgeHeadLearner}); the query loss squared or absolute error;</li>
 *   <li>{@link Algorithm#PRETRAIN}: no inner loop; the mean loss on all tasks pooled, the
 *       fine-tuning baseline of Finn et al. 2017, figure 3.</li>
 * </ul>
 * With {@link Loss#CROSS_ENTROPY} the network's outputs are the logits of an N-way task, the
 * targets class indices, and the meta-loss the query cross-entropy after the inner loop (Finn et
 * al. 2017, section 5.2, classification); every algorithm but the ridge head trains such a base.
 * The direction goes through Adam (the outer optimiser of Finn et al.). Parameters live on the
 * host between iterations; each iteration's native memory is one scratch manager, so memory stays
 * flat over any number of iterations.
 */
public final class MetaTrainer {
    /**
     * Outer-loop rule: the {@link LearnerKind}s this trainer meta-trains (the task encoder and the
     * prototypical network have trainers of their own), each publishing bases of its kind.
     */
    public enum Algorithm {
        REPTILE(LearnerKind.REPTILE), FOMAML(LearnerKind.FOMAML), MAML(LearnerKind.MAML),
        METASGD(LearnerKind.METASGD), ANIL(LearnerKind.ANIL), ANIL_RIDGE(LearnerKind.ANIL_RIDGE),
        PRETRAIN(LearnerKind.PRETRAIN);

        private final LearnerKind kind;

        Algorithm(LearnerKind kind) {
            this.kind = kind;
        }

        /** The kind of base this algorithm trains. */
        public LearnerKind kind() {
            return kind;
        }

        /** The id in manifests and on the command line, e.g. {@code anil-ridge}: its kind's. */
        public String id() {
            return kind.id();
        }

        /**
         * The algorithm that trains bases of {@code kind}.
         *
         * @throws IllegalArgumentException if this trainer does not train that kind, naming the ones it does
         */
        public static Algorithm of(LearnerKind kind) {
            for (Algorithm a : values()) {
                if (a.kind == kind) {
                    return a;
                }
            }
            throw new IllegalArgumentException(kind.id() + " is not a learner this trainer trains (those are: "
                    + ids() + ")");
        }

        /**
         * Parses an {@link #id()}.
         *
         * @throws IllegalArgumentException naming the known ids
         */
        public static Algorithm fromId(String id) {
            return LearnerKind.find(id).map(Algorithm::of).orElseThrow(() ->
                    new IllegalArgumentException("unknown algorithm '" + id + "' (known: " + ids() + ")"));
        }

        private static List<String> ids() {
            return Arrays.stream(values()).map(Algorithm::id).toList();
        }

        /** Whether the trained base carries per-parameter inner step sizes. */
        public boolean hasStepSizes() {
            return kind.hasStepSizes();
        }
    }

    /** Receives progress once per iteration. */
    @FunctionalInterface
    public interface Progress {
        void iteration(int done, int total, float queryLoss);
    }

    private final Algorithm algorithm;
    private final Device device;

    public MetaTrainer(Algorithm algorithm, Device device) {
        this.algorithm = algorithm;
        this.device = device;
    }

    /**
     * The result: trained parameters, the learning curve (mean post-adaptation query loss), and
     * the per-parameter inner step sizes for {@link Algorithm#hasStepSizes()} algorithms, else null.
     */
    public record Result(float[] parameters, float[] curve, float[] stepSizes) {
        public Result(float[] parameters, float[] curve) {
            this(parameters, curve, null);
        }
    }

    public Result train(TaskFamily family, MetaTrainingPlan plan, Progress progress) {
        return train(family, plan, progress, null);
    }

    /**
     * Continues meta-training from {@code start} (its parameters, and its inner step sizes for
     * Meta-SGD and ANIL) instead of a fresh initialisation: the follow-the-meta-leader step of
     * online meta-learning (Finn et al., ICML 2019), each round warm-started from the last base.
     * The optimiser's moments start afresh. A null {@code start} is {@link #train(TaskFamily,
     * MetaTrainingPlan, Progress)}.
     */
    public Result train(TaskFamily family, MetaTrainingPlan plan, Progress progress, BaseModel start) {
        MlpArchitecture arch = plan.architecture();
        if (start != null && !start.architecture().equals(arch)) {
            throw new IllegalArgumentException("cannot continue " + start + " (" + start.architecture() + ") with "
                    + arch);
        }
        if (arch.inputDim() != family.inputDim()) {
            throw new IllegalArgumentException(arch + " does not take the " + family.inputDim()
                    + " inputs of " + family.id());
        }
        Loss loss = plan.adaptation().loss();
        if (algorithm == Algorithm.ANIL_RIDGE && (loss == Loss.LOGISTIC || loss.classifies())) {
            // Its head is a least-squares fit whose output is served as it is: no link to a probability.
            throw new IllegalArgumentException("anil-ridge solves a squared-error head in closed form; loss "
                    + loss.id() + " needs a gradient-based algorithm");
        }
        if (loss.classifies() && arch.outputDim() < 2) {
            // The softmax of one logit is 1 whatever the weights: nothing would be learned.
            throw new IllegalArgumentException("loss " + loss.id() + " needs a head of one output per class, "
                    + arch + " has " + arch.outputDim());
        }
        DjlRuntime.configureCurrentThread();
        Random random = new Random(plan.seed());
        float[] theta = initialParameters(arch, random);
        float[] alpha = initialStepSizes(arch, plan.adaptation().stepSize(), random);
        if (start != null) {
            theta = start.parameters(); // both accessors hand out copies
            if (algorithm.hasStepSizes() && start.hasStepSizes()) {
                alpha = start.stepSizes();
            }
        }
        Adam adam = new Adam(theta.length);
        Adam alphaAdam = new Adam(theta.length);
        float[] curve = new float[plan.iterations()];
        try (NDManager root = NDManager.newBaseManager(device)) {
            for (int it = 0; it < plan.iterations(); it++) {
                List<SampleSet> supports = new ArrayList<>(plan.metaBatch());
                List<SampleSet> queries = new ArrayList<>(plan.metaBatch());
                for (int t = 0; t < plan.metaBatch(); t++) {
                    TaskFamily.Episode e = family.sample(random, plan.shots(), plan.queryShots());
                    supports.add(e.support());
                    queries.add(e.query());
                }
                try (NDManager scratch = root.newSubManager()) {
                    if (algorithm == Algorithm.ANIL_RIDGE) {
                        TaskBatch support = TaskBatch.of(scratch, supports, arch.inputDim());
                        TaskBatch query = TaskBatch.of(scratch, queries, arch.inputDim());
                        Autograd.Result g = Autograd.gradient(scratch, theta,
                                row -> RidgeHeadLearner.queryLoss(MlpMath.unpack(row, arch), support, query,
                                        plan.adaptation()));
                        curve[it] = g.loss();
                        adam.step(theta, g.gradient(), plan.outerStepSizeAt(it));
                    } else if (algorithm == Algorithm.MAML || algorithm.hasStepSizes()) {
                        // Head-only exactly when the served base adapts its head only: ANIL's body step
                        // sizes start at 0 and, getting no gradient then, stay 0.
                        SecondOrderGradient.Result g = SecondOrderGradient.compute(scratch, arch, theta, alpha,
                                algorithm.hasStepSizes(),
                                TaskBatch.of(scratch, supports, arch.inputDim(), plan.adaptation().supportPrior()),
                                TaskBatch.of(scratch, queries, arch.inputDim()), plan.adaptation().steps(),
                                plan.adaptation().loss(), GradientLearner.bodyIsFixed(alpha, arch));
                        curve[it] = g.queryLoss();
                        adam.step(theta, g.theta(), plan.outerStepSizeAt(it));
                        if (g.alpha() != null) {
                            alphaAdam.step(alpha, g.alpha(), plan.outerStepSizeAt(it));
                        }
                    } else {
                        float[] direction = new float[theta.length];
                        curve[it] = outerDirection(scratch, arch, theta, supports, queries, plan.adaptation(),
                                direction);
                        adam.step(theta, direction, plan.outerStepSizeAt(it));
                    }
                }
                progress.iteration(it + 1, plan.iterations(), curve[it]);
            }
        }
        return new Result(theta, curve, algorithm.hasStepSizes() ? alpha : null);
    }

    /**
     * The inner step sizes the algorithm starts from: uniform in [0.005, 0.1] for Meta-SGD (Li et
     * al. 2017, section 4.1), the scalar step on the last layer and 0 elsewhere for ANIL, and the
     * scalar step everywhere for the rest (only MAML reads it).
     */
    float[] initialStepSizes(MlpArchitecture arch, float stepSize, Random random) {
        float[] alpha = new float[arch.parameterCount()];
        switch (algorithm) {
            case METASGD -> {
                // A separate stream, so theta's initialisation is the same for every algorithm.
                Random r = new Random(random.nextLong());
                for (int i = 0; i < alpha.length; i++) {
                    alpha[i] = 0.005f + r.nextFloat() * 0.095f;
                }
            }
            case ANIL -> Arrays.fill(alpha, headOffset(arch), alpha.length, stepSize);
            default -> Arrays.fill(alpha, stepSize);
        }
        return alpha;
    }

    /** Index of the first parameter of the last layer (its weights, then its bias). */
    static int headOffset(MlpArchitecture arch) {
        int last = arch.depth() - 1;
        return arch.parameterCount() - arch.fanIn(last) * arch.fanOut(last) - arch.fanOut(last);
    }

    /** Fills {@code direction} (a descent direction for theta) and returns the mean query loss. */
    private float outerDirection(NDManager scratch, MlpArchitecture arch, float[] theta, List<SampleSet> supports,
            List<SampleSet> queries, AdaptationSettings adaptation, float[] direction) {
        TaskBatch support = TaskBatch.of(scratch, supports, arch.inputDim(), adaptation.supportPrior());
        TaskBatch query = TaskBatch.of(scratch, queries, arch.inputDim());
        NDArray thetaRow = scratch.create(theta, new Shape(1, theta.length));
        List<NDArray> params = MlpMath.unpack(thetaRow, arch);
        if (algorithm == Algorithm.PRETRAIN) {
            // Every labelled point of every task counts alike: the support rows join the query rows.
            NDArray x = support.x.concat(query.x, 1);
            NDArray y = support.y.concat(query.y, 1);
            NDArray w = support.w.concat(query.w, 1).div(2f);
            NDArray grad = MlpMath.pack(MlpMath.gradients(params, x, y, w, adaptation.loss()))
                    .mean(new int[] {0}, true);
            System.arraycopy(grad.toFloatArray(), 0, direction, 0, direction.length);
            return MlpMath.loss(params, x, y, w, adaptation.loss()).mean().getFloat();
        }
        List<NDArray> phi = MlpMath.sgd(params, support.x, support.y, support.w, adaptation.steps(),
                adaptation.stepSize(), adaptation.loss());
        float queryLoss = MlpMath.loss(phi, query.x, query.y, query.w, adaptation.loss()).mean().getFloat();
        NDArray dir = switch (algorithm) {
            case REPTILE -> thetaRow.sub(MlpMath.pack(phi).mean(new int[] {0}, true));
            case FOMAML -> MlpMath.pack(MlpMath.gradients(phi, query.x, query.y, query.w, adaptation.loss()))
                    .mean(new int[] {0}, true);
            default -> throw new IllegalStateException(algorithm + " has no first-order direction");
        };
        System.arraycopy(dir.toFloatArray(), 0, direction, 0, direction.length);
        return queryLoss;
    }

    /** PyTorch's default Linear initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b. */
    static float[] initialParameters(MlpArchitecture arch, Random random) {
        float[] p = new float[arch.parameterCount()];
        int i = 0;
        for (int l = 0; l < arch.depth(); l++) {
            float bound = (float) (1 / Math.sqrt(arch.fanIn(l)));
            int count = arch.fanIn(l) * arch.fanOut(l) + arch.fanOut(l);
            for (int k = 0; k < count; k++) {
                p[i++] = (random.nextFloat() * 2 - 1) * bound;
            }
        }
        return p;
    }

    /** Adam (Kingma and Ba 2015) on a host vector; default betas 0.9 / 0.999, eps 1e-8. */
    static final class Adam {
        private final float[] m;
        private final float[] v;
        private int t;

        Adam(int n) {
            this.m = new float[n];
            this.v = new float[n];
        }

        void step(float[] params, float[] grad, float lr) {
            t++;
            double c1 = 1 - Math.pow(0.9, t);
            double c2 = 1 - Math.pow(0.999, t);
            for (int i = 0; i < params.length; i++) {
                m[i] = 0.9f * m[i] + 0.1f * grad[i];
                v[i] = 0.999f * v[i] + 0.001f * grad[i] * grad[i];
                params[i] -= (float) (lr * (m[i] / c1) / (Math.sqrt(v[i] / c2) + 1e-8));
            }
        }
    }
}

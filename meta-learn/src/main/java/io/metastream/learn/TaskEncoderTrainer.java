package io.metastream.learn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Meta-trains a {@link TaskEncoderLearner} base end to end: for each meta-batch, embed every task's
 * support set, predict its query set from the embedding, and take an Adam step on the mean query
 * loss with respect to the encoder and the decoder together (the gradient by autograd,
 * {@link Autograd}). Support sizes are drawn uniformly from {@code 0..plan.shots()} for every task,
 * so the one base serves any support size, the cold (empty) one included. The plan's adaptation
 * settings give the loss (squared error unless set) and the pooling's support prior; their inner
 * steps are ignored.
 *
 * <p>The plan's architecture gives the hidden layers and the output: for {@code d-40-40-o} and an
 * embedding of {@code R}, the encoder is {@code (d+1)-40-40-R} and the decoder
 * {@code (d+R)-40-40-o}. Parameters live on the host between iterations and each iteration's
 * native memory is one scratch manager, so memory stays flat over any number of iterations.
 */
public final class TaskEncoderTrainer {
    private final Device device;
    private final int embeddingDim;

    /**
     * @throws IllegalArgumentException if {@code embeddingDim} is not positive
     */
    public TaskEncoderTrainer(Device device, int embeddingDim) {
        if (embeddingDim < 1) {
            throw new IllegalArgumentException("embeddingDim must be positive, got " + embeddingDim);
        }
        this.device = device;
        this.embeddingDim = embeddingDim;
    }

    /** The encoder of a plan architecture: {@code (d+1)-hidden-R}. */
    public static MlpArchitecture encoderArchitecture(MlpArchitecture plan, int embeddingDim) {
        int[] layers = plan.layers();
        layers[0] = plan.inputDim() + 1;
        layers[layers.length - 1] = embeddingDim;
        return new MlpArchitecture(layers);
    }

    /** The decoder of a plan architecture: {@code (d+R)-hidden-o}. */
    public static MlpArchitecture decoderArchitecture(MlpArchitecture plan, int embeddingDim) {
        int[] layers = plan.layers();
        layers[0] = plan.inputDim() + embeddingDim;
        return new MlpArchitecture(layers);
    }

    /** Trained encoder and decoder parameters and the learning curve (mean query loss per iteration). */
    public record Result(MlpArchitecture encoder, float[] encoderParameters, MlpArchitecture decoder,
            float[] decoderParameters, float[] curve, AdaptationSettings adaptation) {
        /** The trained base, named {@code version}. */
        public BaseModel base(String version) {
            return BaseModel.taskEncoder(version, encoder, encoderParameters, decoder, decoderParameters, adaptation);
        }
    }

    /**
     * @throws IllegalArgumentException if the plan's input size is not the family's
     */
    public Result train(TaskFamily family, MetaTrainingPlan plan, MetaTrainer.Progress progress) {
        MlpArchitecture arch = plan.architecture();
        if (arch.inputDim() != family.inputDim()) {
            throw new IllegalArgumentException(arch + " does not take the " + family.inputDim() + " inputs of "
                    + family.id());
        }
        // Only the loss and the prior apply: a task encoder takes no inner steps.
        AdaptationSettings adaptation = new AdaptationSettings(0, 1f, plan.adaptation().supportPrior(),
                plan.adaptation().loss());
        MlpArchitecture encoder = encoderArchitecture(arch, embeddingDim);
        MlpArchitecture decoder = decoderArchitecture(arch, embeddingDim);
        int split = encoder.parameterCount();
        DjlRuntime.configureCurrentThread();
        Random random = new Random(plan.seed());
        float[] encoderInit = MetaTrainer.initialParameters(encoder, random);
        float[] decoderInit = MetaTrainer.initialParameters(decoder, random);
        float[] theta = new float[split + decoderInit.length];
        System.arraycopy(encoderInit, 0, theta, 0, split);
        System.arraycopy(decoderInit, 0, theta, split, decoderInit.length);
        MetaTrainer.Adam adam = new MetaTrainer.Adam(theta.length);
        float[] curve = new float[plan.iterations()];
        try (NDManager root = NDManager.newBaseManager(device)) {
            for (int it = 0; it < plan.iterations(); it++) {
                List<SampleSet> supports = new ArrayList<>(plan.metaBatch());
                List<SampleSet> queries = new ArrayList<>(plan.metaBatch());
                for (int t = 0; t < plan.metaBatch(); t++) {
                    TaskFamily.Episode e = family.sample(random, random.nextInt(plan.shots() + 1), plan.queryShots());
                    supports.add(e.support());
                    queries.add(e.query());
                }
                try (NDManager scratch = root.newSubManager()) {
                    TaskBatch support = TaskBatch.of(scratch, supports, arch.inputDim(), adaptation.supportPrior());
                    TaskBatch query = TaskBatch.of(scratch, queries, arch.inputDim());
                    Autograd.Result g = Autograd.gradient(scratch, theta,
                            row -> queryLoss(row, split, encoder, decoder, support, query, adaptation.loss()));
                    curve[it] = g.loss();
                    adam.step(theta, g.gradient(), plan.outerStepSizeAt(it));
                }
                progress.iteration(it + 1, plan.iterations(), curve[it]);
            }
        }
        float[] encoderParams = Arrays.copyOfRange(theta, 0, split);
        float[] decoderParams = Arrays.copyOfRange(theta, split, theta.length);
        return new Result(encoder, encoderParams, decoder, decoderParams, curve, adaptation);
    }

    /** Mean over tasks of the query loss, for the encoder and decoder packed in one row. */
    static NDArray queryLoss(NDArray row, int split, MlpArchitecture encoder, MlpArchitecture decoder,
            TaskBatch support, TaskBatch query, Loss loss) {
        List<NDArray> enc = MlpMath.unpack(row.get(new NDIndex(":, 0:{}", split)), encoder);
        List<NDArray> dec = MlpMath.unpack(row.get(new NDIndex(":, {}:", split)), decoder);
        NDArray z = TaskEncoderLearner.embed(enc, support.x, support.y, support.w);
        return MlpMath.loss(dec, TaskEncoderLearner.decoderInput(query.x, z), query.y, query.w, loss).mean();
    }
}

package io.metastream.training.protonet;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Adam;
import ai.djl.training.tracker.Tracker;
import io.metastream.data.omniglot.EpisodeSampler;
import io.metastream.data.omniglot.Omniglot;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.omniglot.ConvEmbedding;
import io.metastream.learn.omniglot.PrototypeMath;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Trains the {@link ConvEmbedding} as a prototypical network (Snell, Swersky and Zemel 2017): per
 * episode, embed support and query images in one forward pass, take class means as prototypes,
 * and minimise the cross-entropy of the softmax over negative squared distances, with Adam.
 *
 * <p>Uses DJL's {@link Trainer} and {@link GradientCollector}. Only one collector may exist per
 * JVM at a time, so this runs on one thread, offline; it is never called from the stream.
 */
public final class ProtoNetTrainer {
    private final Device device;

    public ProtoNetTrainer(Device device) {
        this.device = device;
    }

    /** The trained embedding as an {@link ConvEmbedding} file, and per-episode loss and accuracy. */
    public record Result(byte[] parameters, float[] loss, float[] accuracy) {
    }

    /**
     * @param characters the training characters; only those of {@code plan.trainAlphabets()} are used
     * @throws IllegalArgumentException if no training alphabet has {@code plan.ways()} classes
     */
    public Result train(List<Omniglot.Character> characters, ProtoNetPlan plan, MetaTrainer.Progress progress) {
        List<Omniglot.Character> train = characters.stream()
                .filter(c -> plan.trainAlphabets().contains(c.alphabet())).toList();
        EpisodeSampler sampler = new EpisodeSampler(train, plan.rotations());
        if (sampler.maxWays() < plan.ways()) {
            throw new IllegalArgumentException(plan.ways() + "-way training needs an alphabet with that many classes; "
                    + "the largest training alphabet has " + sampler.maxWays());
        }
        Random random = new Random(plan.seed());
        Engine.getEngine("PyTorch").setRandomSeed((int) plan.seed());
        float[] losses = new float[plan.episodes()];
        float[] accuracies = new float[plan.episodes()];
        int perClass = plan.shots() + plan.queries();
        Tracker schedule = plan::learningRateAt;
        DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.l2Loss()) // unused: the loss is computed below
                .optOptimizer(Adam.builder().optLearningRateTracker(schedule).build())
                .optDevices(new Device[] {device});
        try (Model model = Model.newInstance(LearnerKind.PROTONET.id(), device)) {
            SequentialBlock block = ConvEmbedding.block();
            model.setBlock(block);
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(ConvEmbedding.INPUT);
                float[] labels = PrototypeMath.oneHot(plan.ways(), plan.queries());
                for (int it = 0; it < plan.episodes(); it++) {
                    EpisodeSampler.Episode e = sampler.sample(random, plan.ways(), plan.shots(), plan.queries());
                    try (NDManager scratch = trainer.getManager().newSubManager()) {
                        NDArray x = scratch.create(concat(e.supportPixels(), e.queryPixels()),
                                new Shape((long) plan.ways() * perClass, 1, Omniglot.SIZE, Omniglot.SIZE));
                        NDArray y = scratch.create(labels, new Shape(1, (long) plan.ways() * plan.queries(),
                                plan.ways()));
                        try (GradientCollector collector = trainer.newGradientCollector()) {
                            NDArray z = trainer.forward(new NDList(x)).singletonOrThrow();
                            long support = (long) plan.ways() * plan.shots();
                            NDArray protos = PrototypeMath.prototypes(z.get("0:" + support).expandDims(0),
                                    plan.ways(), plan.shots());
                            NDArray logits = PrototypeMath.logits(z.get(support + ":").expandDims(0), protos);
                            NDArray loss = PrototypeMath.loss(logits, y);
                            collector.backward(loss);
                            losses[it] = loss.getFloat();
                            accuracies[it] = PrototypeMath.accuracy(logits, plan.queries())[0];
                        }
                        trainer.step();
                    }
                    progress.iteration(it + 1, plan.episodes(), losses[it]);
                }
            }
            return new Result(ConvEmbedding.write(block), losses, accuracies);
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

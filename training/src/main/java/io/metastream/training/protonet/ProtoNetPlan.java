package io.metastream.training.protonet;

import io.metastream.data.omniglot.Omniglot;
import java.util.List;

/**
 * Hyper-parameters of one prototypical-network training run, and the alphabet split.
 *
 * @param trainAlphabets the only alphabets training sees
 * @param ways classes per training episode (Snell et al. 2017 train with more ways than they test)
 * @param shots support drawings per class in training
 * @param queries query drawings per class in training
 * @param rotations whether rotations by 90, 180 and 270 degrees count as extra classes
 * @param learningRate Adam's initial step size
 * @param halveEvery the step size halves every this many episodes
 */
public record ProtoNetPlan(List<String> trainAlphabets, int episodes, int ways, int shots, int queries,
        boolean rotations, float learningRate, int halveEvery, long seed) {
    public ProtoNetPlan {
        trainAlphabets = List.copyOf(trainAlphabets);
        if (trainAlphabets.isEmpty() || episodes < 1 || ways < 2 || shots < 1 || queries < 1 || halveEvery < 1) {
            throw new IllegalArgumentException("need training alphabets, episodes >= 1, ways >= 2, shots, queries "
                    + "and halveEvery >= 1; got " + this);
        }
        if (!(learningRate > 0)) {
            throw new IllegalArgumentException("learningRate must be positive, got " + learningRate);
        }
    }

    /**
     * The bundled-data default: 20-way 5-shot 5-query episodes with rotations and Adam at 1e-3
     * (Snell et al. 2017, section 3.1, who train 60-way and halve the step every 2,000 episodes).
     * Per image the cost is the same, and on a shared 2-core CPU a 30-minute budget buys about
     * 300,000 images: 1,500 episodes of 20 ways rather than 500 of 60, halving every 500.
     */
    public static ProtoNetPlan bundledDefault() {
        return new ProtoNetPlan(Omniglot.BUNDLED_TRAIN_ALPHABETS, 1500, 20, 5, 5, true, 1e-3f, 500, 42L);
    }

    public ProtoNetPlan withEpisodes(int n) {
        return new ProtoNetPlan(trainAlphabets, n, ways, shots, queries, rotations, learningRate, halveEvery, seed);
    }

    /** The step size after {@code updates} Adam updates. */
    public float learningRateAt(int updates) {
        return (float) (learningRate * Math.pow(0.5, updates / halveEvery));
    }
}

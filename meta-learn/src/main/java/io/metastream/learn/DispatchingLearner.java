package io.metastream.learn;

import ai.djl.Device;
import java.util.List;

/**
 * The learner a base asks for in its manifest: {@link TaskEncoderLearner} for
 * {@value TaskEncoderLearner#ID} bases, {@link RidgeHeadLearner} for {@value RidgeHeadLearner#ID},
 * and {@link GradientLearner} for every other one (the gradient-based learners of
 * {@link MetaTrainer}). The choice is made per call from the base passed in, so one instance
 * serves a stream across a hot swap from one kind of base to another; adapted states stay tied to
 * the base version that made them. Owns the three learners and closes them.
 */
public final class DispatchingLearner implements Learner {
    private final GradientLearner gradient;
    private final RidgeHeadLearner ridge;
    private final TaskEncoderLearner encoder;

    /** @param device where to compute; {@link DjlRuntime#defaultDevice()} picks a GPU when present */
    public DispatchingLearner(Device device) {
        this.gradient = new GradientLearner(device);
        this.ridge = new RidgeHeadLearner(device);
        this.encoder = new TaskEncoderLearner(device);
    }

    /** The learner that serves {@code base}. */
    public Learner forBase(BaseModel base) {
        return switch (base.learner()) {
            case TaskEncoderLearner.ID -> encoder;
            case RidgeHeadLearner.ID -> ridge;
            default -> gradient;
        };
    }

    @Override
    public AdaptedBatch adapt(BaseModel base, List<Support> supports, AdaptationSettings settings) {
        return forBase(base).adapt(base, supports, settings);
    }

    @Override
    public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
        return forBase(base).predict(base, states, queries);
    }

    @Override
    public String device() {
        return gradient.device();
    }

    @Override
    public void close() {
        try {
            encoder.close();
        } finally {
            try {
                ridge.close();
            } finally {
                gradient.close();
            }
        }
    }
}

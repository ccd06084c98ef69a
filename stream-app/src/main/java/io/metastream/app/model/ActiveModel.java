package io.metastream.app.model;

import ai.djl.Device;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.Learner;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The base model this instance serves and the learner that adapts it, shared by all stream
 * threads. The base can be swapped while the pipeline runs; a processor reads {@link #base()}
 * once per record or batch so one record never mixes two versions. The learner is a
 * {@link DispatchingLearner}: every call takes the base it works on and runs the algorithm that
 * base's manifest names, so a swap may change the kind of learner (say, from MAML to the task
 * encoder). Adapted states are kept per base version, so a state is never read by another kind.
 */
public final class ActiveModel implements AutoCloseable {
    private final AtomicReference<BaseModel> base;
    private final DispatchingLearner learner;

    /** Serves {@code base} with learners computing on {@code device}, owned by this instance. */
    public ActiveModel(BaseModel base, Device device) {
        this.base = new AtomicReference<>(Objects.requireNonNull(base, "base"));
        this.learner = new DispatchingLearner(device);
    }

    public BaseModel base() {
        return base.get();
    }

    public Learner learner() {
        return learner;
    }

    /**
     * Serves {@code next} from now on.
     *
     * @throws IllegalArgumentException if it takes a different input size than the current base
     */
    public void swap(BaseModel next) {
        BaseModel current = base.get();
        if (next.inputDim() != current.inputDim()) {
            throw new IllegalArgumentException("cannot swap " + current.version() + " (" + current.inputDim()
                    + " inputs) for " + next.version() + " (" + next.inputDim() + " inputs)");
        }
        base.set(next);
    }

    @Override
    public void close() {
        learner.close();
    }
}

package io.metastream.app.model;

import io.metastream.learn.BaseModel;
import io.metastream.learn.Learner;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The base model this instance serves and the learner that adapts it, shared by all stream
 * threads. The base can be swapped while the pipeline runs; a processor reads {@link #base()}
 * once per record or batch so one record never mixes two versions.
 */
public final class ActiveModel implements AutoCloseable {
    private final AtomicReference<BaseModel> base;
    private final Learner learner;

    public ActiveModel(BaseModel base, Learner learner) {
        this.base = new AtomicReference<>(Objects.requireNonNull(base, "base"));
        this.learner = Objects.requireNonNull(learner, "learner");
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

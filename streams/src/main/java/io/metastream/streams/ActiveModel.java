package io.metastream.streams;

import ai.djl.Device;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Learner;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.ModelStore;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

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
    private final Learner learner;
    private final List<Consumer<BaseModel>> swapListeners =
            new CopyOnWriteArrayList<>();

    /**
     * Serves {@code base} with the built-in learners, owned by this instance, computing on a GPU when
     * the engine sees one, else on the CPU.
     */
    public ActiveModel(BaseModel base) {
        this(base, DjlRuntime.defaultDevice());
    }

    /**
     * Serves {@code base} with the built-in learners, owned by this instance, computing on the named
     * device: {@code "cpu"}, {@code "gpu"} (the first GPU) or {@code "gpu:N"}. A name rather than a
     * DJL type keeps DJL out of what an embedding application compiles against.
     *
     * @throws IllegalArgumentException if {@code device} is none of those, or names a GPU the engine
     *     does not see
     */
    public ActiveModel(BaseModel base, String device) {
        this(base, DjlRuntime.device(device));
    }

    /** The built-in learners on {@code device}; closed again when the base is refused, since no caller holds them. */
    private ActiveModel(BaseModel base, Device device) {
        this.learner = new DispatchingLearner(device);
        try {
            this.base = new AtomicReference<>(checkServed(Objects.requireNonNull(base, "base")));
        } catch (RuntimeException e) {
            learner.close();
            throw e;
        }
    }

    /**
     * Serves {@code base} with {@code learner}, which this instance owns and closes: an application's
     * own, or the built-in registry plus its own ({@link DispatchingLearner#with}).
     *
     * @throws IllegalArgumentException if {@code learner} does not serve {@code base}
     */
    public ActiveModel(BaseModel base, Learner learner) {
        this.learner = Objects.requireNonNull(learner, "learner");
        this.base = new AtomicReference<>(checkServed(Objects.requireNonNull(base, "base")));
    }

    /**
     * Loads {@code name@versionOrAlias} from {@code store} and serves it with the built-in learners,
     * on a GPU when the engine sees one, else on the CPU.
     */
    public static ActiveModel load(ModelStore store, String name, String versionOrAlias) {
        return new ActiveModel(BaseModelArtifacts.load(store, name, versionOrAlias));
    }

    /**
     * Loads {@code name@versionOrAlias} from {@code store} and serves it with the built-in learners on
     * the named device ({@code "cpu"}, {@code "gpu"}, {@code "gpu:N"}).
     *
     * @throws IllegalArgumentException if {@code device} is none of those, or names a GPU the engine
     *     does not see
     */
    public static ActiveModel load(ModelStore store, String name, String versionOrAlias, String device) {
        return new ActiveModel(BaseModelArtifacts.load(store, name, versionOrAlias), device);
    }

    private BaseModel checkServed(BaseModel b) {
        if (!learner.serves(b)) {
            throw new IllegalArgumentException(b.version() + ": no learner serves '" + b.learner() + "'"
                    + (learner instanceof DispatchingLearner d ? " (registered: " + d.learnerIds() + ")" : ""));
        }
        return b;
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
     * @throws IllegalArgumentException if it takes a different input size than the current base, or
     *     classifies where the current base regresses (or the reverse), or no learner serves it
     */
    public void swap(BaseModel next) {
        checkServed(next);
        BaseModel current = base.get();
        if (next.inputDim() != current.inputDim()) {
            throw new IllegalArgumentException("cannot swap " + current.version() + " (" + current.inputDim()
                    + " inputs) for " + next.version() + " (" + next.inputDim() + " inputs)");
        }
        if (next.classifies() != current.classifies()) {
            // A classifier's samples carry labels and its predictions name classes; a regression
            // base reads targets. The topics' records mean one or the other, not both.
            throw new IllegalArgumentException("cannot swap " + current.version() + " (" + kind(current) + ") for "
                    + next.version() + " (" + kind(next) + ")");
        }
        base.set(next);
        swapListeners.forEach(listener -> listener.accept(next));
    }

    private static String kind(BaseModel base) {
        return base.classifies() ? "a classifier" : "a regression base";
    }

    /** Calls {@code listener} with every base swapped in from now on, on the swapping thread. */
    public void onSwap(Consumer<BaseModel> listener) {
        swapListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public void close() {
        learner.close();
    }
}

package io.metastream.streams;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Learner;
import io.metastream.learn.SampleSet;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A real learner that records the size and thread of each adapt call, and can hold its first call
 * until the test releases it (to keep an engine round in flight on a real engine thread).
 */
public final class RecordingLearner extends ForwardingLearner {
    public final List<Integer> callSizes = new CopyOnWriteArrayList<>();
    /** The thread of each adapt call, or the name {@link #as} gave it. */
    public final List<String> threads = new CopyOnWriteArrayList<>();
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release;
    private volatile String caller;

    private RecordingLearner(Learner delegate, boolean holdFirstCall) {
        super(delegate, false);
        this.release = new CountDownLatch(holdFirstCall ? 1 : 0);
    }

    public static RecordingLearner of(Learner delegate) {
        return new RecordingLearner(delegate, false);
    }

    /** Its first adapt call waits (30 s at most) for {@code release}. */
    static RecordingLearner holdingFirstCall(Learner delegate) {
        return new RecordingLearner(delegate, true);
    }

    /**
     * Runs {@code step} with its adapt calls recorded as made by {@code who}: a hand-stepped engine's
     * calls, made on the test's thread, recorded as the engine thread's.
     */
    public <T> T as(String who, java.util.function.Supplier<T> step) {
        caller = who;
        try {
            return step.get();
        } finally {
            caller = null;
        }
    }

    @Override
    public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        String who = caller;
        threads.add(who != null ? who : Thread.currentThread().getName());
        entered.countDown();
        try {
            release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        AdaptedBatch batch = delegate.adapt(base, supports, settings);
        callSizes.add(supports.size());
        return batch;
    }
}

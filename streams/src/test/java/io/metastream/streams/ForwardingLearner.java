package io.metastream.streams;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Learner;
import io.metastream.learn.SampleSet;
import java.util.List;

/** A learner that forwards to a real one; tests override the calls they want to change or watch. */
public class ForwardingLearner implements Learner {
    protected final Learner delegate;
    private final boolean closesDelegate;

    /** @param closesDelegate whether closing this learner closes {@code delegate} too */
    public ForwardingLearner(Learner delegate, boolean closesDelegate) {
        this.delegate = delegate;
        this.closesDelegate = closesDelegate;
    }

    @Override
    public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
        return delegate.adapt(base, supports, settings);
    }

    @Override
    public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
        return delegate.predict(base, states, queries);
    }

    @Override
    public String device() {
        return delegate.device();
    }

    @Override
    public void close() {
        if (closesDelegate) {
            delegate.close();
        }
    }
}

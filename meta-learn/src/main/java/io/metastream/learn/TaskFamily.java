package io.metastream.learn;

import java.util.Random;

/** A distribution over tasks from which meta-training and evaluation draw episodes. */
public interface TaskFamily {
    /** A new task with {@code supportSize} examples to adapt on and {@code querySize} to score on. */
    Episode sample(Random random, int supportSize, int querySize);

    /** Input dimension of every example. */
    int inputDim();

    /** Short identifier for provenance, e.g. {@code sinusoid(A=0.1..5,phase=0..pi,x=-5..5)}. */
    String id();

    /** One task's support and query examples. */
    record Episode(SampleSet support, SampleSet query) {
    }
}

package io.metastream.learn;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;

/**
 * A learner on libtorch: it owns one root {@link NDManager} on its device, and each call works in
 * a sub-manager of it ({@link #scratch()}), closed before the call returns, so native memory is a
 * tree with one owner and stays flat however many calls run.
 */
abstract class NativeLearner implements Learner {
    private final NDManager root;

    /** @param device where to compute; {@link DjlRuntime#defaultDevice()} picks a GPU when present */
    NativeLearner(Device device) {
        this.root = NDManager.newBaseManager(device);
    }

    /** A manager for one call's arrays; the caller closes it. */
    final NDManager scratch() {
        return root.newSubManager();
    }

    @Override
    public final String device() {
        return root.getDevice().toString();
    }

    @Override
    public final void close() {
        root.close();
    }
}

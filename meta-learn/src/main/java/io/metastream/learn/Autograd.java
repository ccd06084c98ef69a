package io.metastream.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.function.Function;

/**
 * The gradient of a scalar meta-objective with respect to one flat parameter row, by libtorch's
 * autograd, the way {@link SecondOrderGradient} does it: the row requires gradients, grad mode is
 * on for this thread only around the forward pass, and one ordinary backward pass follows. No
 * {@code GradientCollector} (one per JVM) is involved. The objective must not use Java-number
 * operands on anything that depends on the row (see {@link MlpMath}). Everything, the graph's
 * saved tensors and the gradient included, belongs to {@code scratch}.
 */
final class Autograd {
    private Autograd() {
    }

    /** The gradient, in the row's layout, and the objective's value. */
    record Result(float[] gradient, float loss) {
    }

    /**
     * @param objective maps the row {@code [1, P]} to a scalar (a 0-d or one-element array)
     */
    static Result gradient(NDManager scratch, float[] row, Function<NDArray, NDArray> objective) {
        NDArray leaf = scratch.create(row, new Shape(1, row.length));
        leaf.setRequiresGradient(true);
        boolean previous = JniUtils.isGradMode();
        NDArray loss;
        JniUtils.setGradMode(true);
        try {
            loss = objective.apply(leaf);
            JniUtils.backward((PtNDArray) loss, (PtNDArray) scratch.ones(loss.getShape()), false, false);
        } finally {
            JniUtils.setGradMode(previous);
        }
        return new Result(leaf.getGradient().toFloatArray(), loss.getFloat());
    }
}

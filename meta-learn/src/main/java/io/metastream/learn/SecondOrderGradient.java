package io.metastream.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;

/**
 * The exact MAML meta-gradient, second-order terms included, of the mean query loss
 * {@code L_q(phi(theta, alpha))} with {@code phi} the result of the batched inner SGD loop. The
 * inner gradients come from {@link MlpMath#gradients}, which is plain NDArray algebra, so libtorch's
 * autograd records them like any other op and one ordinary backward pass differentiates through
 * them: no {@code create_graph} pass and no {@code GradientCollector} (one per JVM) are needed.
 *
 * <p>Grad mode is per thread in libtorch and DJL turns it off; it is switched on only around the
 * forward pass and restored afterwards. Every array, the graph's saved tensors and the leaves'
 * {@code .grad} belong to {@code scratch}, so closing it frees the whole meta-step.
 */
final class SecondOrderGradient {
    private SecondOrderGradient() {
    }

    /** Gradients with respect to theta and alpha ({@code null} unless requested), and the loss. */
    record Result(float[] theta, float[] alpha, float queryLoss) {
    }

    /**
     * @param alpha per-parameter inner step sizes; for plain MAML every entry is the scalar step
     * @param learnAlpha whether to return the gradient with respect to {@code alpha} (Meta-SGD)
     */
    static Result compute(NDManager scratch, MlpArchitecture arch, float[] theta, float[] alpha, boolean learnAlpha,
            TaskBatch support, TaskBatch query, int steps, Loss lossFunction) {
        NDArray thetaRow = scratch.create(theta, new Shape(1, theta.length));
        NDArray alphaRow = scratch.create(alpha, new Shape(1, alpha.length));
        thetaRow.setRequiresGradient(true);
        if (learnAlpha) {
            alphaRow.setRequiresGradient(true);
        }
        boolean previous = JniUtils.isGradMode();
        NDArray loss;
        JniUtils.setGradMode(true);
        try {
            List<NDArray> phi = MlpMath.sgd(MlpMath.unpack(thetaRow, arch), MlpMath.unpack(alphaRow, arch),
                    support.x, support.y, support.w, steps, lossFunction, AdaptationSettings.InnerStep.SGD);
            loss = MlpMath.loss(phi, query.x, query.y, query.w, lossFunction).mean();
            // retain_graph=false frees the saved tensors at once; create_graph=false because
            // nothing differentiates this gradient again.
            JniUtils.backward((PtNDArray) loss, (PtNDArray) scratch.ones(loss.getShape()), false, false);
        } finally {
            JniUtils.setGradMode(previous);
        }
        float[] gTheta = thetaRow.getGradient().toFloatArray();
        float[] gAlpha = learnAlpha ? alphaRow.getGradient().toFloatArray() : null;
        return new Result(gTheta, gAlpha, loss.getFloat());
    }
}

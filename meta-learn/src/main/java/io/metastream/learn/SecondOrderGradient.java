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
        return compute(scratch, arch, theta, alpha, learnAlpha, support, query, steps, lossFunction, false);
    }

    /**
     * @param headOnly whether the inner loop adapts the last layer alone, decided by
     *     {@link GradientLearner#bodyIsFixed} (ANIL: step sizes 0 on the body): the body's features
     *     of the support and query sets are computed once and the inner steps run on the head over
     *     them, which gives the same meta-gradient as the whole network with zero steps on the body,
     *     without the body's inner gradients (for a 784-256-128-64-5 network those are 99.6% of the
     *     parameters); the step sizes of the body then get no gradient
     */
    static Result compute(NDManager scratch, MlpArchitecture arch, float[] theta, float[] alpha, boolean learnAlpha,
            TaskBatch support, TaskBatch query, int steps, Loss lossFunction, boolean headOnly) {
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
            List<NDArray> params = MlpMath.unpack(thetaRow, arch);
            List<NDArray> alphas = MlpMath.unpack(alphaRow, arch);
            NDArray supportX = support.x;
            NDArray queryX = query.x;
            if (headOnly) {
                // The head alone is a one-layer network over the body's features.
                supportX = MlpMath.hidden(params, support.x);
                queryX = MlpMath.hidden(params, query.x);
                int last = params.size() - 2;
                params = params.subList(last, params.size());
                alphas = alphas.subList(last, alphas.size());
            }
            List<NDArray> phi = MlpMath.sgd(params, alphas, supportX, support.y, support.w, steps, lossFunction,
                    AdaptationSettings.InnerStep.SGD);
            loss = MlpMath.loss(phi, queryX, query.y, query.w, lossFunction).mean();
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

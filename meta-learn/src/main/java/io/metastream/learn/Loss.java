package io.metastream.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.Arrays;
import java.util.Locale;

/**
 * The loss a base is meta-trained and adapted with, and the link from the network's output to a
 * prediction. Stored in the manifest ({@code adaptation.loss}), because an initialisation is only
 * good for the loss of its inner loop, and because a logistic base's raw output is a logit that the
 * stream must turn into a probability before it publishes it.
 * <ul>
 *   <li>{@link #MSE}: squared error, identity link (the default, and every artifact before the field);</li>
 *   <li>{@link #ABSOLUTE}: absolute error, identity link; the prediction tends to the conditional
 *       median, which is what minimises a mean absolute error (ratings scored by MAE);</li>
 *   <li>{@link #LOGISTIC}: log-loss on targets in {0, 1}, the output a logit, predictions
 *       {@code sigmoid(output)} (click / no-click);</li>
 *   <li>{@link #CROSS_ENTROPY}: N-way classification, the network's N outputs are logits and a
 *       target is a class index {@code 0..N-1} (the stream numbers a task's labels in the order its
 *       support set first shows them); predictions are the softmax over the classes a task has
 *       ({@link Learner#classify}).</li>
 * </ul>
 * No op here takes a Java number: the functions run under autograd in meta-training (see
 * {@link MlpMath}).
 */
public enum Loss {
    MSE("mse"), ABSOLUTE("mae"), LOGISTIC("logistic"), CROSS_ENTROPY("cross-entropy");

    private final String id;

    Loss(String id) {
        this.id = id;
    }

    /** The id in manifests and on the command line. */
    public String id() {
        return id;
    }

    /**
     * @throws IllegalArgumentException naming the known ids
     */
    public static Loss fromId(String id) {
        for (Loss l : values()) {
            if (l.id.equals(id.toLowerCase(Locale.ROOT))) {
                return l;
            }
        }
        throw new IllegalArgumentException("unknown loss '" + id + "' (known: "
                + Arrays.stream(values()).map(Loss::id).toList() + ")");
    }

    /** Whether a base trained with this loss classifies: its outputs are class logits. */
    public boolean classifies() {
        return this == CROSS_ENTROPY;
    }

    /**
     * The loss of each row: elementwise over {@code out} and {@code y} of the same shape, or for
     * {@link #CROSS_ENTROPY} over {@code out [T, K, N]} against class indices {@code y [T, K, 1]},
     * giving {@code [T, K, 1]}.
     */
    NDArray rows(NDArray out, NDArray y) {
        return switch (this) {
            case MSE -> {
                NDArray err = out.sub(y);
                yield err.mul(err);
            }
            case ABSOLUTE -> out.sub(y).abs();
            // log(1 + e^z) - y z: the log-loss of sigmoid(z) against y, stable for any z.
            case LOGISTIC -> Activation.softPlus(out).sub(y.mul(out));
            case CROSS_ENTROPY -> out.logSoftmax(2).mul(oneHot(out, y)).sum(new int[] {2}, true).neg();
        };
    }

    /** {@code [T, K, N]}: 1 where the class index {@code y [T, K, 1]} is the column, 0 elsewhere. */
    private static NDArray oneHot(NDArray out, NDArray y) {
        long classes = out.getShape().get(out.getShape().dimension() - 1);
        NDArray columns = out.getManager().arange(0f, (float) classes, 1f).reshape(1, 1, classes);
        return y.eq(columns).toType(out.getDataType(), false);
    }

    /** d rows / d out, elementwise. */
    NDArray derivative(NDArray out, NDArray y) {
        return switch (this) {
            case MSE -> {
                NDArray err = out.sub(y);
                yield err.add(err); // 2 * err, exactly, without a scalar operand
            }
            case ABSOLUTE -> out.sub(y).sign();
            case LOGISTIC -> Activation.sigmoid(out).sub(y);
            case CROSS_ENTROPY -> out.softmax(2).sub(oneHot(out, y));
        };
    }

    /** The prediction from the network's raw output (a classifier's go through {@link Learner#classify}). */
    public float link(float output) {
        return this == LOGISTIC ? (float) (1 / (1 + Math.exp(-output))) : output;
    }

    /** The loss of one prediction (after {@link #link}) against its target, for reports. */
    public double of(double prediction, double target) {
        return switch (this) {
            case MSE -> (prediction - target) * (prediction - target);
            case ABSOLUTE -> Math.abs(prediction - target);
            case LOGISTIC -> {
                double p = Math.min(1 - 1e-7, Math.max(1e-7, prediction));
                yield -(target * Math.log(p) + (1 - target) * Math.log(1 - p));
            }
            // A classifier's prediction is its top class's probability: scored as right or wrong.
            case CROSS_ENTROPY -> prediction == target ? 0 : 1;
        };
    }
}

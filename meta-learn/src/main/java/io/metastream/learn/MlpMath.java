package io.metastream.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.List;

/**
 * The batched MLP as plain functions on NDArrays with a leading task axis: parameters of
 * {@code T} tasks are {@code W_l [T, in, out]} and {@code b_l [T, 1, out]}; inputs are
 * {@code x [T, K, d]}. Gradients are written out by hand (backpropagation through ReLU layers)
 * instead of using DJL's {@code GradientCollector}: only one collector may exist per JVM and grad
 * mode is per thread, while these functions are called from every stream thread at once. Every
 * result belongs to the manager of {@code x} (the left operand of the first op), so callers pass
 * inputs created in a per-call scratch manager.
 */
final class MlpMath {
    private MlpMath() {
    }

    /** Splits flat parameter rows {@code [T, P]} into per-layer weights and biases. */
    static List<NDArray> unpack(NDArray flat, MlpArchitecture arch) {
        long tasks = flat.getShape().get(0);
        List<NDArray> params = new ArrayList<>(2 * arch.depth());
        int offset = 0;
        for (int l = 0; l < arch.depth(); l++) {
            int in = arch.fanIn(l);
            int out = arch.fanOut(l);
            params.add(flat.get(new NDIndex(":, {}:{}", offset, offset + in * out)).reshape(tasks, in, out));
            offset += in * out;
            params.add(flat.get(new NDIndex(":, {}:{}", offset, offset + out)).reshape(tasks, 1, out));
            offset += out;
        }
        return params;
    }

    /** The inverse of {@link #unpack}: per-layer arrays with a leading task axis to {@code [T, P]}. */
    static NDArray pack(List<NDArray> params) {
        NDList rows = new NDList(params.size());
        for (NDArray p : params) {
            rows.add(p.reshape(p.getShape().get(0), -1));
        }
        return NDArrays.concat(rows, 1);
    }

    /** Network output {@code [T, K, out]}. */
    static NDArray forward(List<NDArray> params, NDArray x) {
        NDArray a = x;
        int depth = params.size() / 2;
        for (int l = 0; l < depth; l++) {
            NDArray z = a.matMul(params.get(2 * l)).add(params.get(2 * l + 1));
            a = l < depth - 1 ? z.maximum(0f) : z;
        }
        return a;
    }

    /**
     * Weighted squared error per task, {@code sum_k w[t,k] * (f(x[t,k]) - y[t,k])^2}, shape {@code [T]}.
     * With {@code w = 1/n_t} on a task's real rows and 0 on padding this is the task's MSE.
     */
    static NDArray loss(List<NDArray> params, NDArray x, NDArray y, NDArray w) {
        return weightedSquares(forward(params, x).sub(y), w);
    }

    private static NDArray weightedSquares(NDArray err, NDArray w) {
        return err.mul(err).mul(w).sum(new int[] {1, 2});
    }

    /** Gradients of {@link #loss} with respect to every parameter, each with the task axis. */
    static List<NDArray> gradients(List<NDArray> params, NDArray x, NDArray y, NDArray w) {
        return backprop(params, x, y, w.mul(2f)).grads();
    }

    /** Gradients (see {@link #backprop}) and the output error {@code f(x) - y} they came from. */
    private record Pass(List<NDArray> grads, NDArray error) {
    }

    /**
     * Gradients of {@link #loss} times a constant {@code c}, given {@code rowScale = 2 c w}: the
     * factor rides on the output error, so it costs nothing per parameter. Every returned array is
     * freshly allocated and may be updated in place.
     */
    private static Pass backprop(List<NDArray> params, NDArray x, NDArray y, NDArray rowScale) {
        int depth = params.size() / 2;
        List<NDArray> activations = new ArrayList<>(depth);
        NDArray a = x;
        for (int l = 0; l < depth; l++) {
            activations.add(a);
            NDArray z = a.matMul(params.get(2 * l)).add(params.get(2 * l + 1));
            a = l < depth - 1 ? z.maximum(0f) : z;
        }
        NDArray error = a.sub(y);
        NDArray delta = error.mul(rowScale);
        NDArray[] grads = new NDArray[params.size()];
        for (int l = depth - 1; l >= 0; l--) {
            grads[2 * l] = activations.get(l).transpose(0, 2, 1).matMul(delta);
            grads[2 * l + 1] = delta.sum(new int[] {1}, true);
            if (l > 0) {
                // ReLU's derivative from its output: sign(max(z, 0)) is 1 where z > 0, else 0. A
                // float mask in one op; z.gt(0) is a bool tensor whose conversion costs ~6x more.
                delta = delta.matMul(params.get(2 * l).transpose(0, 2, 1)).mul(activations.get(l).sign());
            }
        }
        return new Pass(List.of(grads), error);
    }

    /** {@code steps} SGD steps of size {@code stepSize} on {@link #loss}, for all tasks at once. */
    static List<NDArray> sgd(List<NDArray> params, NDArray x, NDArray y, NDArray w, int steps, float stepSize) {
        return descend(params, x, y, w, steps, stepSize).params();
    }

    /** Parameters after the SGD steps, and {@link #loss} at the parameters they started from. */
    record Descent(List<NDArray> params, NDArray lossBefore) {
    }

    /**
     * {@link #sgd}, also returning the loss before the first step, taken from that step's forward
     * pass instead of a forward pass of its own.
     */
    static Descent descend(List<NDArray> params, NDArray x, NDArray y, NDArray w, int steps, float stepSize) {
        if (steps == 0) {
            return new Descent(params, loss(params, x, y, w));
        }
        // -stepSize times the gradient comes straight out of backpropagation, and each update is one
        // in-place add onto that fresh array: no extra pass, and no new allocation, per parameter.
        NDArray rowScale = w.mul(-2f * stepSize);
        NDArray lossBefore = null;
        List<NDArray> current = params;
        for (int s = 0; s < steps; s++) {
            Pass pass = backprop(current, x, y, rowScale);
            if (s == 0) {
                lossBefore = weightedSquares(pass.error(), w);
            }
            List<NDArray> next = pass.grads();
            for (int i = 0; i < current.size(); i++) {
                next.get(i).addi(current.get(i));
            }
            current = next;
        }
        return new Descent(current, lossBefore);
    }

}

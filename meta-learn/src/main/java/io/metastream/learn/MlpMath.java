package io.metastream.learn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;
import java.nio.FloatBuffer;
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
 *
 * <p>No op that autograd may record takes a Java number ({@code x.mul(2f)}, {@code x.maximum(0f)}):
 * DJL turns the number into a tensor over a direct buffer and closes it right after the op, but
 * libtorch's autograd keeps that tensor for the backward pass, which then reads memory the garbage
 * collector may already have freed. The second-order meta-gradient went wrong about once in a few
 * hundred steps that way; {@code gt(0f)} is safe because nothing differentiates it.
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

    /**
     * {@link #pack}'s {@code [T, P]} rows as one heap array per task, read from each layer's tensor
     * memory straight into the rows. {@code pack(...).toFloatArray()} and a copy per task made three
     * passes over {@code T × P} floats into fresh memory: the native concatenation, a {@code byte[]}
     * and a {@code float[]} of 7 KB a task on the heap (14.6 KB of garbage per adapted task, 7.5 KB
     * now), and the per-task copies. A layer whose leading axis is 1 (zero steps: the un-broadcast
     * base) gives every task the same values.
     */
    static float[][] rows(List<NDArray> params, int tasks, int parameterCount) {
        float[][] rows = new float[tasks][parameterCount];
        int offset = 0;
        for (NDArray p : params) {
            long lead = p.getShape().get(0);
            if (lead != 1 && lead != tasks) {
                throw new IllegalArgumentException("a parameter of shape " + p.getShape() + " for " + tasks + " tasks");
            }
            int width = Math.toIntExact(p.getShape().size() / lead);
            // A view of the tensor's own memory (made contiguous first if it is not, and copied to
            // the host first from a GPU); valid while p lives, and read only here.
            FloatBuffer data = p.toByteBuffer(true).asFloatBuffer();
            for (int t = 0; t < tasks; t++) {
                data.get(lead == 1 ? 0 : t * width, rows[t], offset, width);
            }
            offset += width;
        }
        if (offset != parameterCount) {
            throw new IllegalArgumentException(offset + " parameters, expected " + parameterCount);
        }
        return rows;
    }

    /** Network output {@code [T, K, out]}. */
    static NDArray forward(List<NDArray> params, NDArray x) {
        int last = params.size() / 2 - 1;
        return hidden(params, x).matMul(params.get(2 * last)).add(params.get(2 * last + 1));
    }

    /**
     * The activations that enter the last layer, {@code [T, K, fanIn(last)]}: the features the
     * network's linear head reads (the input itself for a one-layer network).
     */
    static NDArray hidden(List<NDArray> params, NDArray x) {
        NDArray a = x;
        int depth = params.size() / 2;
        for (int l = 0; l < depth - 1; l++) {
            a = Activation.relu(a.matMul(params.get(2 * l)).add(params.get(2 * l + 1)));
        }
        return a;
    }

    /**
     * Weighted squared error per task, {@code sum_k w[t,k] * (f(x[t,k]) - y[t,k])^2}, shape {@code [T]}.
     * With {@code w = 1/n_t} on a task's real rows and 0 on padding this is the task's MSE.
     */
    static NDArray loss(List<NDArray> params, NDArray x, NDArray y, NDArray w) {
        return loss(params, x, y, w, Loss.MSE);
    }

    /** As {@link #loss(List, NDArray, NDArray, NDArray)} with {@code loss} in place of the squared error. */
    static NDArray loss(List<NDArray> params, NDArray x, NDArray y, NDArray w, Loss loss) {
        return loss.rows(forward(params, x), y).mul(w).sum(new int[] {1, 2});
    }

    /** Gradients of {@link #loss} with respect to every parameter, each with the task axis. */
    static List<NDArray> gradients(List<NDArray> params, NDArray x, NDArray y, NDArray w) {
        return gradients(params, x, y, w, Loss.MSE);
    }

    /** Gradients of {@link #loss(List, NDArray, NDArray, NDArray, Loss)}. */
    static List<NDArray> gradients(List<NDArray> params, NDArray x, NDArray y, NDArray w, Loss loss) {
        int depth = params.size() / 2;
        List<NDArray> activations = new ArrayList<>(depth);
        List<NDArray> reluMasks = new ArrayList<>(depth);
        NDArray a = x;
        for (int l = 0; l < depth; l++) {
            activations.add(a);
            NDArray z = a.matMul(params.get(2 * l)).add(params.get(2 * l + 1));
            if (l < depth - 1) {
                reluMasks.add(z.gt(0f).toType(DataType.FLOAT32, false));
                a = Activation.relu(z);
            } else {
                a = z;
            }
        }
        NDArray delta = loss.derivative(a, y).mul(w);

        NDArray[] grads = new NDArray[params.size()];
        for (int l = depth - 1; l >= 0; l--) {
            grads[2 * l] = activations.get(l).transpose(0, 2, 1).matMul(delta);
            grads[2 * l + 1] = delta.sum(new int[] {1}, true);
            if (l > 0) {
                delta = delta.matMul(params.get(2 * l).transpose(0, 2, 1)).mul(reluMasks.get(l - 1));
            }
        }
        return List.of(grads);
    }

    /** {@code steps} SGD steps of size {@code stepSize} on {@link #loss}, for all tasks at once. */
    static List<NDArray> sgd(List<NDArray> params, NDArray x, NDArray y, NDArray w, int steps, float stepSize,
            Loss loss) {
        List<NDArray> current = params;
        for (int s = 0; s < steps; s++) {
            List<NDArray> grads = gradients(current, x, y, w, loss);
            List<NDArray> next = new ArrayList<>(current.size());
            for (int i = 0; i < current.size(); i++) {
                next.add(grads.get(i).mul(-stepSize).add(current.get(i)));
            }
            current = next;
        }
        return current;
    }

    private static List<NDArray> negated(List<NDArray> arrays) {
        List<NDArray> out = new ArrayList<>(arrays.size());
        for (NDArray a : arrays) {
            out.add(a.neg());
        }
        return out;
    }

    /** The input of every layer, {@code x} first. */
    private static List<NDArray> trace(List<NDArray> params, NDArray x) {
        int depth = params.size() / 2;
        List<NDArray> out = new ArrayList<>(depth);
        NDArray a = x;
        for (int l = 0; l < depth; l++) {
            out.add(a);
            if (l < depth - 1) {
                a = Activation.relu(a.matMul(params.get(2 * l)).add(params.get(2 * l + 1)));
            }
        }
        return out;
    }

    /**
     * Per-task factors {@code [T, 1, 1]} in [0, 1] that shorten {@code step} to the minimum of the
     * support loss's Gauss-Newton model along it where that minimum comes first
     * ({@link AdaptationSettings.InnerStep#BOUNDED}). Along {@code theta + t * step} the model is
     * {@code L - t * decrease + t^2 / 2 * q} with {@code decrease} minus the gradient dotted with
     * the step and {@code q = sum_k w_k c_k |J_k step|^2}, {@code J_k step} the derivative of the
     * output at row {@code k} along the step (one forward-mode pass through the ReLU layers) and
     * {@code c_k} the loss's largest curvature in the output (2 for the squared error, 1/4 for the
     * log-loss, so that for a linear model the quadratic lies on or above the loss and a bounded step
     * never raises it); its minimum is at {@code decrease / q}.
     *
     * @param trace the input of every layer at {@code params} ({@link #trace})
     * @param loss a loss with curvature: callers skip the bound where {@link #shortens} says no
     */
    static NDArray shortening(List<NDArray> params, List<NDArray> trace, List<NDArray> step, NDArray decrease,
            NDArray w, Loss loss) {
        float curvature = curvature(loss);
        int depth = params.size() / 2;
        NDArray da = null; // derivative of the layer's input along the step; zero for x
        NDArray dout = null;
        for (int l = 0; l < depth; l++) {
            NDArray dz = trace.get(l).matMul(step.get(2 * l)).add(step.get(2 * l + 1));
            if (da != null) {
                dz = dz.add(da.matMul(params.get(2 * l)));
            }
            if (l < depth - 1) {
                da = dz.mul(trace.get(l + 1).sign()); // the ReLU's derivative from its output
            } else {
                dout = dz;
            }
        }
        NDArray q = dout.mul(dout).mul(curvature).mul(w).sum(new int[] {1, 2});
        return decrease.div(q.maximum(1e-30f)).minimum(1f).maximum(0f).reshape(-1, 1, 1);
    }

    /** The loss's largest curvature in the network's output; 0 where it has none. */
    private static float curvature(Loss loss) {
        return switch (loss) {
            case MSE -> 2f;
            // Not p(1 - p) at the current output: a saturated output has almost no curvature
            // there, and the step to that model's minimum flings the logit far past the loss's.
            case LOGISTIC -> 0.25f;
            case ABSOLUTE -> 0f;
            // Softmax cross-entropy's Hessian in the logits is diag(p) - p p^T, whose largest
            // eigenvalue is at most 1/2.
            case CROSS_ENTROPY -> 0.5f;
        };
    }

    /** Whether {@code rule} shortens steps of {@code loss}: bounded, and the loss has curvature. */
    private static boolean shortens(AdaptationSettings.InnerStep rule, Loss loss) {
        return rule == AdaptationSettings.InnerStep.BOUNDED && curvature(loss) > 0;
    }

    /**
     * {@code steps} steps of {@code phi = phi - alpha * grad} with per-parameter step sizes
     * {@code alphas} (unpacked like the parameters, task axis 1 or T). Written with NDArray ops
     * only, so when {@code params} or {@code alphas} require gradients an autograd graph over the
     * whole inner loop, second-order terms included, comes for free: the inner gradient is an
     * explicit function of the parameters, not a backward pass.
     *
     * <p>{@code rule} {@link AdaptationSettings.InnerStep#BOUNDED} is for the online path only:
     * its shortening uses ops with Java numbers, which must not be recorded, and meta-training
     * always takes plain steps (a base meta-trained with bounded steps adapted worse, see
     * {@link AdaptationSettings.InnerStep}).
     */
    static List<NDArray> sgd(List<NDArray> params, List<NDArray> alphas, NDArray x, NDArray y, NDArray w,
            int steps, Loss loss, AdaptationSettings.InnerStep rule) {
        List<NDArray> current = params;
        for (int s = 0; s < steps; s++) {
            List<NDArray> grads = gradients(current, x, y, w, loss);
            List<NDArray> step = new ArrayList<>(current.size());
            NDArray decrease = null; // minus the gradient dotted with the step: sum(alpha * g^2)
            for (int i = 0; i < current.size(); i++) {
                step.add(grads.get(i).mul(alphas.get(i)));
                if (shortens(rule, loss)) {
                    NDArray term = step.get(i).mul(grads.get(i)).sum(new int[] {1, 2});
                    decrease = decrease == null ? term : decrease.add(term);
                }
            }
            NDArray factor = decrease == null ? null
                    : shortening(current, trace(current, x), negated(step), decrease, w, loss);
            List<NDArray> next = new ArrayList<>(current.size());
            for (int i = 0; i < current.size(); i++) {
                next.add(current.get(i).sub(factor == null ? step.get(i) : step.get(i).mul(factor)));
            }
            current = next;
        }
        return current;
    }

    /** Parameters after the SGD steps, and {@link #loss} at the parameters they started from. */
    record Descent(List<NDArray> params, NDArray lossBefore) {
    }

    /**
     * {@link #sgd} for the online path, where nothing records gradients: {@code -stepSize} times
     * the gradient comes straight out of backpropagation (the factor rides on the output error),
     * each update is one in-place add onto that fresh array, and the loss before the first step
     * comes from that step's forward pass. Not for meta-training under autograd: the in-place
     * updates and the scalar row scale would corrupt a recorded graph.
     */
    static Descent descend(List<NDArray> params, NDArray x, NDArray y, NDArray w, int steps, float stepSize,
            Loss loss, AdaptationSettings.InnerStep rule) {
        if (steps == 0) {
            return new Descent(params, loss(params, x, y, w, loss));
        }
        boolean squared = loss == Loss.MSE;
        NDArray rowScale = w.mul((squared ? -2f : -1f) * stepSize);
        NDArray lossBefore = null;
        List<NDArray> current = params;
        for (int s = 0; s < steps; s++) {
            int depth = current.size() / 2;
            List<NDArray> activations = new ArrayList<>(depth);
            NDArray a = x;
            for (int l = 0; l < depth; l++) {
                activations.add(a);
                NDArray z = a.matMul(current.get(2 * l)).add(current.get(2 * l + 1));
                a = l < depth - 1 ? Activation.relu(z) : z;
            }
            NDArray error = squared ? a.sub(y) : loss.derivative(a, y);
            if (s == 0) {
                lossBefore = squared ? error.mul(error).mul(w).sum(new int[] {1, 2}) : loss.rows(a, y).mul(w)
                        .sum(new int[] {1, 2});
            }
            NDArray delta = error.mul(rowScale);
            NDArray[] next = new NDArray[current.size()];
            for (int l = depth - 1; l >= 0; l--) {
                next[2 * l] = activations.get(l).transpose(0, 2, 1).matMul(delta);
                next[2 * l + 1] = delta.sum(new int[] {1}, true);
                if (l > 0) {
                    // ReLU's derivative from its output: sign(relu(z)) is 1 where z > 0, else 0, as a
                    // float mask in one op (a bool mask's conversion costs ~6x more).
                    delta = delta.matMul(current.get(2 * l).transpose(0, 2, 1)).mul(activations.get(l).sign());
                }
            }
            if (shortens(rule, loss)) {
                // next holds the step -stepSize * grad, so the slope along it is |step|^2 / stepSize.
                NDArray decrease = null;
                for (NDArray d : next) {
                    NDArray term = d.mul(d).sum(new int[] {1, 2});
                    decrease = decrease == null ? term : decrease.add(term);
                }
                NDArray factor = shortening(current, activations, List.of(next), decrease.div(stepSize), w, loss);
                for (NDArray d : next) {
                    d.muli(factor);
                }
            }
            for (int i = 0; i < next.length; i++) {
                next[i].addi(current.get(i));
            }
            current = List.of(next);
        }
        return new Descent(current, lossBefore);
    }
}

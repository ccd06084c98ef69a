package io.metastream.learn;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A fully connected ReLU network, e.g. {@code 1-40-40-1} (Finn et al. 2017, sinusoid regression).
 * Parameters are laid out flat, layer by layer, each layer as its weight matrix {@code [in, out]}
 * (row-major) followed by its bias {@code [out]}. Every persisted or stored parameter vector uses
 * this layout.
 */
public record MlpArchitecture(int[] layers) {
    public MlpArchitecture {
        if (layers == null || layers.length < 2) {
            throw new IllegalArgumentException("an MLP needs at least input and output sizes, got "
                    + Arrays.toString(layers));
        }
        for (int size : layers) {
            if (size <= 0) {
                throw new IllegalArgumentException("layer sizes must be positive: " + Arrays.toString(layers));
            }
        }
        layers = layers.clone();
        long count = 0;
        for (int l = 0; l + 1 < layers.length; l++) {
            count += ((long) layers[l] + 1) * layers[l + 1]; // below 2^62 + 2^31: no long overflow
            if (count > MAX_PARAMETERS) {
                // Checked here so that parameterCount() cannot overflow: layers from a file (found by
                // ParameterFileFuzzTarget) summed past 2^31 to a small count that the file then matched.
                throw new IllegalArgumentException("an MLP " + Arrays.toString(layers) + " has more than "
                        + MAX_PARAMETERS + " parameters, the most one float array holds");
            }
        }
    }

    /** The most parameters a network may have: one parameter vector is one Java array. */
    public static final int MAX_PARAMETERS = Integer.MAX_VALUE - 8;

    /** Parses {@code "1-40-40-1"}. */
    public static MlpArchitecture parse(String spec) {
        try {
            return new MlpArchitecture(Arrays.stream(spec.split("-")).mapToInt(Integer::parseInt).toArray());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an MLP spec like 1-40-40-1: " + spec, e);
        }
    }

    @Override
    public int[] layers() {
        return layers.clone();
    }

    public int inputDim() {
        return layers[0];
    }

    public int outputDim() {
        return layers[layers.length - 1];
    }

    public int depth() {
        return layers.length - 1;
    }

    public int fanIn(int layer) {
        return layers[layer];
    }

    public int fanOut(int layer) {
        return layers[layer + 1];
    }

    /** Total number of floats in one parameter vector. */
    public int parameterCount() {
        int n = 0;
        for (int l = 0; l < depth(); l++) {
            n += fanIn(l) * fanOut(l) + fanOut(l);
        }
        return n;
    }

    public String spec() {
        return Arrays.stream(layers).mapToObj(Integer::toString).collect(Collectors.joining("-"));
    }

    public List<Integer> layerList() {
        return Arrays.stream(layers).boxed().toList();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MlpArchitecture other && Arrays.equals(layers, other.layers);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(layers);
    }

    @Override
    public String toString() {
        return "MLP " + spec();
    }
}

package io.metastream.learn;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The persisted form of an MLP's parameters: magic {@code MSP1}, a format version, the layer
 * sizes, then little-endian float32 values in the {@link MlpArchitecture} layout. Newer format
 * versions are refused; every older one stays readable.
 */
public final class ParameterFile {
    public static final int CURRENT_VERSION = 1;
    private static final int MAGIC = 0x4D535031; // "MSP1"

    private ParameterFile() {
    }

    public static byte[] write(MlpArchitecture arch, float[] parameters) {
        if (parameters.length != arch.parameterCount()) {
            throw new IllegalArgumentException(arch + " has " + arch.parameterCount() + " parameters, got "
                    + parameters.length);
        }
        int[] layers = arch.layers();
        ByteBuffer b = ByteBuffer.allocate(12 + 4 * layers.length + 4 * parameters.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(CURRENT_VERSION).putInt(layers.length);
        for (int size : layers) {
            b.putInt(size);
        }
        b.asFloatBuffer().put(parameters);
        return b.array();
    }

    /** Decoded parameters with the architecture they were written for. */
    public record Contents(MlpArchitecture architecture, float[] parameters) {
    }

    /**
     * @throws IllegalArgumentException naming what is wrong: magic, version, or length
     */
    public static Contents read(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 12 || b.getInt() != MAGIC) {
            throw new IllegalArgumentException("not a metastream parameter file (bad magic)");
        }
        int version = b.getInt();
        if (version < 1 || version > CURRENT_VERSION) {
            throw new IllegalArgumentException("parameter file format " + version + " is not supported (this build reads 1.."
                    + CURRENT_VERSION + ")");
        }
        int count = b.getInt();
        if (count < 2 || count > 64 || b.remaining() < 4 * count) {
            throw new IllegalArgumentException("parameter file has an implausible layer count " + count);
        }
        int[] layers = new int[count];
        for (int i = 0; i < count; i++) {
            layers[i] = b.getInt();
        }
        MlpArchitecture arch = new MlpArchitecture(layers);
        if (b.remaining() != 4L * arch.parameterCount()) {
            throw new IllegalArgumentException("parameter file for " + arch + " should hold "
                    + arch.parameterCount() + " floats, holds " + b.remaining() / 4.0);
        }
        float[] p = new float[arch.parameterCount()];
        b.asFloatBuffer().get(p);
        return new Contents(arch, p);
    }
}

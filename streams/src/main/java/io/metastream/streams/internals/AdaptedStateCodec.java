package io.metastream.streams.internals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The layouts of {@code AdaptedTask.state} at rest, named by {@code AdaptedTask.state_encoding}.
 * <ul>
 *   <li>{@link #FLOAT32}: the state as little-endian float32, 4 bytes a value (7 KB for the
 *   1-40-40-1 MLP's 1,761 fast weights).</li>
 *   <li>{@link #INT8_DELTA}: the difference from the base the state was adapted from, in blocks of
 *   {@value #BLOCK} values: a float32 scale ({@code max |delta| / 127}) and one signed byte a value,
 *   about 1.07 bytes a value (1,873 bytes for the MLP). A few SGD steps move the weights little, so
 *   the rounding error is at most half a step of a block's own small range, far below the float16
 *   error on the weights themselves (measured effect on predictions: docs/BENCHMARKS.md).</li>
 * </ul>
 * Decoding is plain Java float arithmetic, so the same bytes and base give bit-identical states on
 * every run and after every restore; every prediction, the first one included, reads the state
 * back through {@link #decode}. A state whose length differs from the base's (a learner whose
 * state is not fast weights), or with a non-finite difference, is written as {@link #FLOAT32}.
 */
public final class AdaptedStateCodec {
    public static final int FLOAT32 = 0;
    public static final int INT8_DELTA = 1;
    static final int BLOCK = 64;

    private AdaptedStateCodec() {
    }

    /** The encoded state, with the encoding actually used ({@code preferred} may not apply). */
    public record Encoded(ByteBuffer bytes, int encoding) {
    }

    /**
     * @param preferred {@link #FLOAT32} or {@link #INT8_DELTA}
     * @param base the parameters of the base {@code state} was adapted from
     * @throws IllegalArgumentException for an unknown encoding
     */
    public static Encoded encode(float[] state, float[] base, int preferred) {
        if (preferred != FLOAT32 && preferred != INT8_DELTA) {
            throw new IllegalArgumentException("unknown adapted-state encoding " + preferred);
        }
        if (preferred == INT8_DELTA && state.length == base.length) {
            ByteBuffer compact = int8Delta(state, base);
            if (compact != null) {
                return new Encoded(compact, INT8_DELTA);
            }
        }
        return new Encoded(Floats.toBytes(state), FLOAT32);
    }

    /**
     * @param base the parameters of the base named by the state's {@code base_version}
     * @throws IllegalArgumentException for an unknown encoding, or bytes that do not fit the base
     */
    public static float[] decode(ByteBuffer bytes, int encoding, float[] base) {
        return switch (encoding) {
            case FLOAT32 -> Floats.fromBytes(bytes);
            case INT8_DELTA -> fromInt8Delta(bytes, base);
            default -> throw new IllegalArgumentException("unknown adapted-state encoding " + encoding);
        };
    }

    /** Bytes {@link #INT8_DELTA} takes for {@code values} floats. */
    public static int int8DeltaBytes(int values) {
        return values + 4 * ((values + BLOCK - 1) / BLOCK);
    }

    /** @return null when a difference is not finite: such a state is kept as it is, in float32 */
    private static ByteBuffer int8Delta(float[] state, float[] base) {
        // Into a plain array: this runs for every adapted task on the stream thread, and per-byte
        // ByteBuffer puts showed in its profile.
        byte[] out = new byte[int8DeltaBytes(state.length)];
        int at = 0;
        for (int from = 0; from < state.length; from += BLOCK) {
            int to = Math.min(state.length, from + BLOCK);
            float max = 0f;
            for (int i = from; i < to; i++) {
                max = Math.max(max, Math.abs(state[i] - base[i]));
            }
            if (!Float.isFinite(max)) {
                return null;
            }
            float scale = max / 127f;
            int bits = Float.floatToRawIntBits(scale);
            out[at++] = (byte) bits;
            out[at++] = (byte) (bits >>> 8);
            out[at++] = (byte) (bits >>> 16);
            out[at++] = (byte) (bits >>> 24);
            // scale 0 means the whole block equals the base (e.g. a task that fell back).
            float inverse = scale == 0f ? 0f : 1f / scale;
            for (int i = from; i < to; i++) {
                // Round half away from zero by truncation: Math.round showed in the stream thread's
                // profile, and |d * inverse| <= 127 (+ rounding) so the cast cannot overflow.
                float d = (state[i] - base[i]) * inverse;
                int q = (int) (d + (d >= 0f ? 0.5f : -0.5f));
                out[at++] = (byte) Math.max(-127, Math.min(127, q));
            }
        }
        return ByteBuffer.wrap(out);
    }

    private static float[] fromInt8Delta(ByteBuffer bytes, float[] base) {
        ByteBuffer in = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() != int8DeltaBytes(base.length)) {
            throw new IllegalArgumentException("an int8-delta state of " + in.remaining() + " bytes does not fit a base of "
                    + base.length + " parameters (" + int8DeltaBytes(base.length) + " bytes)");
        }
        float[] out = new float[base.length];
        for (int from = 0; from < base.length; from += BLOCK) {
            int to = Math.min(base.length, from + BLOCK);
            float scale = in.getFloat();
            for (int i = from; i < to; i++) {
                out[i] = base[i] + in.get() * scale;
            }
        }
        return out;
    }
}

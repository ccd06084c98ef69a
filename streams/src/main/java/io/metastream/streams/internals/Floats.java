package io.metastream.streams.internals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** Conversions between Avro's float lists and byte fields and the learners' float arrays. */
public final class Floats {
    private Floats() {
    }

    static float[] toArray(List<Float> list) {
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    /** Little-endian float32, the layout of {@code AdaptedTask.state}. */
    public static ByteBuffer toBytes(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b;
    }

    static float[] fromBytes(ByteBuffer bytes) {
        ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }
}

package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AdaptedStateCodecTest {
    /** The 1-40-40-1 MLP's parameter count, not a multiple of the block size. */
    private static final int P = 1761;

    private static float[] randomBase(Random random) {
        float[] base = new float[P];
        for (int i = 0; i < P; i++) {
            base[i] = (float) random.nextGaussian();
        }
        return base;
    }

    private static float[] adapted(float[] base, Random random, double stepScale) {
        float[] state = base.clone();
        for (int i = 0; i < P; i++) {
            state[i] += (float) (random.nextGaussian() * stepScale);
        }
        return state;
    }

    @Test
    void shouldStoreTheDifferenceInAboutOneByteAWeightWithinHalfAStepOfItsBlock() {
        Random random = new Random(1);
        float[] base = randomBase(random);
        float[] state = adapted(base, random, 0.05);
        AdaptedStateCodec.Encoded encoded = AdaptedStateCodec.encode(state, base, AdaptedStateCodec.INT8_DELTA);
        assertThat(encoded.encoding()).isEqualTo(AdaptedStateCodec.INT8_DELTA);
        assertThat(encoded.bytes().remaining()).isEqualTo(P + 4 * 28).isLessThan(P * 4 / 3);
        float[] decoded = AdaptedStateCodec.decode(encoded.bytes(), encoded.encoding(), base);
        for (int from = 0; from < P; from += AdaptedStateCodec.BLOCK) {
            int to = Math.min(P, from + AdaptedStateCodec.BLOCK);
            float max = 0;
            for (int i = from; i < to; i++) {
                max = Math.max(max, Math.abs(state[i] - base[i]));
            }
            float halfStep = max / 127f / 2f;
            for (int i = from; i < to; i++) {
                assertThat(Math.abs(decoded[i] - state[i])).as("weight %d", i)
                        .isLessThanOrEqualTo(halfStep * 1.001f + Math.ulp(state[i]));
            }
        }
    }

    @Test
    void shouldDecodeTheSameBytesToTheSameBitsEveryTime() {
        Random random = new Random(2);
        float[] base = randomBase(random);
        ByteBuffer bytes = AdaptedStateCodec.encode(adapted(base, random, 0.1), base, AdaptedStateCodec.INT8_DELTA)
                .bytes();
        assertThat(AdaptedStateCodec.decode(bytes, AdaptedStateCodec.INT8_DELTA, base))
                .isEqualTo(AdaptedStateCodec.decode(bytes, AdaptedStateCodec.INT8_DELTA, base.clone()));
        assertThat(bytes.remaining()).as("decoding does not consume the stored buffer")
                .isEqualTo(AdaptedStateCodec.int8DeltaBytes(P));
    }

    @Test
    void shouldGiveBackTheBaseExactlyForATaskThatFellBack() {
        float[] base = randomBase(new Random(3));
        ByteBuffer bytes = AdaptedStateCodec.encode(base.clone(), base, AdaptedStateCodec.INT8_DELTA).bytes();
        assertThat(AdaptedStateCodec.decode(bytes, AdaptedStateCodec.INT8_DELTA, base)).isEqualTo(base);
    }

    @Test
    void shouldKeepFloat32ExactAndUseItForStatesThatAreNotFastWeights() {
        Random random = new Random(4);
        float[] base = randomBase(random);
        float[] state = adapted(base, random, 0.1);
        AdaptedStateCodec.Encoded f32 = AdaptedStateCodec.encode(state, base, AdaptedStateCodec.FLOAT32);
        assertThat(AdaptedStateCodec.decode(f32.bytes(), f32.encoding(), base)).isEqualTo(state);
        float[] embedding = {1f, 2f, 3f};
        AdaptedStateCodec.Encoded other = AdaptedStateCodec.encode(embedding, base, AdaptedStateCodec.INT8_DELTA);
        assertThat(other.encoding()).isEqualTo(AdaptedStateCodec.FLOAT32);
        assertThat(AdaptedStateCodec.decode(other.bytes(), other.encoding(), base)).isEqualTo(embedding);
    }

    @Test
    void shouldRefuseBytesThatDoNotFitTheBaseAndUnknownEncodings() {
        float[] base = randomBase(new Random(5));
        assertThatThrownBy(() -> AdaptedStateCodec.decode(ByteBuffer.wrap(new byte[12]), AdaptedStateCodec.INT8_DELTA,
                base)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("12 bytes");
        assertThatThrownBy(() -> AdaptedStateCodec.decode(ByteBuffer.wrap(new byte[4]), 7, base))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("7");
        assertThatThrownBy(() -> AdaptedStateCodec.encode(base, base, 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldKeepAStateWithANonFiniteWeightAsItIs() {
        float[] base = randomBase(new Random(6));
        float[] broken = base.clone();
        broken[3] = Float.NaN;
        AdaptedStateCodec.Encoded encoded = AdaptedStateCodec.encode(broken, base, AdaptedStateCodec.INT8_DELTA);
        assertThat(encoded.encoding()).isEqualTo(AdaptedStateCodec.FLOAT32);
        assertThat(AdaptedStateCodec.decode(encoded.bytes(), encoded.encoding(), base)).isEqualTo(broken);
    }
}

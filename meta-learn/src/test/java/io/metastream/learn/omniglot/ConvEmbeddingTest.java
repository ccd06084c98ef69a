package io.metastream.learn.omniglot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.SequentialBlock;
import io.metastream.learn.DjlRuntime;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ConvEmbeddingTest {
    @Test
    void shouldRoundTripExactly() {
        DjlRuntime.start(1);
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            byte[] bytes = ConvEmbedding.write(block);
            SequentialBlock loaded = ConvEmbedding.read(m, bytes);
            assertThat(ConvEmbedding.write(loaded)).isEqualTo(bytes);
            Random random = new Random(2);
            float[] pixels = new float[3 * ConvEmbedding.IMAGE_PIXELS]; // three ink-and-paper images
            for (int i = 0; i < pixels.length; i++) {
                pixels[i] = random.nextFloat() < 0.2f ? 1 : 0;
            }
            float[][] a = ConvEmbedding.embed(block, m, pixels, 2);
            float[][] b = ConvEmbedding.embed(loaded, m, pixels, 2);
            assertThat(a).hasDimensions(3, ConvEmbedding.FILTERS);
            assertThat(b).isDeepEqualTo(a);
        }
    }

    @Test
    void shouldRefuseBadMagicAndNewerVersion() {
        DjlRuntime.start(1);
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            byte[] bytes = ConvEmbedding.write(block);
            byte[] newer = bytes.clone();
            newer[7] = 2;
            assertThatThrownBy(() -> ConvEmbedding.read(m, newer)).hasMessageContaining("format 2 is not supported");
            byte[] junk = bytes.clone();
            junk[0] = 0;
            assertThatThrownBy(() -> ConvEmbedding.read(m, junk)).hasMessageContaining("bad magic");
        }
    }
}

package io.metastream.learn.omniglot;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.metastream.learn.DjlRuntime;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class PrototypeMathTest {
    @Test
    void shouldTakeClassMeansPerTaskAndScoreByNegativeSquaredDistance() {
        DjlRuntime.start(1);
        try (NDManager m = NDManager.newBaseManager()) {
            // 2 tasks, 2 ways, 2 shots, 2-d embeddings, class-major.
            float[] s = {0, 0, 2, 2, 10, 10, 12, 12, /* task 2 */ 1, 1, 1, 3, -4, 0, -6, 0};
            NDArray protos = PrototypeMath.prototypes(m.create(s, new Shape(2, 4, 2)), 2, 2);
            assertThat(protos.getShape()).isEqualTo(new Shape(2, 2, 2));
            assertThat(protos.toFloatArray()).containsExactly(1, 1, 11, 11, 1, 2, -5, 0);
            // One query per class in each task; task 2's second query sits nearer the wrong prototype.
            float[] q = {1, 2, 11, 10, 1, 2, 0, 2};
            NDArray logits = PrototypeMath.logits(m.create(q, new Shape(2, 2, 2)), protos);
            assertThat(logits.getShape()).isEqualTo(new Shape(2, 2, 2));
            assertThat(logits.toFloatArray()).containsExactly(new float[] {-1, -181, -181, -1, 0, -40, -1, -29}, Offset.offset(1e-5f));
            assertThat(PrototypeMath.accuracy(logits, 1)).containsExactly(1f, 0.5f);
            float[] y = PrototypeMath.oneHot(2, 1);
            float loss = PrototypeMath.loss(logits.get("0:1"), m.create(y, new Shape(1, 2, 2))).getFloat();
            double expected = Math.log(1 + Math.exp(-180));
            assertThat((double) loss).isCloseTo(expected, Offset.offset(1e-6));
        }
    }
}

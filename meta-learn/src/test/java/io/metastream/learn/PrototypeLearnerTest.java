package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import io.metastream.learn.omniglot.ConvEmbedding;
import io.metastream.learn.omniglot.PrototypeMath;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The served protonet against the offline rule it must equal ({@link PrototypeMath}, what
 * training and {@code eval} use), on a real conv-4 embedding: the same prototypes, the same
 * probabilities, whatever the tasks are batched with.
 */
class PrototypeLearnerTest {
    private static final int PIXELS = ConvEmbedding.IMAGE_PIXELS;
    private static BaseModel base;
    private static byte[] embedding;

    @BeforeAll
    static void embedding() {
        DjlRuntime.start(1);
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            embedding = ConvEmbedding.write(block);
        }
        base = BaseModel.protoNet("glyphs@1", embedding, PIXELS);
    }

    private static float[] image(Random random) {
        float[] x = new float[PIXELS];
        for (int i = 0; i < PIXELS; i++) {
            x[i] = random.nextFloat() < 0.15f ? 1f : 0f;
        }
        return x;
    }

    /** {@code ways} classes of {@code shots} images each, class-major. */
    private static SampleSet task(Random random, int ways, int shots) {
        float[][] x = new float[ways * shots][];
        float[] y = new float[ways * shots];
        for (int i = 0; i < x.length; i++) {
            x[i] = image(random);
            y[i] = i / shots;
        }
        return new SampleSet(x, y);
    }

    @Test
    void shouldEqualTheOfflinePrototypeRuleAndNotDependOnItsBatch() {
        Random random = new Random(3);
        int ways = 3;
        int shots = 2;
        SampleSet a = task(random, ways, shots);
        SampleSet b = task(random, 4, 1);
        float[][] queries = {image(random), a.features()[0], image(random)};
        try (PrototypeLearner learner = new PrototypeLearner(Device.cpu())) {
            AdaptedBatch together = learner.adapt(base, List.of(a, b));
            AdaptedBatch alone = learner.adapt(base, List.of(a));
            float[] prototypes = together.tasks().get(0).state();
            assertThat(prototypes).hasSize(ways * ConvEmbedding.FILTERS);
            assertThat(together.tasks().get(1).state()).hasSize(4 * ConvEmbedding.FILTERS);
            assertThat(together.tasks().get(0).fellBack()).isFalse();
            for (int i = 0; i < prototypes.length; i++) {
                assertThat(alone.tasks().get(0).state()[i]).isCloseTo(prototypes[i], within(1e-5f));
            }

            float[][][] served = learner.classify(base, List.of(prototypes), List.<float[][]>of(queries),
                    new int[] {ways});
            float[][] offline = offline(a, ways, shots, queries);
            for (int q = 0; q < queries.length; q++) {
                assertThat(served[0][q]).hasSize(ways);
                double sum = 0;
                for (int c = 0; c < ways; c++) {
                    assertThat(served[0][q][c]).as("query %d class %d", q, c).isCloseTo(offline[q][c], within(1e-4f));
                    sum += served[0][q][c];
                }
                assertThat(sum).isCloseTo(1.0, within(1e-5));
            }
            // A query that is one of a 2-shot class's images is nearest its own prototype here.
            assertThat(ClassProbabilities.top(served[0][1])).isEqualTo(0);

            // Fewer classes asked for than held: the probabilities cover only those.
            float[][][] two = learner.classify(base, List.of(prototypes), List.<float[][]>of(queries), new int[] {2});
            assertThat(two[0][0]).hasSize(2);
            // A task without prototypes has nothing to compare with.
            float[][][] none = learner.classify(base, Arrays.asList(prototypes, null),
                    List.of(queries, queries), new int[] {ways, 0});
            assertThat(none[1]).isNull();
            assertThat(none[0][0]).containsExactly(served[0][0]);
        }
    }

    /** The training and evaluation rule: PrototypeMath on the embedding's own forward pass. */
    private static float[][] offline(SampleSet support, int ways, int shots, float[][] queries) {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.read(m, embedding);
            float[] s = new float[support.size() * PIXELS];
            for (int i = 0; i < support.size(); i++) {
                System.arraycopy(support.features()[i], 0, s, i * PIXELS, PIXELS);
            }
            float[] q = new float[queries.length * PIXELS];
            for (int i = 0; i < queries.length; i++) {
                System.arraycopy(queries[i], 0, q, i * PIXELS, PIXELS);
            }
            int d = ConvEmbedding.FILTERS;
            float[][] se = ConvEmbedding.embed(block, m, s, 256);
            float[][] qe = ConvEmbedding.embed(block, m, q, 256);
            NDArray protos = PrototypeMath.prototypes(m.create(flat(se), new Shape(1, se.length, d)), ways, shots);
            float[] logits = PrototypeMath.logits(m.create(flat(qe), new Shape(1, qe.length, d)), protos)
                    .softmax(2).toFloatArray();
            float[][] out = new float[queries.length][];
            for (int i = 0; i < out.length; i++) {
                out[i] = Arrays.copyOfRange(logits, i * ways, (i + 1) * ways);
            }
            return out;
        }
    }

    private static float[] flat(float[][] rows) {
        float[] out = new float[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, out, i * rows[i].length, rows[i].length);
        }
        return out;
    }

    @Test
    void shouldRefuseTargetsThatAreNotClassIndicesEachWithAnExample() {
        Random random = new Random(5);
        try (PrototypeLearner learner = new PrototypeLearner(Device.cpu())) {
            SampleSet fractional = new SampleSet(new float[][] {image(random), image(random)}, new float[] {0f, 0.5f});
            assertThatThrownBy(() -> learner.adapt(base, List.of(fractional)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a class index");
            SampleSet gap = new SampleSet(new float[][] {image(random), image(random), image(random)},
                    new float[] {0f, 2f, 2f});
            assertThatThrownBy(() -> learner.adapt(base, List.of(gap)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no example of class 1");
            // An index beyond the samples is refused before anything is sized by it.
            SampleSet huge = new SampleSet(new float[][] {image(random), image(random)}, new float[] {0f, 1e9f});
            assertThatThrownBy(() -> learner.adapt(base, List.of(huge)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a class index");
            SampleSet small = new SampleSet(new float[][] {new float[10]}, new float[] {0f});
            assertThatThrownBy(() -> learner.adapt(base, List.of(small)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("784");
        }
    }

    @Test
    void shouldGiveNonFiniteProbabilitiesForExtremeButFiniteImagesRatherThanThrow() {
        Random random = new Random(9);
        SampleSet ok = task(random, 2, 1);
        float[] extreme = new float[PIXELS];
        Arrays.fill(extreme, 3e38f);
        try (PrototypeLearner learner = new PrototypeLearner(Device.cpu())) {
            float[] prototypes = learner.adapt(base, List.of(ok)).tasks().get(0).state();
            float[][][] p = learner.classify(base, List.of(prototypes), List.<float[][]>of(new float[][] {extreme}),
                    new int[] {2});
            assertThat(Finite.all(p[0][0])).as("the caller must see it cannot publish this").isFalse();
            List<SampleSet> withExtreme = new ArrayList<>();
            withExtreme.add(new SampleSet(new float[][] {extreme, image(random)}, new float[] {0f, 1f}));
            TaskAdaptation adapted = learner.adapt(base, withExtreme).tasks().get(0);
            assertThat(Finite.all(adapted.state())).as("the stream never stores such a state").isFalse();
        }
    }

    @Test
    void shouldReloadAnotherArtifactUnderTheSameVersionAndKeepTwoVersions() {
        Random random = new Random(13);
        SampleSet s = task(random, 2, 1);
        byte[] other;
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            other = ConvEmbedding.write(block);
        }
        try (PrototypeLearner learner = new PrototypeLearner(Device.cpu())) {
            float[] first = learner.adapt(base, List.of(s)).tasks().get(0).state();
            float[] sameName = learner.adapt(BaseModel.protoNet("glyphs@1", other, PIXELS), List.of(s)).tasks().get(0)
                    .state();
            assertThat(sameName).isNotEqualTo(first);
            for (int v = 2; v < 5; v++) {
                learner.adapt(BaseModel.protoNet("glyphs@" + v, other, PIXELS), List.of(s));
            }
            assertThat(learner.adapt(base, List.of(s)).tasks().get(0).state()).containsExactly(first);
        }
    }
}

package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Extreme but finite samples and queries (a target of 3e38, a feature of 1e30 or 3e38) overflow
 * float32 inside every kind of learner; what comes out must still be finite, or be flagged.
 */
class FiniteOutputsTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-40-40-1");
    private static final SinusoidTasks SINE = new SinusoidTasks();
    private static DispatchingLearner learner;
    private static BaseModel maml;
    private static BaseModel boundedMaml;
    private static BaseModel metaSgd;
    private static BaseModel ridge;
    private static BaseModel encoder;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        learner = new DispatchingLearner(Device.cpu());
        float[] theta = MetaTrainer.initialParameters(ARCH, new Random(1));
        maml = new BaseModel("maml@0", "maml", ARCH, theta, new AdaptationSettings(5, 0.02f));
        boundedMaml = new BaseModel("maml@1", "maml", ARCH, theta, new AdaptationSettings(5, 0.02f)
                .withInnerStep(AdaptationSettings.InnerStep.BOUNDED));
        float[] alpha = new float[theta.length];
        Arrays.fill(alpha, 0.02f);
        metaSgd = new BaseModel("metasgd@0", "metasgd", ARCH, theta, new AdaptationSettings(5, 0.02f), alpha);
        ridge = new BaseModel("ridge@0", LearnerKind.ANIL_RIDGE.id(), ARCH, MetaTrainer.initialParameters(ARCH,
                new Random(4)), AdaptationSettings.NONE);
        MlpArchitecture enc = MlpArchitecture.parse("2-32-8");
        MlpArchitecture dec = MlpArchitecture.parse("9-32-1");
        encoder = BaseModel.taskEncoder("te@0", enc, MetaTrainer.initialParameters(enc, new Random(5)), dec,
                MetaTrainer.initialParameters(dec, new Random(6)));
    }

    @AfterAll
    static void stop() {
        learner.close();
    }

    static Stream<Arguments> bases() {
        return Stream.of(Arguments.of("maml"), Arguments.of("bounded-maml"), Arguments.of("metasgd"),
                Arguments.of("ridge"), Arguments.of("encoder"));
    }

    private static BaseModel base(String name) {
        return switch (name) {
            case "maml" -> maml;
            case "bounded-maml" -> boundedMaml;
            case "metasgd" -> metaSgd;
            case "ridge" -> ridge;
            case "encoder" -> encoder;
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** The state a learner falls back to: what it answers for a {@code null} state. */
    private static float[] baseState(BaseModel base) {
        float[] p = base.parameters();
        return switch (base.kind().orElseThrow()) {
            case ANIL_RIDGE -> Arrays.copyOfRange(p, p.length - 41, p.length);
            case TASK_ENCODER -> new float[base.embeddingDim()];
            default -> p;
        };
    }

    /** A sine task of 10 points with point 3 replaced by {@code (x, y)}. */
    private static SampleSet withPoint(long seed, float x, float y) {
        Random r = new Random(seed);
        SampleSet s = SINE.sampleTask(r).sample(r, 10);
        float[][] f = s.features().clone();
        float[] t = s.targets().clone();
        f[3] = new float[] {x};
        t[3] = y;
        return new SampleSet(f, t);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bases")
    void shouldFallBackToTheBaseWhenAnExtremeSampleOverflowsTheAdaptation(String name) {
        BaseModel base = base(name);
        Random r = new Random(9);
        SampleSet normal = SINE.sampleTask(r).sample(r, 10);
        List<SampleSet> extreme = List.of(withPoint(1, 1f, 3e38f), withPoint(2, 1e30f, 1f), withPoint(3, 3e38f, 1f),
                withPoint(4, -3e38f, -3e38f));
        List<SampleSet> all = new ArrayList<>(extreme);
        all.add(normal);
        AdaptedBatch batch = learner.adapt(base, all);
        for (int t = 0; t < extreme.size(); t++) {
            TaskAdaptation task = batch.tasks().get(t);
            assertThat(task.fellBack()).as("%s, extreme task %d", name, t).isTrue();
            assertThat(task.state()).as("%s, extreme task %d", name, t).containsExactly(baseState(base));
            assertThat(task.supportSize()).isEqualTo(10);
        }
        // The extreme tasks of the batch leave the normal one alone.
        TaskAdaptation alone = learner.adapt(base, List.of(normal)).tasks().get(0);
        TaskAdaptation inBatch = batch.tasks().get(extreme.size());
        assertThat(Finite.all(inBatch.state())).isTrue();
        assertThat(inBatch.fellBack()).isEqualTo(alone.fellBack());
        for (int i = 0; i < alone.state().length; i++) {
            assertThat(Math.abs(inBatch.state()[i] - alone.state()[i])).as("%s, value %d", name, i)
                    .isLessThan(1e-4f + 1e-4f * Math.abs(alone.state()[i]));
        }
        if (!name.contains("maml") && !name.equals("metasgd")) {
            assertThat(inBatch.fellBack()).as("a closed-form or encoder adaptation of normal data").isFalse();
        }
        // Every adapted state answers ordinary queries with finite values.
        List<float[]> states = new ArrayList<>();
        List<float[][]> queries = new ArrayList<>();
        for (TaskAdaptation task : batch.tasks()) {
            states.add(task.state());
            queries.add(new float[][] {{-2f}, {0f}, {3f}});
        }
        CheckedPredictions p = learner.predictChecked(base, states, queries);
        for (int t = 0; t < p.size(); t++) {
            assertThat(p.isFinite(t)).isTrue();
            assertThat(p.fellBack(t)).isFalse();
            assertThat(Finite.all(p.values()[t])).isTrue();
        }
    }

    /**
     * A finite state whose answers overflow: every head or fast weight near the float maximum, or an
     * embedding at the float maximum with the signs of the first decoder unit's weights, so that
     * unit's input is a sum of positive terms past the maximum.
     */
    private static float[] hugeState(BaseModel base) {
        float[] s = baseState(base);
        if (base.learner().equals(LearnerKind.TASK_ENCODER.id())) {
            float[] decoder = base.parameters();
            int units = base.architecture().fanOut(0);
            for (int k = 0; k < s.length; k++) {
                s[k] = Math.copySign(Float.MAX_VALUE, decoder[(1 + k) * units]);
            }
        } else {
            Arrays.fill(s, 3e38f);
        }
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bases")
    void shouldAnswerWithTheBaseWhenAFiniteButHugeStateAnswersNonFinite(String name) {
        BaseModel base = base(name);
        float[][] q = {{0.5f}, {2f}};
        float[] huge = hugeState(base);
        assertThat(Finite.all(huge)).isTrue();
        assertThat(Finite.all(learner.predict(base, List.of(huge), List.<float[][]>of(q))[0]))
                .as("the unchecked prediction overflows").isFalse();
        CheckedPredictions p = learner.predictChecked(base, Arrays.asList(huge, null, baseState(base)),
                List.of(q, q, q));
        float[] byBase = learner.predict(base, Arrays.asList((float[]) null), List.<float[][]>of(q))[0];
        assertThat(p.fellBack(0)).isTrue();
        assertThat(p.isFinite(0)).isTrue();
        assertThat(p.values()[0]).containsExactly(byBase);
        for (int t = 1; t < 3; t++) {
            assertThat(p.fellBack(t)).as("task %d", t).isFalse();
            assertThat(p.isFinite(t)).as("task %d", t).isTrue();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bases")
    void shouldFlagAQueryEvenTheBaseCannotAnswerFinitely(String name) {
        BaseModel base = base(name);
        float[][] extreme = {{3e38f}};
        float[][] normal = {{1f}};
        CheckedPredictions p = learner.predictChecked(base, Arrays.asList(baseState(base), null, null),
                List.of(extreme, extreme, normal));
        for (int t = 0; t < p.size(); t++) {
            // The flag tells the truth about the values, whatever they are.
            assertThat(p.isFinite(t)).as("task %d", t).isEqualTo(Finite.all(p.values()[t]));
        }
        assertThat(p.isFinite(2)).isTrue();
        assertThat(p.fellBack(1)).as("no state, nothing to fall back from").isFalse();
    }

    @Test
    void shouldFlagTheGradientBaseAnsweringNaNForAHugeFeature() {
        // The case: a gradient base given x = 3e38 in a query answers NaN. With every input
        // weight above 1, every first-layer unit is infinite, and the next layer's sum of infinities
        // of both signs is NaN.
        float[] theta = maml.parameters();
        int units = ARCH.fanOut(0);
        for (int j = 0; j < units; j++) {
            theta[j] = 2f;
        }
        BaseModel steep = new BaseModel("maml@steep", "maml", ARCH, theta, maml.adaptation());
        float[][] q = {{3e38f}};
        assertThat(Float.isNaN(learner.predict(steep, Arrays.asList((float[]) null), List.<float[][]>of(q))[0][0]))
                .isTrue();
        CheckedPredictions p = learner.predictChecked(steep, Arrays.asList(theta, null),
                List.<float[][]>of(q, q));
        assertThat(p.isFinite(0)).as("the base answers no better than the state").isFalse();
        assertThat(p.fellBack(0)).isTrue();
        assertThat(p.isFinite(1)).isFalse();
        assertThat(p.fellBack(1)).isFalse();
    }
}

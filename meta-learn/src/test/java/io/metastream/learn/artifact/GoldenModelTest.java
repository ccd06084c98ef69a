package io.metastream.learn.artifact;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.SampleSet;
import io.metastream.store.LocalDirectoryModelStore;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A base model published by the first release (model-store format 1, parameter file format 1)
 * must keep loading and predicting the same in every later build. The expected numbers were
 * produced by that release when it wrote the artifact; if a change moves them, old deployed
 * models would silently change behaviour.
 */
class GoldenModelTest {
    private static final float[][] QUERIES = {{-3f}, {1f}, {3.5f}};
    private static final float[] BASE = {-1.8137226f, 0.9493749f, -1.294887f};
    private static final float[] ADAPTED = {-0.41910863f, 1.8511652f, -1.920155f};

    @Test
    void shouldLoadAndPredictLikeTheReleaseThatWroteIt() throws URISyntaxException {
        DjlRuntime.start(1);
        Path root = Path.of(getClass().getResource("/golden/format-1/models").toURI());
        BaseModel base = BaseModelArtifacts.load(new LocalDirectoryModelStore(root), "sinusoid", "1");
        assertThat(base.version()).isEqualTo("sinusoid@1");
        assertThat(base.adaptation().steps()).isEqualTo(5);
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            SampleSet support = new SampleSet(new float[][] {{-4f}, {-2f}, {0f}, {2f}, {4f}},
                    new float[] {1f, -1.5f, 2f, 0.5f, -2f});
            float[] state = learner.adapt(base, List.of(support)).tasks().get(0).state();
            float[][] out = learner.predict(base, Arrays.asList(null, state), List.of(QUERIES, QUERIES));
            assertThat(out[0]).containsExactly(BASE, within(1e-5f));
            assertThat(out[1]).containsExactly(ADAPTED, within(1e-5f));
        }
    }
}

package io.metastream.app.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.ParameterFile;
import io.metastream.learn.Support;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStoreException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BaseModelArtifactsTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-40-40-1");

    private static float[] randomVector(long seed, float scale) {
        Random r = new Random(seed);
        float[] v = new float[ARCH.parameterCount()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (r.nextFloat() * 2 - 1) * scale;
        }
        return v;
    }

    @Test
    void shouldRoundTripEveryGradientLearnerExactly(@TempDir Path dir) {
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        Support support = new Support(new float[][] {{0.5f}, {-2f}, {3f}}, new float[] {0.4f, -0.9f, 0.1f});
        float[][] queries = {{1f}, {-4f}};
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            for (String learnerName : BaseModelArtifacts.GRADIENT_LEARNERS) {
                boolean vector = BaseModelArtifacts.STEP_SIZE_LEARNERS.contains(learnerName);
                BaseModel saved = new BaseModel("x@0", learnerName, ARCH, randomVector(1, 0.5f),
                        new AdaptationSettings(3, 0.01f), vector ? randomVector(2, 0.05f) : null);
                ModelManifest m = BaseModelArtifacts.publish(store, learnerName, saved, Map.of("seed", 1));
                assertThat(m.files().containsKey(BaseModelArtifacts.STEP_SIZES_FILE)).isEqualTo(vector);
                BaseModel loaded = BaseModelArtifacts.load(store, learnerName, m.version());
                assertThat(loaded.learner()).isEqualTo(learnerName);
                assertThat(loaded.parameters()).containsExactly(saved.parameters());
                assertThat(loaded.adaptation()).isEqualTo(saved.adaptation());
                if (vector) {
                    assertThat(loaded.stepSizes()).containsExactly(saved.stepSizes());
                } else {
                    assertThat(loaded.hasStepSizes()).isFalse();
                }
                float[] a = learner.adapt(saved, List.of(support)).tasks().get(0).state();
                float[] b = learner.adapt(loaded, List.of(support)).tasks().get(0).state();
                assertThat(b).containsExactly(a);
                assertThat(learner.predict(loaded, List.<float[]>of(b), List.<float[][]>of(queries))[0])
                        .containsExactly(learner.predict(saved, List.<float[]>of(a), List.<float[][]>of(queries))[0]);
            }
        }
    }

    @Test
    void shouldRefuseAMetaSgdArtifactWithoutStepSizes(@TempDir Path dir) {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        ModelManifest.Builder draft = ModelManifest.builder().setLearner("metasgd").setArchitecture("mlp")
                .setInputShape(1).optAdaptation(Map.of("inner_steps", 1, "step_size", 0.01));
        store.publish("m", draft, Map.of(BaseModelArtifacts.PARAMETERS_FILE,
                ParameterFile.write(ARCH, randomVector(3, 0.5f))));
        assertThatThrownBy(() -> BaseModelArtifacts.load(store, "m", "1"))
                .isInstanceOf(ModelStoreException.class)
                .hasMessageContaining("needs " + BaseModelArtifacts.STEP_SIZES_FILE);
    }
}

package io.metastream.learn.artifact;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.ParameterFile;
import io.metastream.learn.SampleSet;
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
        SampleSet support = new SampleSet(new float[][] {{0.5f}, {-2f}, {3f}}, new float[] {0.4f, -0.9f, 0.1f});
        float[][] queries = {{1f}, {-4f}};
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            for (String learnerName : LearnerKind.ids(LearnerKind::takesInnerSteps)) {
                boolean vector = LearnerKind.fromId(learnerName).hasStepSizes();
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

    /** The loss travels in the manifest; a squared-error manifest stays without the field. */
    @Test
    void shouldRoundTripTheLossAndLeaveSquaredErrorManifestsAsTheyWere(@TempDir Path dir) {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        for (Loss loss : Loss.values()) {
            BaseModel saved = new BaseModel("x@0", "reptile", ARCH, randomVector(1, 0.5f),
                    new AdaptationSettings(3, 0.01f, 2f, loss));
            ModelManifest m = BaseModelArtifacts.publish(store, "l-" + loss.id(), saved, Map.of("seed", 1));
            assertThat(m.adaptation().get("loss")).isEqualTo(loss == Loss.MSE ? null : loss.id());
            assertThat(BaseModelArtifacts.load(store, "l-" + loss.id(), m.version()).adaptation().loss())
                    .isEqualTo(loss);
        }
    }

    /** A softmax-head ANIL base loads back as a classifier of as many classes as its head has outputs. */
    @Test
    void shouldLoadACrossEntropyBaseAsAClassifier(@TempDir Path dir) {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        MlpArchitecture arch = MlpArchitecture.parse("4-8-5");
        float[] alpha = new float[arch.parameterCount()];
        java.util.Arrays.fill(alpha, 4 * 8 + 8, alpha.length, 0.4f);
        float[] theta = new float[arch.parameterCount()];
        Random r = new Random(3);
        for (int i = 0; i < theta.length; i++) {
            theta[i] = r.nextFloat() - 0.5f;
        }
        BaseModel saved = new BaseModel("x@0", "anil", arch, theta, new AdaptationSettings(5, 0.4f, 0f,
                Loss.CROSS_ENTROPY), alpha);
        ModelManifest m = BaseModelArtifacts.publish(store, "glyphs", saved, Map.of("seed", 1));
        assertThat(m.adaptation().get("link").toString()).startsWith("softmax");
        BaseModel loaded = BaseModelArtifacts.load(store, "glyphs", m.version());
        assertThat(loaded.classifies()).isTrue();
        assertThat(loaded.maxClasses()).isEqualTo(5);
        assertThat(loaded.stepSizes()).containsExactly(alpha);
        assertThat(loaded.parameters()).containsExactly(saved.parameters());
    }

    /** The inner-step rule travels as adaptation.optimizer; a manifest without the field takes plain steps. */
    @Test
    void shouldRoundTripTheInnerStepRule(@TempDir Path dir) {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        for (AdaptationSettings.InnerStep rule : AdaptationSettings.InnerStep.values()) {
            BaseModel saved = new BaseModel("x@0", "reptile", ARCH, randomVector(1, 0.5f),
                    new AdaptationSettings(3, 0.01f, 0f, Loss.MSE, rule));
            ModelManifest m = BaseModelArtifacts.publish(store, "s-" + rule.id(), saved, Map.of("seed", 1));
            assertThat(m.adaptation()).containsEntry("optimizer", rule.id());
            assertThat(BaseModelArtifacts.load(store, "s-" + rule.id(), m.version()).adaptation().innerStep())
                    .isEqualTo(rule);
        }
        assertThat(AdaptationSettings.InnerStep.fromId("sgd")).isEqualTo(AdaptationSettings.InnerStep.SGD);
        assertThatThrownBy(() -> AdaptationSettings.InnerStep.fromId("adam")).hasMessageContaining("bounded-sgd");
    }

    @Test
    void shouldRoundTripATaskEncoderAndARidgeHeadBaseExactly(@TempDir Path dir) {
        DjlRuntime.start(1);
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        MlpArchitecture encoder = MlpArchitecture.parse("2-40-40-8");
        MlpArchitecture decoder = MlpArchitecture.parse("9-40-40-1");
        BaseModel encoderBase = BaseModel.taskEncoder("te@0", encoder, random(encoder, 5), decoder, random(decoder, 6));
        BaseModel ridgeBase = new BaseModel("r@0", LearnerKind.ANIL_RIDGE.id(), ARCH, randomVector(7, 0.5f),
                AdaptationSettings.NONE);
        SampleSet support = new SampleSet(new float[][] {{0.5f}, {-2f}, {3f}}, new float[] {0.4f, -0.9f, 0.1f});
        float[][] queries = {{1f}, {-4f}};
        try (DispatchingLearner learner = new DispatchingLearner(Device.cpu())) {
            for (BaseModel saved : List.of(encoderBase, ridgeBase)) {
                ModelManifest m = BaseModelArtifacts.publish(store, saved.learner(), saved, Map.of("seed", 1));
                assertThat(m.adaptation()).containsEntry("inner_steps", 0);
                assertThat(m.inputShape()).containsExactly(1);
                BaseModel loaded = BaseModelArtifacts.load(store, saved.learner(), m.version());
                assertThat(loaded.learner()).isEqualTo(saved.learner());
                assertThat(loaded.inputDim()).isEqualTo(1);
                assertThat(loaded.architecture()).isEqualTo(saved.architecture());
                assertThat(loaded.parameters()).containsExactly(saved.parameters());
                assertThat(loaded.adaptation()).isEqualTo(AdaptationSettings.NONE);
                float[] a = learner.adapt(saved, List.of(support)).tasks().get(0).state();
                float[] b = learner.adapt(loaded, List.of(support)).tasks().get(0).state();
                assertThat(b).containsExactly(a);
                assertThat(learner.predict(loaded, List.<float[]>of(b), List.<float[][]>of(queries))[0])
                        .containsExactly(learner.predict(saved, List.<float[]>of(a), List.<float[][]>of(queries))[0]);
            }
            BaseModel loaded = BaseModelArtifacts.load(store, LearnerKind.TASK_ENCODER.id(), "1");
            assertThat(loaded.encoderArchitecture()).isEqualTo(encoder);
            assertThat(loaded.encoderParameters()).containsExactly(encoderBase.encoderParameters());
            assertThat(learner.adapt(loaded, List.of(support)).tasks().get(0).state()).hasSize(8);
            BaseModel ridge = BaseModelArtifacts.load(store, LearnerKind.ANIL_RIDGE.id(), "1");
            assertThat(learner.adapt(ridge, List.of(support)).tasks().get(0).state()).hasSize(41);
        }
    }

    /**
     * A task encoder's support prior and loss, and a ridge head's lambda, survive the store; bases
     * without them keep the manifests they had.
     */
    @Test
    void shouldRoundTripATaskEncodersPriorAndLossAndARidgeLambda(@TempDir Path dir) {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        MlpArchitecture encoder = MlpArchitecture.parse("2-8-4");
        MlpArchitecture decoder = MlpArchitecture.parse("5-8-1");
        AdaptationSettings te = new AdaptationSettings(0, 1f, 5f, Loss.ABSOLUTE);
        BaseModel encoderBase = BaseModel.taskEncoder("te@0", encoder, random(encoder, 5), decoder,
                random(decoder, 6), te);
        ModelManifest m = BaseModelArtifacts.publish(store, "te", encoderBase, Map.of());
        assertThat(m.adaptation()).containsEntry("support_prior", 5.0).containsEntry("loss", "mae");
        assertThat(BaseModelArtifacts.load(store, "te", m.version()).adaptation()).isEqualTo(te);

        BaseModel ridge = new BaseModel("r@0", LearnerKind.ANIL_RIDGE.id(), ARCH, randomVector(7, 0.5f),
                new AdaptationSettings(0, 1f, 5f));
        ModelManifest r = BaseModelArtifacts.publish(store, "ridge", ridge, Map.of());
        assertThat(r.adaptation()).containsEntry("ridge_lambda", 5.0);
        assertThat(BaseModelArtifacts.load(store, "ridge", r.version()).adaptation().supportPrior()).isEqualTo(5f);

        BaseModel plainTe = BaseModel.taskEncoder("te@1", encoder, random(encoder, 5), decoder, random(decoder, 6));
        ModelManifest plain = BaseModelArtifacts.publish(store, "te-plain", plainTe, Map.of());
        assertThat(plain.adaptation()).doesNotContainKeys("support_prior", "loss");
        ModelManifest plainRidge = BaseModelArtifacts.publish(store, "ridge-plain",
                new BaseModel("r@1", LearnerKind.ANIL_RIDGE.id(), ARCH, randomVector(7, 0.5f), AdaptationSettings.NONE),
                Map.of());
        assertThat(plainRidge.adaptation()).containsEntry("ridge_lambda", 1.0);
        assertThat(BaseModelArtifacts.load(store, "ridge-plain", plainRidge.version()).adaptation())
                .isEqualTo(AdaptationSettings.NONE);
    }

    @Test
    void shouldRefuseATaskEncoderArtifactWithoutItsEncoder(@TempDir Path dir) {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir);
        MlpArchitecture decoder = MlpArchitecture.parse("9-40-40-1");
        ModelManifest.Builder draft = ModelManifest.builder().setLearner(LearnerKind.TASK_ENCODER.id())
                .setArchitecture("mlp")
                .setInputShape(1).optAdaptation(Map.of("inner_steps", 0));
        store.publish("te", draft, Map.of(BaseModelArtifacts.PARAMETERS_FILE,
                ParameterFile.write(decoder, random(decoder, 3))));
        assertThatThrownBy(() -> BaseModelArtifacts.load(store, "te", "1"))
                .isInstanceOf(ModelStoreException.class)
                .hasMessageContaining("needs " + BaseModelArtifacts.ENCODER_FILE);
    }

    private static float[] random(MlpArchitecture arch, long seed) {
        Random r = new Random(seed);
        float[] v = new float[arch.parameterCount()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (r.nextFloat() * 2 - 1) * 0.5f;
        }
        return v;
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

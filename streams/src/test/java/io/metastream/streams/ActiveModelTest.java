package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.learn.BaseModel;
import org.junit.jupiter.api.Test;

class ActiveModelTest {
    @Test
    void shouldServeOnTheNamedDevice() {
        try (ActiveModel model = new ActiveModel(TestModels.quickSinusoidBase(), "cpu")) {
            assertThat(model.learner().device()).isEqualTo("cpu()");
            assertThat(model.learner().serves(model.base())).isTrue();
        }
    }

    @Test
    void shouldServeOnTheDefaultDeviceWhenNoneIsNamed() {
        try (ActiveModel model = new ActiveModel(TestModels.quickSinusoidBase())) {
            assertThat(model.learner().device()).matches("cpu\\(\\)|gpu\\(0\\)");
        }
    }

    @Test
    void shouldRefuseAnUnknownDeviceName() {
        assertThatThrownBy(() -> new ActiveModel(TestModels.quickSinusoidBase(), "tpu:0"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tpu:0");
    }

    @Test
    void shouldRefuseABaseNoBuiltInLearnerServes() {
        BaseModel quick = TestModels.quickSinusoidBase();
        BaseModel unknown = new BaseModel("other@1", "nobody", quick.architecture(), quick.parameters(),
                quick.adaptation());
        assertThatThrownBy(() -> new ActiveModel(unknown, "cpu"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nobody");
    }
}

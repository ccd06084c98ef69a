package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import org.junit.jupiter.api.Test;

class DjlRuntimeDeviceTest {
    @Test
    void shouldNameTheCpuWhateverTheCaseAndSpaces() {
        assertThat(DjlRuntime.device("cpu")).isEqualTo(Device.cpu());
        assertThat(DjlRuntime.device(" CPU ")).isEqualTo(Device.cpu());
    }

    @Test
    void shouldRefuseAnUnknownDeviceNameWithTheNameInTheMessage() {
        for (String name : new String[] {"tpu", "", "gpu:", "gpu:x", "gpu:-1", "gpu0", "cpu:0", "gpu:99999999999"}) {
            assertThatThrownBy(() -> DjlRuntime.device(name)).as(name)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + name + "'")
                    .hasMessageContaining("expected cpu, gpu or gpu:N");
        }
        assertThatThrownBy(() -> DjlRuntime.device(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void shouldRefuseAGpuTheEngineDoesNotSee() {
        int seen = DjlRuntime.start(1).getGpuCount();
        assertThatThrownBy(() -> DjlRuntime.device("gpu:" + seen))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the engine sees " + seen + " GPU");
        if (seen > 0) {
            assertThat(DjlRuntime.device("gpu")).isEqualTo(Device.gpu(0));
            assertThat(DjlRuntime.device("gpu:" + (seen - 1))).isEqualTo(Device.gpu(seen - 1));
        } else {
            assertThatThrownBy(() -> DjlRuntime.device("gpu")).isInstanceOf(IllegalArgumentException.class);
        }
    }
}

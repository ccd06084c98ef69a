package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ParameterFileTest {
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-40-40-1");

    @Test
    void shouldRoundTripExactly() {
        float[] p = MetaTrainer.initialParameters(ARCH, new Random(4));
        ParameterFile.Contents c = ParameterFile.read(ParameterFile.write(ARCH, p));
        assertThat(c.architecture()).isEqualTo(ARCH);
        assertThat(c.parameters()).containsExactly(p);
    }

    @Test
    void shouldRefuseNewerFormatVersion() {
        byte[] bytes = ParameterFile.write(ARCH, new float[ARCH.parameterCount()]);
        bytes[4] = 2;
        assertThatThrownBy(() -> ParameterFile.read(bytes)).hasMessageContaining("format 2 is not supported");
    }

    @Test
    void shouldRefuseTruncatedFileAndBadMagic() {
        byte[] bytes = ParameterFile.write(ARCH, new float[ARCH.parameterCount()]);
        assertThatThrownBy(() -> ParameterFile.read(Arrays.copyOf(bytes, bytes.length - 4)))
                .hasMessageContaining("should hold 1761 floats");
        bytes[0] = 0;
        assertThatThrownBy(() -> ParameterFile.read(bytes)).hasMessageContaining("bad magic");
    }

    @Test
    void shouldParseArchitectureSpec() {
        assertThat(ARCH.parameterCount()).isEqualTo(40 + 40 + 1600 + 40 + 40 + 1);
        assertThat(MlpArchitecture.parse("3-8-1").spec()).isEqualTo("3-8-1");
        assertThatThrownBy(() -> MlpArchitecture.parse("3-x")).isInstanceOf(IllegalArgumentException.class);
    }
}

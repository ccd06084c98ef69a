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
    void shouldRefuseLayersWhoseParameterCountOverflowsAnInt() {
        // Found by ParameterFileFuzzTarget (its Inputs hold the file): layers 1-(2^30 + 2)-1 have
        // 3 * 2^30 + 7 parameters, which an int sum wrapped to -1073741817; times 4 bytes, that
        // wrapped to the 28 bytes the file then held, and reading allocated a negative array.
        byte[] bytes = java.util.Base64.getDecoder()
                .decode("MVBTTQEAAAADAAAAAQAAAAIAAEABAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMBAAADgQA==");
        assertThatThrownBy(() -> ParameterFile.read(bytes)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has more than " + MlpArchitecture.MAX_PARAMETERS + " parameters");
        assertThatThrownBy(() -> new MlpArchitecture(new int[] {65536, 65536})).isInstanceOf(IllegalArgumentException.class);
        assertThat(new MlpArchitecture(new int[] {46340, 46339}).parameterCount()).isEqualTo(46341 * 46339);
    }

    @Test
    void shouldParseArchitectureSpec() {
        assertThat(ARCH.parameterCount()).isEqualTo(40 + 40 + 1600 + 40 + 40 + 1);
        assertThat(MlpArchitecture.parse("3-8-1").spec()).isEqualTo("3-8-1");
        assertThatThrownBy(() -> MlpArchitecture.parse("3-x")).isInstanceOf(IllegalArgumentException.class);
    }
}

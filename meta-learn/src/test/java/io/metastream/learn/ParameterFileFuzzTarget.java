package io.metastream.learn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Any bytes as a stored parameter file (read from a model store): {@link ParameterFile#read}
 * refuses them with an {@link IllegalArgumentException} or returns parameters that fit the
 * architecture it read. Any other throwable is a finding.
 */
class ParameterFileFuzzTarget {
    @FuzzTest(maxDuration = "15s")
    void readAnyBytes(byte[] bytes) {
        ParameterFile.Contents contents;
        try {
            contents = ParameterFile.read(bytes);
        } catch (IllegalArgumentException refused) {
            return;
        }
        MlpArchitecture arch = contents.architecture();
        assertEquals(arch.parameterCount(), contents.parameters().length);
        assertEquals(bytes.length, ParameterFile.write(arch, contents.parameters()).length);
    }
}

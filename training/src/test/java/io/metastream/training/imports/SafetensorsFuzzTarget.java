package io.metastream.training.imports;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Any bytes as a safetensors file (a network a user imports): {@link SafetensorsFile#parse} refuses
 * them with an {@link IllegalArgumentException} or returns tensors, and what it returns it writes
 * back to bytes that read as the same tensors. Any other throwable is a finding.
 */
class SafetensorsFuzzTarget {
    @FuzzTest(maxDuration = "15s")
    void parseAnyBytes(byte[] bytes) {
        SafetensorsFile file;
        try {
            file = SafetensorsFile.parse(bytes);
        } catch (IllegalArgumentException refused) {
            return; // the documented way to say no
        }
        SafetensorsFile again = SafetensorsFile.parse(file.toBytes());
        assertEquals(file.tensors(), again.tensors());
        assertEquals(file.metadata(), again.metadata());
    }
}

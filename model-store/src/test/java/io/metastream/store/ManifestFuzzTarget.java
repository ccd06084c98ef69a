package io.metastream.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Any bytes as a stored {@code manifest.json}: {@link ArtifactVerifier#manifest} refuses them with
 * a {@link CorruptArtifactException} or an {@link IncompatibleArtifactException}, as it documents,
 * or returns a manifest that the store writes back ({@link ModelManifest#toJson}, as when a
 * sibling version is published from it) to JSON that reads as the same manifest. Anything else is
 * a finding.
 */
class ManifestFuzzTarget {
    @FuzzTest(maxDuration = "15s")
    void readAnyManifest(byte[] bytes) {
        ModelManifest manifest;
        try {
            manifest = ArtifactVerifier.manifest("sine-mlp", "1", bytes);
        } catch (CorruptArtifactException | IncompatibleArtifactException refused) {
            return;
        }
        byte[] written = manifest.toJson().getBytes(StandardCharsets.UTF_8);
        assertEquals(manifest, ArtifactVerifier.manifest("sine-mlp", "1", written));
    }
}

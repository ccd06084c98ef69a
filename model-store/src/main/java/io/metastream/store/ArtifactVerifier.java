package io.metastream.store;

import com.fasterxml.jackson.databind.JsonNode;

/** Checks an artifact's bytes, whatever backend they were read from. */
final class ArtifactVerifier {
    private ArtifactVerifier() {
    }

    /**
     * Parses the manifest of {@code name@version} and checks that it describes that version.
     *
     * @throws CorruptArtifactException if it is truncated, unparseable, invalid or names another version
     * @throws IncompatibleArtifactException if its format version is newer than this code reads
     */
    static ModelManifest manifest(String name, String version, byte[] bytes) {
        String ref = name + "@" + version;
        JsonNode tree = Json.readVersioned(bytes, ref, Names.MANIFEST_FILE, ModelManifest.CURRENT_FORMAT_VERSION);
        ModelManifest manifest = Json.bind(tree, ModelManifest.class, ref, Names.MANIFEST_FILE);
        if (!manifest.ref().equals(ref)) {
            throw new CorruptArtifactException(ref, Names.MANIFEST_FILE, "manifest names " + manifest.ref()
                    + " but is stored as " + ref, null);
        }
        return manifest;
    }

    /**
     * Checks a parameter file against the digest its manifest records.
     *
     * @throws CorruptArtifactException naming the file and the expected and actual sha256
     */
    static void checkDigest(String ref, String fileName, byte[] bytes, String expected) {
        String actual = Sha256.hex(bytes);
        if (!actual.equals(expected)) {
            throw new CorruptArtifactException(ref, fileName, "sha256 mismatch: expected " + expected
                    + ", actual " + actual + " (" + bytes.length + " bytes)", null);
        }
    }
}

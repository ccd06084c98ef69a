package io.metastream.store;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A verified model version: its manifest and the contents of every listed parameter file. The map
 * is unmodifiable; the byte arrays are this load's own buffers (not shared with the store), so a
 * caller that mutates them only affects itself. Equality compares file contents.
 *
 * @param manifest the parsed manifest
 * @param files file name to contents, exactly the files the manifest lists
 * @param digest lowercase hex sha256 of the manifest's bytes as stored: it lists the sha256 of every
 *     parameter file, so it pins the whole artifact (see {@link ModelStore#digest})
 */
public record LoadedArtifact(ModelManifest manifest, Map<String, byte[]> files, String digest) {

    /** @throws IllegalArgumentException if an argument is null or the files differ from the manifest's list */
    public LoadedArtifact {
        if (manifest == null || files == null || digest == null) {
            throw new IllegalArgumentException("manifest, files and digest must be set, were: " + manifest + ", "
                    + files + ", " + digest);
        }
        if (!files.keySet().equals(manifest.files().keySet())) {
            throw new IllegalArgumentException("files " + files.keySet() + " differ from the manifest's "
                    + manifest.files().keySet());
        }
        files = Collections.unmodifiableMap(new LinkedHashMap<>(files));
    }

    /** {@code name@version} of the loaded artifact. */
    public String ref() {
        return manifest.ref();
    }

    /**
     * Checks that this is the artifact that was announced.
     *
     * @param expected the announced {@link #digest()}; null (an announcement from before digests)
     *     accepts any
     * @return this artifact
     * @throws ArtifactMismatchException if the digests differ
     */
    public LoadedArtifact requireDigest(String expected) {
        if (expected != null && !expected.equalsIgnoreCase(digest)) {
            throw new ArtifactMismatchException(ref(), expected, digest);
        }
        return this;
    }

    /**
     * The contents of one parameter file.
     *
     * @throws IllegalArgumentException if the manifest lists no such file (the message lists those it does)
     */
    public byte[] file(String fileName) {
        byte[] bytes = files.get(fileName);
        if (bytes == null) {
            throw new IllegalArgumentException(ref() + " has no file '" + fileName + "', files are: "
                    + files.keySet());
        }
        return bytes;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof LoadedArtifact other) || !manifest.equals(other.manifest)) {
            return false;
        }
        return files.entrySet().stream()
                .allMatch(e -> Arrays.equals(e.getValue(), other.files.get(e.getKey())));
    }

    @Override
    public int hashCode() {
        return manifest.hashCode();
    }

    @Override
    public String toString() {
        return "LoadedArtifact[" + ref() + ", digest=" + digest + ", files=" + files.entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue().length + " bytes")
                .collect(Collectors.joining(", ", "{", "}")) + "]";
    }
}

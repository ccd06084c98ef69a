package io.metastream.store;

/**
 * A stored artifact failed verification: its manifest is missing, truncated or unparseable, or a
 * listed file is missing or does not match its recorded sha256. The message names the artifact
 * ({@code name@version}), the file and the mismatch.
 */
public final class CorruptArtifactException extends ModelStoreException {
    private final String artifactRef;
    private final String fileName;

    /**
     * @param artifactRef {@code name@version}, or just the model name for model-level files
     * @param fileName the offending file inside the artifact (never null)
     * @param problem what is wrong, e.g. {@code "missing"} or the expected and actual digests
     * @param cause the underlying parse or I/O error; may be null
     */
    public CorruptArtifactException(String artifactRef, String fileName, String problem, Throwable cause) {
        super("corrupt artifact " + artifactRef + ": " + fileName + ": " + problem, cause);
        this.artifactRef = artifactRef;
        this.fileName = fileName;
    }

    /** The artifact ({@code name@version}) that failed verification. */
    public String artifactRef() {
        return artifactRef;
    }

    /** The file inside the artifact that failed verification. */
    public String fileName() {
        return fileName;
    }
}

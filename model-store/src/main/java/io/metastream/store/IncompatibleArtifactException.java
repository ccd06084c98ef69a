package io.metastream.store;

/**
 * A stored file whose format version is newer than this reader understands (for a manifest, above
 * {@link ModelManifest#CURRENT_FORMAT_VERSION}); the store refuses rather than guesses.
 */
public final class IncompatibleArtifactException extends ModelStoreException {
    private final int formatVersion;

    /**
     * @param artifactRef {@code name@version}, or just the model name for model-level files
     * @param fileName the file whose format is too new
     * @param formatVersion the version found
     * @param supported the newest version this reader understands
     */
    public IncompatibleArtifactException(String artifactRef, String fileName, int formatVersion, int supported) {
        super("incompatible artifact " + artifactRef + ": " + fileName + " has format version " + formatVersion
                + ", this reader supports up to " + supported);
        this.formatVersion = formatVersion;
    }

    /** The format version found in the refused file. */
    public int formatVersion() {
        return formatVersion;
    }
}

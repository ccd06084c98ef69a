package io.metastream.store;

/**
 * A version is not the artifact its announcement describes: the sha256 of its manifest (which
 * lists the sha256 of every parameter file) differs from the digest announced with it. The store
 * that loaded it holds another artifact under that version number (a different store, a copy
 * gone wrong, a manifest edited after promotion).
 */
public final class ArtifactMismatchException extends ModelStoreException {
    private final String artifactRef;
    private final String expected;
    private final String actual;

    public ArtifactMismatchException(String artifactRef, String expected, String actual) {
        super("artifact " + artifactRef + " is not the one announced: manifest sha256 " + actual + ", announced "
                + expected);
        this.artifactRef = artifactRef;
        this.expected = expected;
        this.actual = actual;
    }

    /** {@code name@version}. */
    public String artifactRef() {
        return artifactRef;
    }

    /** The announced digest. */
    public String expected() {
        return expected;
    }

    /** The digest of the manifest this store holds. */
    public String actual() {
        return actual;
    }
}

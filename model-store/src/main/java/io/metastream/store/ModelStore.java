package io.metastream.store;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A store of immutable, versioned base-model artifacts. A model has versions {@code "1"},
 * {@code "2"}, ... assigned by the store on publish, and named aliases (e.g. {@code production},
 * {@code candidate}) that point at versions and whose every move is recorded.
 *
 * <p>Model names match {@code [a-z0-9][a-z0-9._-]{0,63}}; aliases match
 * {@code [a-z][a-z0-9._-]{0,63}} (so never look like a version); parameter file names are simple
 * names (no separators, no {@code ..}, not hidden, not {@code manifest.json}). A malformed name is
 * an {@link IllegalArgumentException}. Every other failure is a {@link ModelStoreException}.
 * Implementations are thread-safe; no method returns null.
 */
public interface ModelStore {

    /**
     * Publishes a new version: the store assigns the next version number, hashes the files, fills
     * the draft's name, version, creation time and file digests, and makes the version visible all
     * at once (or not at all). The draft is not modified.
     *
     * @param name model name
     * @param draft publisher fields (learner, architecture, input shape, ...)
     * @param files parameter file name to contents; at least one
     * @return the manifest as stored
     * @throws IllegalArgumentException for a bad name, file name, empty files or an invalid draft
     * @throws ModelStoreException if the artifact cannot be written
     */
    ModelManifest publish(String name, ModelManifest.Builder draft, Map<String, byte[]> files);

    /**
     * Loads and verifies one version: the manifest parses, its format is supported, and every
     * listed file is present with the recorded sha256.
     *
     * @param versionOrAlias a version ({@code "3"}) or an alias ({@code "production"})
     * @throws ModelNotFoundException if the model, version or alias does not exist
     * @throws CorruptArtifactException if verification fails (the message names file and mismatch)
     * @throws IncompatibleArtifactException if the manifest's format version is too new
     * @throws IllegalArgumentException if the name or alias is malformed
     * @throws ModelStoreException if the artifact cannot be read
     */
    LoadedArtifact load(String name, String versionOrAlias);

    /**
     * The names of models with at least one published version, sorted.
     *
     * @throws ModelStoreException if the store cannot be listed
     */
    List<String> modelNames();

    /**
     * The manifests of a model's versions, oldest first. Manifests are parsed but parameter files
     * are not verified (use {@link #load}).
     *
     * @throws ModelNotFoundException if the model has no published version
     * @throws CorruptArtifactException if a manifest is unparseable
     * @throws IncompatibleArtifactException if a manifest's format version is too new
     * @throws ModelStoreException if the store cannot be read
     */
    List<ModelManifest> versions(String name);

    /**
     * The version an alias points at, or empty if the alias was never set.
     *
     * @throws ModelNotFoundException if the model has no published version
     * @throws IllegalArgumentException if the name or alias is malformed
     * @throws ModelStoreException if the aliases cannot be read (or are corrupt)
     */
    Optional<String> alias(String name, String alias);

    /**
     * Points an alias at an existing version whatever it points at now, and records the move (time,
     * alias, from, to, action) in the model's alias history. Re-pointing an alias at the version it
     * already names records nothing. For first set-up and tools; a promotion decided on what the
     * alias pointed at uses {@link #compareAndSetAlias}. Checksums are not verified here;
     * {@link #load} a version first to vouch for it.
     *
     * @throws ModelNotFoundException if the model or version does not exist
     * @throws IllegalArgumentException if the name, alias or version is malformed
     * @throws ModelStoreException if the aliases cannot be read or written
     */
    void setAlias(String name, String alias, String version);

    /**
     * Compare-and-set: points an alias at {@code version} only if it points at {@code expected}
     * now, and records the move. Moves of one model's aliases are serialised across threads and
     * processes, so of two callers that expect the same version one wins and the other gets an
     * {@link AliasConflictException}.
     *
     * @param expected the version the caller saw; null for an alias that must not be set yet
     * @return true if the alias moved, false if it already pointed at {@code version} (nothing recorded)
     * @throws AliasConflictException if the alias points elsewhere than {@code expected}
     * @throws ModelNotFoundException if the model or version does not exist
     * @throws IllegalArgumentException if the name, alias or a version is malformed
     * @throws ModelStoreException if the aliases cannot be read or written
     */
    boolean compareAndSetAlias(String name, String alias, String expected, String version);

    /**
     * Compare-and-set rollback: if the alias points at {@code expected}, moves it back to the version
     * it pointed at before {@code expected} was promoted, and records the move as a {@code rollback}.
     * Rollbacks are skipped when walking back, so repeated rollbacks walk further back.
     *
     * @param expected the version the caller saw and wants rolled back
     * @return the version the alias points at now
     * @throws AliasConflictException if the alias points elsewhere than {@code expected}
     * @throws ModelNotFoundException if the model, or the version its history goes back to, does not exist
     * @throws IllegalStateException if the alias was never set or has nothing earlier
     * @throws ModelStoreException if the aliases cannot be read or written
     */
    String rollback(String name, String alias, String expected);

    /**
     * Compare-and-set rollback to a chosen version: if the alias points at {@code expected}, points it
     * at {@code version} and records the move as a {@code rollback} (so later rollbacks walk past it).
     * For a caller that knows what {@code expected} replaced, such as the trainer undoing its own
     * promotion.
     *
     * @throws AliasConflictException if the alias points elsewhere than {@code expected}
     * @throws ModelNotFoundException if the model or version does not exist
     * @throws IllegalArgumentException if the name, alias or a version is malformed
     * @throws ModelStoreException if the aliases cannot be read or written
     */
    void rollbackTo(String name, String alias, String expected, String version);

    /**
     * The digest that pins a version: the lowercase hex sha256 of its manifest's bytes as stored. The
     * manifest lists the sha256 of every parameter file and the settings the version is served
     * with, so two stores agree on a digest only if they hold the same artifact. Announcements
     * carry it; {@link LoadedArtifact#requireDigest} checks it.
     *
     * @throws ModelNotFoundException if the model or version does not exist
     * @throws CorruptArtifactException if the manifest is missing
     * @throws ModelStoreException if it cannot be read
     */
    String digest(String name, String version);

    /**
     * The manifest of one version, byte for byte as stored: what {@link #digest} hashes, and what a
     * copy of the version elsewhere must hold to keep that digest ({@link #install}).
     *
     * @throws ModelNotFoundException if the model or version does not exist
     * @throws CorruptArtifactException if the manifest is missing
     * @throws ModelStoreException if it cannot be read
     */
    byte[] manifestBytes(String name, String version);

    /**
     * Adds a version made by another store under its own number, with its manifest's exact bytes, so
     * that its digest is the same here: how an instance's local store, acting as a cache, takes a
     * version that travelled through Kafka. The manifest must name {@code name@version}, list exactly
     * {@code files}, and every file must match its sha256; the version becomes visible all at once
     * or not at all. Aliases are not touched.
     *
     * @return true if installed, false if this store already held the very same artifact (same digest)
     * @throws CorruptArtifactException if the manifest or a file does not check out
     * @throws ArtifactMismatchException if the store holds a different artifact under that version
     * @throws IncompatibleArtifactException if the manifest's format version is too new
     * @throws IllegalArgumentException if the name, version or a file name is malformed
     * @throws ModelStoreException if it cannot be written
     */
    boolean install(String name, String version, byte[] manifestBytes, Map<String, byte[]> files);

    /**
     * The model's alias history, oldest first.
     *
     * @throws ModelNotFoundException if the model does not exist
     * @throws ModelStoreException if the history cannot be read
     */
    List<AliasMove> aliasHistory(String name);
}

package io.metastream.store;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A {@link ModelStore} in a local directory:
 * <pre>
 * root/&lt;name&gt;/&lt;version&gt;/manifest.json + parameter files
 * root/&lt;name&gt;/aliases.json
 * root/&lt;name&gt;/alias-history.jsonl
 * </pre>
 * Publishing writes into a hidden {@code .tmp-<uuid>} directory, forces every file and the directory
 * to disk, then renames it to the version directory atomically, so a crash never leaves half a
 * version. Leftover {@code .tmp-*} entries are never listed and are deleted by a later publish once
 * older than {@link #STALE_TMP_AGE} (so a concurrent publisher in another process is not disturbed).
 * Version allocation and alias moves are serialised within this instance; if another process
 * takes a version number first, publish moves on to the next.
 */
public final class LocalDirectoryModelStore implements ModelStore {
    /** How old (by last-modified time against the store's clock) a temp entry must be to be removed. */
    public static final Duration STALE_TMP_AGE = Duration.ofHours(1);
    private static final int MAX_PUBLISH_ATTEMPTS = 1000;

    private final Path root;
    private final Clock clock;
    private final Object lock = new Object();

    /** A store under {@code root} using the system UTC clock. */
    public LocalDirectoryModelStore(Path root) {
        this(root, Clock.systemUTC());
    }

    /**
     * A store under {@code root} (created on first publish) stamping manifests and alias moves with
     * {@code clock}.
     *
     * @throws IllegalArgumentException if an argument is null
     */
    public LocalDirectoryModelStore(Path root, Clock clock) {
        if (root == null || clock == null) {
            throw new IllegalArgumentException("root and clock must be set, were: " + root + ", " + clock);
        }
        this.root = root;
        this.clock = clock;
    }

    /** The store's root directory. */
    public Path root() {
        return root;
    }

    @Override
    public ModelManifest publish(String name, ModelManifest.Builder draft, Map<String, byte[]> files) {
        Names.checkModelName(name);
        if (draft == null || files == null || files.isEmpty()) {
            throw new IllegalArgumentException("publish of " + name + " needs a draft and at least one file, were: "
                    + draft + ", " + (files == null ? null : files.keySet()));
        }
        Map<String, String> digests = new TreeMap<>();
        files.forEach((fileName, bytes) -> {
            Names.checkFileName(fileName);
            if (bytes == null) {
                throw new IllegalArgumentException("contents of file '" + fileName + "' must be set, were: null");
            }
            digests.put(fileName, Sha256.hex(bytes));
        });
        // Validates the draft before anything touches the disk; the version is allocated at commit.
        ModelManifest manifest = draft.copy().setName(name).setVersion("1").setCreatedAt(clock.instant())
                .setFiles(digests).build();

        Path modelDir = root.resolve(name);
        Path tmp = null;
        try {
            createModelDir(modelDir);
            DurableFiles.removeStaleTemps(modelDir, clock.instant().minus(STALE_TMP_AGE));
            tmp = modelDir.resolve(DurableFiles.TMP_PREFIX + UUID.randomUUID());
            Files.createDirectory(tmp);
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                DurableFiles.write(tmp.resolve(file.getKey()), file.getValue());
            }
            byte[] written = commit(modelDir, tmp, manifest);
            return Json.bind(Json.MAPPER.readTree(written), ModelManifest.class, name, Names.MANIFEST_FILE);
        } catch (IOException e) {
            discard(tmp, e);
            throw new ModelStoreException("cannot publish " + name + " under " + root + ": " + e, e);
        } catch (RuntimeException e) {
            discard(tmp, e);
            throw e;
        }
    }

    /**
     * Writes the manifest for the next free version into {@code tmp} and renames {@code tmp} to it,
     * moving on to the next number while the target already exists (taken by another process).
     *
     * @return the manifest bytes as written
     */
    private byte[] commit(Path modelDir, Path tmp, ModelManifest draft) throws IOException {
        synchronized (lock) {
            long candidate = nextVersion(modelDir);
            for (int attempt = 0; attempt < MAX_PUBLISH_ATTEMPTS; attempt++, candidate++) {
                ModelManifest manifest = draft.withVersion(Long.toString(candidate));
                byte[] json = Json.write(manifest);
                DurableFiles.write(tmp.resolve(Names.MANIFEST_FILE), json);
                DurableFiles.forceDirectory(tmp);
                Path target = modelDir.resolve(manifest.version());
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (FileSystemException e) {
                    if (Files.exists(target)) {
                        continue; // another publisher took this number
                    }
                    throw e;
                }
                DurableFiles.forceDirectory(modelDir);
                return json;
            }
            throw new ModelStoreException("no free version for " + draft.name() + " after "
                    + MAX_PUBLISH_ATTEMPTS + " attempts, last tried " + (candidate - 1));
        }
    }

    @Override
    public LoadedArtifact load(String name, String versionOrAlias) {
        Names.checkModelName(name);
        String version = resolve(name, versionOrAlias);
        Path dir = root.resolve(name).resolve(version);
        if (!Files.isDirectory(dir)) {
            throw new ModelNotFoundException("no version " + name + "@" + version + " in " + root);
        }
        ModelManifest manifest = readManifest(name, version, dir);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        manifest.files().forEach((fileName, expected) -> {
            byte[] bytes = readArtifactFile(manifest.ref(), dir.resolve(fileName));
            ArtifactVerifier.checkDigest(manifest.ref(), fileName, bytes, expected);
            contents.put(fileName, bytes);
        });
        return new LoadedArtifact(manifest, contents);
    }

    /**
     * Reads and verifies an artifact directory that is not part of a store, such as a version
     * copied out of another store, so it can be {@link #publish published} here.
     *
     * @throws CorruptArtifactException if the manifest or a file is missing, unparseable or does not
     *     match its sha256
     * @throws IncompatibleArtifactException if the manifest's format version is too new
     */
    public static LoadedArtifact readArtifactDirectory(Path dir) {
        String where = dir.toString();
        byte[] manifestBytes = readFile(where, dir.resolve(Names.MANIFEST_FILE));
        JsonNode tree = Json.readVersioned(manifestBytes, where, Names.MANIFEST_FILE,
                ModelManifest.CURRENT_FORMAT_VERSION);
        ModelManifest manifest = Json.bind(tree, ModelManifest.class, where, Names.MANIFEST_FILE);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        manifest.files().forEach((fileName, expected) -> {
            byte[] bytes = readFile(manifest.ref(), dir.resolve(fileName));
            ArtifactVerifier.checkDigest(manifest.ref(), fileName, bytes, expected);
            contents.put(fileName, bytes);
        });
        return new LoadedArtifact(manifest, contents);
    }

    private static byte[] readFile(String ref, Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CorruptArtifactException(ref, file.getFileName().toString(), "missing", e);
        } catch (IOException e) {
            throw new ModelStoreException("cannot read " + file + " of " + ref + ": " + e, e);
        }
    }

    @Override
    public List<String> modelNames() {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(root)) {
            List<String> names = new ArrayList<>();
            for (Path dir : entries.toList()) {
                String name = dir.getFileName().toString();
                if (Names.MODEL_NAME.matcher(name).matches() && !versionNumbers(dir).isEmpty()) {
                    names.add(name);
                }
            }
            names.sort(null);
            return names;
        } catch (IOException e) {
            throw new ModelStoreException("cannot list models in " + root + ": " + e, e);
        }
    }

    @Override
    public List<ModelManifest> versions(String name) {
        Path modelDir = requireModel(name);
        try {
            List<ModelManifest> manifests = new ArrayList<>();
            for (long v : versionNumbers(modelDir)) {
                String version = Long.toString(v);
                manifests.add(readManifest(name, version, modelDir.resolve(version)));
            }
            return manifests;
        } catch (IOException e) {
            throw new ModelStoreException("cannot list versions of " + name + " in " + root + ": " + e, e);
        }
    }

    @Override
    public Optional<String> alias(String name, String alias) {
        Path modelDir = requireModel(name);
        Names.checkAlias(alias);
        try {
            return Optional.ofNullable(new AliasBook(modelDir, name).read().get(alias));
        } catch (IOException e) {
            throw new ModelStoreException("cannot read aliases of " + name + " in " + root + ": " + e, e);
        }
    }

    @Override
    public void setAlias(String name, String alias, String version) {
        Path modelDir = requireModel(name);
        Names.checkAlias(alias);
        Names.checkVersion(version);
        if (!Files.isDirectory(modelDir.resolve(version))) {
            throw new ModelNotFoundException("cannot point " + name + " alias '" + alias + "' at missing version "
                    + name + "@" + version);
        }
        synchronized (lock) {
            try {
                new AliasBook(modelDir, name).move(alias, version, clock.instant());
            } catch (IOException e) {
                throw new ModelStoreException("cannot set alias '" + alias + "' of " + name + " to " + version
                        + ": " + e, e);
            }
        }
    }

    @Override
    public String rollback(String name, String alias) {
        Path modelDir = requireModel(name);
        Names.checkAlias(alias);
        synchronized (lock) {
            try {
                return new AliasBook(modelDir, name).rollback(alias, clock.instant());
            } catch (IOException e) {
                throw new ModelStoreException("cannot roll back alias '" + alias + "' of " + name + ": " + e, e);
            }
        }
    }

    @Override
    public List<AliasMove> aliasHistory(String name) {
        Path modelDir = requireModel(name);
        try {
            return new AliasBook(modelDir, name).history();
        } catch (IOException e) {
            throw new ModelStoreException("cannot read the alias history of " + name + ": " + e, e);
        }
    }

    private String resolve(String name, String versionOrAlias) {
        if (Names.isVersion(versionOrAlias)) {
            return versionOrAlias;
        }
        return alias(name, versionOrAlias).orElseThrow(() ->
                new ModelNotFoundException("no alias '" + versionOrAlias + "' for model " + name));
    }

    /** The model's directory, if it has at least one published version. */
    private Path requireModel(String name) {
        Names.checkModelName(name);
        Path modelDir = root.resolve(name);
        try {
            if (!Files.isDirectory(modelDir) || versionNumbers(modelDir).isEmpty()) {
                throw new ModelNotFoundException("no model '" + name + "' in " + root);
            }
        } catch (IOException e) {
            throw new ModelStoreException("cannot list versions of " + name + " in " + root + ": " + e, e);
        }
        return modelDir;
    }

    private ModelManifest readManifest(String name, String version, Path dir) {
        byte[] bytes = readArtifactFile(name + "@" + version, dir.resolve(Names.MANIFEST_FILE));
        return ArtifactVerifier.manifest(name, version, bytes);
    }

    /** @throws CorruptArtifactException if the file is missing */
    private byte[] readArtifactFile(String ref, Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CorruptArtifactException(ref, file.getFileName().toString(), "missing", e);
        } catch (IOException e) {
            throw new ModelStoreException("cannot read " + file.getFileName() + " of " + ref + " in " + root
                    + ": " + e, e);
        }
    }

    /** Version numbers present as directories, ascending; temp and other entries are ignored. */
    private static List<Long> versionNumbers(Path modelDir) throws IOException {
        if (!Files.isDirectory(modelDir)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(modelDir)) {
            return entries.filter(Files::isDirectory)
                    .map(p -> p.getFileName().toString())
                    .filter(Names::isVersion)
                    .map(Long::parseLong)
                    .sorted(Comparator.naturalOrder())
                    .toList();
        }
    }

    private static long nextVersion(Path modelDir) throws IOException {
        List<Long> versions = versionNumbers(modelDir);
        return versions.isEmpty() ? 1 : versions.get(versions.size() - 1) + 1;
    }

    private void createModelDir(Path modelDir) throws IOException {
        if (!Files.isDirectory(modelDir)) {
            Files.createDirectories(modelDir);
            DurableFiles.forceDirectory(root);
        }
    }

    private static void discard(Path tmp, Exception failure) {
        if (tmp == null) {
            return;
        }
        try {
            DurableFiles.deleteRecursively(tmp);
        } catch (IOException cleanup) {
            failure.addSuppressed(cleanup);
        }
    }
}

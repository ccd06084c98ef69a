package io.metastream.store;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

/**
 * A {@link ModelStore} in a local directory:
 * <pre>
 * root/&lt;name&gt;/&lt;version&gt;/manifest.json + parameter files
 * root/&lt;name&gt;/aliases.json
 * root/&lt;name&gt;/alias-history.jsonl
 * root/&lt;name&gt;/aliases.lock        (locked while an alias moves; never holds data)
 * </pre>
 * Publishing writes into a hidden {@code .tmp-<uuid>} directory, forces every file and the directory
 * to disk, then renames it to the version directory atomically, so a crash never leaves half a
 * version. Leftover {@code .tmp-*} entries are never listed and are deleted by a later publish once
 * older than {@link #STALE_TMP_AGE} (so a concurrent publisher in another process is not disturbed).
 * Version allocation is serialised within this instance; if another process takes a version
 * number first, publish moves on to the next. Alias moves are serialised across threads and
 * processes by a lock on {@code root/<name>/aliases.lock} (see {@link #LOCK_FILE}); the
 * compare-and-set moves check the alias under that lock.
 */
public final class LocalDirectoryModelStore implements ModelStore {
    /** How old (by last-modified time against the store's clock) a temp entry must be to be removed. */
    public static final Duration STALE_TMP_AGE = Duration.ofHours(1);
    private static final int MAX_PUBLISH_ATTEMPTS = 1000;
    /** The file in each model's directory whose lock serialises alias moves across processes. */
    public static final String LOCK_FILE = "aliases.lock";
    /** How long an alias move waits for another thread's or process's move before it gives up. */
    public static final Duration LOCK_TIMEOUT = Duration.ofSeconds(30);
    private static final long LOCK_POLL_MS = 5;
    /** One lock per model directory (by real path) for every store instance of this JVM. */
    private static final ConcurrentMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

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
            tmp = writeAside(modelDir, files);
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
        byte[] manifestBytes = readArtifactFile(name + "@" + version, dir.resolve(Names.MANIFEST_FILE));
        ModelManifest manifest = ArtifactVerifier.manifest(name, version, manifestBytes);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        manifest.files().forEach((fileName, expected) -> {
            byte[] bytes = readArtifactFile(manifest.ref(), dir.resolve(fileName));
            ArtifactVerifier.checkDigest(manifest.ref(), fileName, bytes, expected);
            contents.put(fileName, bytes);
        });
        return new LoadedArtifact(manifest, contents, Sha256.hex(manifestBytes));
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
        return new LoadedArtifact(manifest, contents, Sha256.hex(manifestBytes));
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
        Path modelDir = requireVersion(name, alias, version);
        withAliasLock(modelDir, name, "set alias '" + alias + "' of " + name + " to " + version,
                book -> book.move(alias, false, null, version, clock.instant(), null));
    }

    @Override
    public boolean compareAndSetAlias(String name, String alias, String expected, String version) {
        Path modelDir = requireVersion(name, alias, version);
        if (expected != null) {
            Names.checkVersion(expected);
        }
        return withAliasLock(modelDir, name, "move alias '" + alias + "' of " + name + " from " + expected + " to "
                + version, book -> book.move(alias, true, expected, version, clock.instant(), null));
    }

    @Override
    public String rollback(String name, String alias, String expected) {
        Path modelDir = requireModel(name);
        Names.checkAlias(alias);
        return withAliasLock(modelDir, name, "roll back alias '" + alias + "' of " + name,
                book -> book.rollback(alias, expected, clock.instant()));
    }

    @Override
    public void rollbackTo(String name, String alias, String expected, String version) {
        Path modelDir = requireVersion(name, alias, version);
        Names.checkVersion(expected);
        withAliasLock(modelDir, name, "roll back alias '" + alias + "' of " + name + " from " + expected + " to "
                + version, book -> book.move(alias, true, expected, version, clock.instant(), AliasBook.ROLLBACK));
    }

    @Override
    public String digest(String name, String version) {
        Path modelDir = requireModel(name);
        Names.checkVersion(version);
        Path dir = modelDir.resolve(version);
        if (!Files.isDirectory(dir)) {
            throw new ModelNotFoundException("no version " + name + "@" + version + " in " + root);
        }
        return Sha256.hex(readArtifactFile(name + "@" + version, dir.resolve(Names.MANIFEST_FILE)));
    }

    @Override
    public byte[] manifestBytes(String name, String version) {
        Path modelDir = requireModel(name);
        Names.checkVersion(version);
        Path dir = modelDir.resolve(version);
        if (!Files.isDirectory(dir)) {
            throw new ModelNotFoundException("no version " + name + "@" + version + " in " + root);
        }
        return readArtifactFile(name + "@" + version, dir.resolve(Names.MANIFEST_FILE));
    }

    @Override
    public boolean install(String name, String version, byte[] manifestBytes, Map<String, byte[]> files) {
        Names.checkModelName(name);
        Names.checkVersion(version);
        if (manifestBytes == null || files == null) {
            throw new IllegalArgumentException("install of " + name + "@" + version
                    + " needs the manifest and the files, were: " + manifestBytes + ", " + files);
        }
        ModelManifest manifest = ArtifactVerifier.manifest(name, version, manifestBytes);
        String ref = manifest.ref();
        if (!files.keySet().equals(manifest.files().keySet())) {
            throw new CorruptArtifactException(ref, Names.MANIFEST_FILE, "lists files " + manifest.files().keySet()
                    + " but " + files.keySet() + " were given", null);
        }
        manifest.files().forEach((fileName, expected) -> {
            Names.checkFileName(fileName);
            ArtifactVerifier.checkDigest(ref, fileName, files.get(fileName), expected);
        });
        String digest = Sha256.hex(manifestBytes);
        Path modelDir = root.resolve(name);
        Path target = modelDir.resolve(version);
        Path tmp = null;
        try {
            if (Files.isDirectory(target)) {
                return requireSameDigest(name, version, digest);
            }
            tmp = writeAside(modelDir, files);
            DurableFiles.write(tmp.resolve(Names.MANIFEST_FILE), manifestBytes);
            DurableFiles.forceDirectory(tmp);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                if (!Files.isDirectory(target)) {
                    throw e;
                }
                // Another installer or publisher got there first: the same artifact is fine.
                discard(tmp, e);
                return requireSameDigest(name, version, digest);
            }
            DurableFiles.forceDirectory(modelDir);
            return true;
        } catch (IOException e) {
            discard(tmp, e);
            throw new ModelStoreException("cannot install " + ref + " under " + root + ": " + e, e);
        } catch (RuntimeException e) {
            discard(tmp, e);
            throw e;
        }
    }

    /**
     * Creates the model directory if needed, removes stale temps, and writes {@code files} into a
     * fresh hidden temp directory, which it returns; on failure the temp directory is removed.
     */
    private Path writeAside(Path modelDir, Map<String, byte[]> files) throws IOException {
        createModelDir(modelDir);
        DurableFiles.removeStaleTemps(modelDir, clock.instant().minus(STALE_TMP_AGE));
        Path tmp = modelDir.resolve(DurableFiles.TMP_PREFIX + UUID.randomUUID());
        Files.createDirectory(tmp);
        try {
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                DurableFiles.write(tmp.resolve(file.getKey()), file.getValue());
            }
        } catch (IOException | RuntimeException e) {
            discard(tmp, e);
            throw e;
        }
        return tmp;
    }

    /** @return false, if {@code name@version} here has {@code digest}; else throws */
    private boolean requireSameDigest(String name, String version, String digest) {
        String held = digest(name, version);
        if (!held.equalsIgnoreCase(digest)) {
            throw new ArtifactMismatchException(name + "@" + version, digest, held);
        }
        return false;
    }

    /** The model's directory, once the alias and version are well-formed and the version exists. */
    private Path requireVersion(String name, String alias, String version) {
        Path modelDir = requireModel(name);
        Names.checkAlias(alias);
        Names.checkVersion(version);
        if (!Files.isDirectory(modelDir.resolve(version))) {
            throw new ModelNotFoundException("cannot point " + name + " alias '" + alias + "' at missing version "
                    + name + "@" + version);
        }
        return modelDir;
    }

    /** One alias operation, run while no other thread or process moves this model's aliases. */
    private interface AliasOperation<T> {
        T apply(AliasBook book) throws IOException;
    }

    /**
     * Runs {@code operation} holding this JVM's lock for the model directory and the operating
     * system's lock on its {@link #LOCK_FILE}. Both are needed: a file lock is held by the whole JVM,
     * so a second thread asking for it gets an {@link java.nio.channels.OverlappingFileLockException}
     * rather than a wait, and two store instances on one directory each have their own monitor.
     *
     * @throws ModelStoreException if the locks are not had within {@link #LOCK_TIMEOUT} or an I/O error occurs
     */
    private <T> T withAliasLock(Path modelDir, String name, String what, AliasOperation<T> operation) {
        long deadline = System.nanoTime() + LOCK_TIMEOUT.toNanos();
        try {
            Path key = modelDir.toRealPath();
            ReentrantLock local = JVM_LOCKS.computeIfAbsent(key, k -> new ReentrantLock());
            if (!local.tryLock(LOCK_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new ModelStoreException("cannot " + what + ": another thread of this process has held the "
                        + "aliases of " + name + " for over " + LOCK_TIMEOUT.toSeconds() + " s");
            }
            try (FileChannel channel = FileChannel.open(key.resolve(LOCK_FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE)) {
                FileLock fileLock = channel.tryLock();
                while (fileLock == null) {
                    if (System.nanoTime() > deadline) {
                        throw new ModelStoreException("cannot " + what + ": another process has held "
                                + key.resolve(LOCK_FILE) + " for over " + LOCK_TIMEOUT.toSeconds() + " s");
                    }
                    Thread.sleep(LOCK_POLL_MS);
                    fileLock = channel.tryLock();
                }
                try {
                    return operation.apply(new AliasBook(modelDir, name));
                } finally {
                    fileLock.release();
                }
            } finally {
                local.unlock();
            }
        } catch (IOException e) {
            throw new ModelStoreException("cannot " + what + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelStoreException("interrupted while waiting to " + what, e);
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

package io.metastream.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/** File writes that survive a crash: every write is forced to disk, replacements are atomic renames. */
final class DurableFiles {
    /** Prefix of write-aside files and directories; listing ignores them, publish cleans stale ones. */
    static final String TMP_PREFIX = ".tmp-";

    private static final boolean POSIX = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    private DurableFiles() {
    }

    /** Creates or truncates {@code file}, writes {@code bytes} and forces them to disk. */
    static void write(Path file, byte[] bytes) throws IOException {
        writeForced(file, bytes, StandardOpenOption.TRUNCATE_EXISTING);
    }

    /** Appends {@code bytes} to {@code file} (created if absent) and forces them to disk. */
    static void append(Path file, byte[] bytes) throws IOException {
        writeForced(file, bytes, StandardOpenOption.APPEND);
    }

    /**
     * Replaces {@code target} with {@code bytes} in one step: writes a sibling temp file, forces it,
     * renames it over the target and forces the directory. Readers see the old or the new content.
     */
    static void replace(Path target, byte[] bytes) throws IOException {
        Path tmp = target.resolveSibling(TMP_PREFIX + UUID.randomUUID() + "-" + target.getFileName());
        try {
            write(tmp, bytes);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        forceDirectory(target.getParent());
    }

    /**
     * Forces a directory's entries (creations, renames) to disk. Platforms that cannot open a
     * directory (Windows) skip this; on POSIX systems a failure is thrown.
     */
    static void forceDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            if (POSIX) {
                throw e;
            }
        }
    }

    /** Deletes a file or a directory tree; absent paths are fine. */
    static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /**
     * Deletes the {@link #TMP_PREFIX} entries of {@code dir} last modified before {@code cutoff}:
     * leftovers of a crashed write, too old to belong to a write still in progress.
     */
    static void removeStaleTemps(Path dir, Instant cutoff) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p : entries.toList()) {
                if (p.getFileName().toString().startsWith(TMP_PREFIX)
                        && Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
                    deleteRecursively(p);
                }
            }
        }
    }

    private static void writeForced(Path file, byte[] bytes, StandardOpenOption mode) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, mode)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(true);
        }
    }
}

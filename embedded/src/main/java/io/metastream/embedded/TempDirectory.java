package io.metastream.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A temporary directory that is deleted, with everything in it, on {@link #close()}. */
public final class TempDirectory implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TempDirectory.class);
    private final Path path;

    private TempDirectory(Path path) {
        this.path = path;
    }

    /** @throws UncheckedIOException if the directory cannot be created */
    public static TempDirectory create(String prefix) {
        try {
            return new TempDirectory(Files.createTempDirectory(prefix));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary directory " + prefix + "*", e);
        }
    }

    public Path path() {
        return path;
    }

    /** Deletes the tree; a leftover is logged, not thrown, because it harms nothing. Idempotent. */
    @Override
    public void close() {
        if (Files.notExists(path)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(path)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("could not delete {}", path, e);
        }
    }
}

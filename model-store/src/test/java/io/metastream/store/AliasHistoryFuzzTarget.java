package io.metastream.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * Any bytes as a model's {@code alias-history.jsonl} (a file a killed writer, a full disk or an
 * operator's editor may have left): {@link AliasBook#history} refuses it with a
 * {@link CorruptArtifactException}, as it documents, or reads it as moves the store could have
 * made (a rollback trusts a line's versions); and a history it reads never swallows the next move:
 * after a move, the history reads as before plus that move, last. Anything else is a finding.
 */
class AliasHistoryFuzzTarget {
    private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
    private static final Path DIR = tempDir();

    @FuzzTest(maxDuration = "15s")
    void readAnyHistory(byte[] bytes) throws IOException {
        Files.deleteIfExists(DIR.resolve(AliasBook.ALIASES_FILE));
        Files.write(DIR.resolve(AliasBook.HISTORY_FILE), bytes);
        AliasBook book = new AliasBook(DIR, "m");
        List<AliasMove> before;
        try {
            before = book.history();
        } catch (CorruptArtifactException refused) {
            return;
        }
        for (AliasMove m : before) {
            // A rollback moves the alias to a line's "from": what the history yields must be a move
            // the store could have made.
            assertTrue(Names.ALIAS.matcher(m.alias()).matches(), m::toString);
            assertTrue(Names.isVersion(m.to()), m::toString);
            assertTrue(m.from() == null || Names.isVersion(m.from()), m::toString);
        }
        // No aliases.json: nothing to recover, so the move adds exactly one line.
        book.move("production", false, null, "7", NOW, null);
        List<AliasMove> after = book.history();
        assertEquals(before, after.subList(0, after.size() - 1));
        assertEquals(new AliasMove(NOW, "production", null, "7", "set"), after.get(after.size() - 1));
    }

    private static Path tempDir() {
        try {
            Path dir = Files.createTempDirectory("alias-fuzz");
            dir.toFile().deleteOnExit();
            dir.resolve(AliasBook.HISTORY_FILE).toFile().deleteOnExit();
            dir.resolve(AliasBook.ALIASES_FILE).toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

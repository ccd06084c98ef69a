package io.metastream.store;

import static io.metastream.store.LocalDirectoryModelStoreTest.NOW;
import static io.metastream.store.LocalDirectoryModelStoreTest.draft;
import static io.metastream.store.LocalDirectoryModelStoreTest.files;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Histories as a killed writer leaves them: the last line cut short, or missing while
 * {@code aliases.json} already moved. Reads skip the torn tail, the next move neither swallows a
 * line nor breaks later rollbacks, and the lost move is recorded as {@code recovered}.
 */
class AliasHistoryRepairTest {
    @TempDir
    Path root;

    private LocalDirectoryModelStore store;
    private Path history;

    @BeforeEach
    void setUp() {
        store = new LocalDirectoryModelStore(root, Clock.fixed(NOW, ZoneOffset.UTC));
        for (int i = 0; i < 4; i++) {
            store.publish("m", draft(), files());
        }
        history = root.resolve("m").resolve(AliasBook.HISTORY_FILE);
    }

    @Test
    void shouldIgnoreATornLastLineAndNotLetItSwallowTheNextMove() throws IOException {
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        // A writer killed mid-append: a third line without its end.
        String torn = "{\"time\":\"2025-06-01T12:00:00Z\",\"alias\":\"production\",\"from\":\"2\",\"to";
        Files.writeString(history, torn, StandardCharsets.UTF_8, StandardOpenOption.APPEND);

        assertThat(store.aliasHistory("m")).extracting(AliasMove::to).containsExactly("1", "2");
        store.compareAndSetAlias("m", "production", "2", "3");

        List<String> lines = Files.readAllLines(history, StandardCharsets.UTF_8);
        assertThat(lines).hasSize(3).noneMatch(l -> l.contains(torn));
        assertThat(store.aliasHistory("m")).extracting(AliasMove::to).containsExactly("1", "2", "3");
        assertThat(store.rollback("m", "production", "3")).isEqualTo("2");
        assertThat(store.rollback("m", "production", "2")).isEqualTo("1");
    }

    /** aliases.json moved, then the writer died inside the history append: the alias is 3, its line half there. */
    @Test
    void shouldRecordAMoveWhoseLineWasTornAsRecoveredSoRollbackStillWorks() throws IOException {
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        store.compareAndSetAlias("m", "production", "2", "3");
        cutInsideLastLine();
        assertThat(store.alias("m", "production")).contains("3");
        assertThat(store.aliasHistory("m")).extracting(AliasMove::to).containsExactly("1", "2");

        assertThat(store.rollback("m", "production", "3")).as("back to where the lost move came from")
                .isEqualTo("2");
        List<AliasMove> moves = store.aliasHistory("m");
        assertThat(moves).extracting(AliasMove::action).containsExactly("set", "move", "recovered", "rollback");
        assertThat(moves.get(2).from()).isEqualTo("2");
        assertThat(moves.get(2).to()).isEqualTo("3");
        assertThat(Files.readString(history, StandardCharsets.UTF_8)).endsWith("\n");
    }

    /**
     * A rollback 3 to 2 whose history line was lost: the repair records it as recovered 3 to 2, and
     * the next rollback must go on to 1, not back to the 3 just rolled back (found in review).
     */
    @Test
    void shouldNotTakeALostRollbackForAPromotionWhenWalkingBack() throws IOException {
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        store.compareAndSetAlias("m", "production", "2", "3");
        assertThat(store.rollback("m", "production", "3")).isEqualTo("2");
        cutInsideLastLine(); // the rollback's line is lost; aliases.json says 2

        assertThat(store.rollback("m", "production", "2")).as("before 2 came 1").isEqualTo("1");
        assertThat(store.aliasHistory("m")).extracting(AliasMove::action)
                .containsExactly("set", "move", "move", "recovered", "rollback");
    }

    @Test
    void shouldKeepALastLineThatLacksOnlyItsNewline() throws IOException {
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        try (FileChannel channel = FileChannel.open(history, StandardOpenOption.WRITE)) {
            channel.truncate(Files.size(history) - 1);
        }
        assertThat(store.aliasHistory("m")).extracting(AliasMove::to).containsExactly("1", "2");
        store.compareAndSetAlias("m", "production", "2", "3");
        assertThat(store.aliasHistory("m")).extracting(AliasMove::action).containsExactly("set", "move", "move");
    }

    /** What the old writer did after a torn line: appended the next entry on the same line. */
    @Test
    void shouldReadTheEntryAnOlderWriterAppendedBehindATornLine() throws IOException {
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        List<String> lines = Files.readAllLines(history, StandardCharsets.UTF_8);
        String glued = lines.get(0) + "\n" + lines.get(1).substring(0, 30) + lines.get(1) + "\n";
        Files.writeString(history, glued, StandardCharsets.UTF_8);

        assertThat(store.aliasHistory("m")).extracting(AliasMove::to).containsExactly("1", "2");
        assertThat(store.rollback("m", "production", "2")).isEqualTo("1");
    }

    @Test
    void shouldRefuseAGarbledLineInTheMiddleNamingIt() throws IOException {
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        List<String> lines = Files.readAllLines(history, StandardCharsets.UTF_8);
        Files.writeString(history, lines.get(0) + "\nnot json at all\n" + lines.get(1) + "\n", StandardCharsets.UTF_8);

        assertThatThrownBy(() -> store.aliasHistory("m")).isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining(AliasBook.HISTORY_FILE).hasMessageContaining("line 2");
    }

    @Test
    void shouldRefuseALineWhoseVersionsTheStoreCouldNotHaveWritten() throws IOException {
        // Found by AliasHistoryFuzzTarget (its Inputs hold the file it found): a line moving to "0"
        // was read as a move, and a rollback would have pointed the alias at a line's "from"
        // whatever it held ("../x" here), leaving aliases.json unreadable for every later call.
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        String forged = "{\"time\":\"2025-06-01T12:00:00Z\",\"alias\":\"production\",\"from\":\"../x\",\"to\":\"2\","
                + "\"action\":\"move\"}\n";
        Files.writeString(history, forged, StandardCharsets.UTF_8, StandardOpenOption.APPEND);

        assertThatThrownBy(() -> store.aliasHistory("m")).isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("line 3 is not an alias move");
        assertThatThrownBy(() -> store.rollback("m", "production", "2")).isInstanceOf(CorruptArtifactException.class);
        assertThat(store.alias("m", "production")).contains("2");

        String found = "{\"time\":\"2025-06-01T12:05:00Z\",\"alias\":\"a\",\"from\":\"3\",\"to\":\"0\",\"action\":\"recover\"}\n";
        Files.writeString(history, found, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> store.aliasHistory("m")).isInstanceOf(CorruptArtifactException.class)
                .hasMessageContaining("line 1 is not an alias move");
    }

    @Test
    void shouldRefuseToRollBackToAVersionThatIsNotInTheStore() throws IOException {
        store.setAlias("m", "production", "1");
        store.compareAndSetAlias("m", "production", "1", "2");
        String elsewhere = "{\"time\":\"2025-06-01T12:00:00Z\",\"alias\":\"production\",\"from\":\"9\",\"to\":\"2\","
                + "\"action\":\"move\"}\n";
        Files.writeString(history, elsewhere, StandardCharsets.UTF_8, StandardOpenOption.APPEND);

        assertThatThrownBy(() -> store.rollback("m", "production", "2")).isInstanceOf(ModelNotFoundException.class)
                .hasMessageContaining("m@9: that version is not in the store");
        assertThat(store.alias("m", "production")).contains("2");
    }

    private void cutInsideLastLine() throws IOException {
        byte[] bytes = Files.readAllBytes(history);
        int lastLineStart = bytes.length - 2;
        while (bytes[lastLineStart] != '\n') {
            lastLineStart--;
        }
        try (FileChannel channel = FileChannel.open(history, StandardOpenOption.WRITE)) {
            channel.truncate(lastLineStart + 1 + (bytes.length - lastLineStart) / 2);
            channel.force(true);
        }
    }
}

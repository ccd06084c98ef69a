package io.metastream.store;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The aliases of one model: {@code aliases.json} (replaced atomically) and the append-only
 * {@code alias-history.jsonl}, one JSON line per move.
 *
 * <p>{@code aliases.json} is the truth; the history explains it. A move replaces
 * {@code aliases.json} first, then appends its line, so a writer killed in between leaves the alias
 * moved and its line missing or torn (a last line without its newline). Reading ignores a torn last
 * line. Before every move the book repairs the history: it cuts a torn tail (so it cannot swallow
 * the next line) and, for each alias whose last recorded move does not end where
 * {@code aliases.json} says, appends a {@code recovered} line from the one to the other.
 *
 * <p>Not thread-safe, and the moves assume one writer: the store holds its cross-process lock around them.
 */
final class AliasBook {
    static final String ALIASES_FILE = "aliases.json";
    static final String HISTORY_FILE = "alias-history.jsonl";
    static final int CURRENT_FORMAT_VERSION = 1;
    /** The action of a line the book wrote to stand for one a crash lost. */
    static final String RECOVERED = "recovered";
    static final String ROLLBACK = "rollback";
    /**
     * Every history line starts with this (the writer puts {@code time} first). A line written by an
     * older version right after a torn one carries the torn text in front of it; the entry is read
     * from the last occurrence.
     */
    private static final String LINE_START = "{\"time\":";

    private final Path modelDir;
    private final String modelName;

    AliasBook(Path modelDir, String modelName) {
        this.modelDir = modelDir;
        this.modelName = modelName;
    }

    /**
     * The current alias to version map, sorted by alias; empty if no alias was ever set.
     *
     * @throws CorruptArtifactException if {@code aliases.json} is unparseable
     * @throws IncompatibleArtifactException if its format version is too new
     * @throws IOException if it cannot be read
     */
    SortedMap<String, String> read() throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(modelDir.resolve(ALIASES_FILE));
        } catch (NoSuchFileException e) {
            return new TreeMap<>();
        }
        JsonNode tree = Json.readVersioned(bytes, modelName, ALIASES_FILE, CURRENT_FORMAT_VERSION);
        JsonNode aliases = tree.get("aliases");
        if (aliases == null || !aliases.isObject()) {
            throw new CorruptArtifactException(modelName, ALIASES_FILE, "no 'aliases' object", null);
        }
        SortedMap<String, String> result = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : aliases.properties()) {
            if (!Names.isVersion(e.getValue().asText(null))) {
                throw new CorruptArtifactException(modelName, ALIASES_FILE,
                        "alias '" + e.getKey() + "' points at no version: " + e.getValue(), null);
            }
            result.put(e.getKey(), e.getValue().asText());
        }
        return result;
    }

    /**
     * Points {@code alias} at {@code version}, if {@code check} only when it points at {@code expected}
     * now: rewrites {@code aliases.json} atomically, then appends the move to the history.
     *
     * @param action recorded action; null for {@code set} or {@code move}
     * @return false if the alias already pointed at {@code version} (nothing is written)
     * @throws AliasConflictException if {@code check} and the alias points elsewhere than {@code expected}
     * @throws IOException if a file cannot be read or written
     */
    boolean move(String alias, boolean check, String expected, String version, Instant now, String action)
            throws IOException {
        SortedMap<String, String> aliases = read();
        String current = aliases.get(alias);
        if (check && !Objects.equals(current, expected)) {
            throw new AliasConflictException(modelName, alias, expected, current, version);
        }
        repairHistory(aliases, now);
        if (version.equals(current)) {
            return false;
        }
        aliases.put(alias, version);
        Map<String, Object> file = new LinkedHashMap<>();
        file.put("format_version", CURRENT_FORMAT_VERSION);
        file.put("aliases", aliases);
        DurableFiles.replace(modelDir.resolve(ALIASES_FILE), Json.write(file));
        appendLine(now, alias, current, version, action != null ? action : current == null ? "set" : "move");
        return true;
    }

    /**
     * If {@code alias} points at {@code expected}, moves it back along its promotion history: to the
     * version it pointed at before the move that made it point at {@code expected}. Rollbacks
     * themselves are skipped when walking back, so repeated rollbacks keep going back.
     *
     * @return the version the alias points at now
     * @throws AliasConflictException if the alias points elsewhere than {@code expected}
     * @throws IllegalStateException if the alias was never set or there is nothing earlier to go back to
     * @throws ModelNotFoundException if the version to go back to is not in the store
     * @throws IOException if a file cannot be read or written
     */
    String rollback(String alias, String expected, Instant now) throws IOException {
        SortedMap<String, String> aliases = read();
        String current = aliases.get(alias);
        if (current == null) {
            throw new IllegalStateException("alias '" + alias + "' of " + modelName + " was never set");
        }
        if (!current.equals(expected)) {
            throw new AliasConflictException(modelName, alias, expected, current, "the version before " + expected);
        }
        repairHistory(aliases, now);
        List<AliasMove> history = history();
        for (int i = history.size() - 1; i >= 0; i--) {
            AliasMove m = history.get(i);
            if (m.alias().equals(alias) && !m.action().equals(ROLLBACK) && !undoesEarlierMove(history, i)
                    && current.equals(m.to())) {
                if (m.from() == null) {
                    break;
                }
                if (!Files.isDirectory(modelDir.resolve(m.from()))) {
                    throw new ModelNotFoundException("cannot roll back alias '" + alias + "' of " + modelName + " from "
                            + current + " to " + modelName + "@" + m.from() + ": that version is not in the store");
                }
                move(alias, true, current, m.from(), now, ROLLBACK);
                return m.from();
            }
        }
        throw new IllegalStateException("alias '" + alias + "' of " + modelName + " has no earlier version than "
                + current + " to roll back to");
    }

    /**
     * Whether move {@code i} is a {@code recovered} line that undoes an earlier move (X to Y after
     * Y to X): the lost line was then a rollback, and walking back must not take it for a promotion
     * (it would return to the version just rolled back).
     */
    private static boolean undoesEarlierMove(List<AliasMove> history, int i) {
        AliasMove m = history.get(i);
        if (!m.action().equals(RECOVERED) || m.from() == null) {
            return false;
        }
        for (int j = i - 1; j >= 0; j--) {
            AliasMove earlier = history.get(j);
            if (earlier.alias().equals(m.alias()) && !earlier.action().equals(ROLLBACK)
                    && m.from().equals(earlier.to()) && m.to().equals(earlier.from())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Every recorded move, oldest first. A torn last line (no newline: its writer was killed) is
     * left out unless it is a whole entry.
     *
     * @throws CorruptArtifactException if a complete line is not an alias move: not a JSON object
     *     with a time, a well-formed alias, a version it moved to (and from, unless first set) and an
     *     action
     * @throws IOException if the file cannot be read
     */
    List<AliasMove> history() throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(modelDir.resolve(HISTORY_FILE));
        } catch (NoSuchFileException e) {
            return List.of();
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        List<AliasMove> moves = new ArrayList<>();
        int lineNumber = 0;
        int start = 0;
        while (start < text.length()) {
            int end = text.indexOf('\n', start);
            boolean torn = end < 0;
            String line = text.substring(start, torn ? text.length() : end);
            start = torn ? text.length() : end + 1;
            lineNumber++;
            if (line.isBlank()) {
                continue;
            }
            AliasMove move = parse(line);
            if (move != null) {
                moves.add(move);
            } else if (!torn) {
                throw new CorruptArtifactException(modelName, HISTORY_FILE, "line " + lineNumber
                        + " is not an alias move: " + abbreviate(line), null);
            }
        }
        return moves;
    }

    /** The move on {@code line}, or null if it holds none (torn, garbled). */
    private static AliasMove parse(String line) {
        AliasMove move = parseWhole(line);
        int at = line.lastIndexOf(LINE_START);
        if (move == null && at > 0) {
            move = parseWhole(line.substring(at));
        }
        return move;
    }

    private static AliasMove parseWhole(String line) {
        try {
            JsonNode n = Json.MAPPER.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).readTree(line);
            if (n == null || !n.isObject() || !n.hasNonNull("time") || !n.hasNonNull("alias")
                    || !n.hasNonNull("to") || !n.hasNonNull("action")) {
                return null;
            }
            String alias = n.get("alias").asText();
            String from = n.hasNonNull("from") ? n.get("from").asText() : null;
            String to = n.get("to").asText();
            String action = n.get("action").asText();
            // A rollback moves the alias to a line's "from": a line the store could not have
            // written (found by AliasHistoryFuzzTarget) is no move, lest it point the alias at
            // "../x" and leave aliases.json unreadable.
            if (!Names.ALIAS.matcher(alias).matches() || !Names.isVersion(to) || (from != null && !Names.isVersion(from))
                    || action.isBlank()) {
                return null;
            }
            return new AliasMove(Instant.parse(n.get("time").asText()), alias, from, to, action);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String abbreviate(String line) {
        return line.length() <= 120 ? line : line.substring(0, 120) + "...";
    }

    /**
     * Makes the history end where {@code aliases.json} is: cuts a torn tail, then records each alias
     * whose last line does not end at its current version as {@code recovered}.
     */
    private void repairHistory(SortedMap<String, String> aliases, Instant now) throws IOException {
        cutTornTail();
        Map<String, String> recorded = new TreeMap<>();
        for (AliasMove m : history()) {
            recorded.put(m.alias(), m.to());
        }
        for (Map.Entry<String, String> e : aliases.entrySet()) {
            String last = recorded.get(e.getKey());
            if (!e.getValue().equals(last)) {
                appendLine(now, e.getKey(), last, e.getValue(), RECOVERED);
            }
        }
    }

    /**
     * A history that does not end in a newline was being appended to when its writer died. A whole
     * entry gets its newline; anything less is cut, so the next line starts on a line of its own.
     */
    private void cutTornTail() throws IOException {
        Path file = modelDir.resolve(HISTORY_FILE);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return;
        }
        if (bytes.length == 0 || bytes[bytes.length - 1] == '\n') {
            return;
        }
        int lastNewline = bytes.length - 1;
        while (lastNewline >= 0 && bytes[lastNewline] != '\n') {
            lastNewline--;
        }
        String tail = new String(bytes, lastNewline + 1, bytes.length - lastNewline - 1, StandardCharsets.UTF_8);
        if (parse(tail) != null) {
            DurableFiles.append(file, new byte[] {'\n'});
            return;
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(lastNewline + 1);
            channel.force(true);
        }
    }

    private void appendLine(Instant now, String alias, String from, String to, String action) throws IOException {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("time", now.toString());
        line.put("alias", alias);
        line.put("from", from);
        line.put("to", to);
        line.put("action", action);
        DurableFiles.append(modelDir.resolve(HISTORY_FILE),
                (Json.writeLine(line) + "\n").getBytes(StandardCharsets.UTF_8));
    }
}

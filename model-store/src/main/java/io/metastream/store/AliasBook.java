package io.metastream.store;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The aliases of one model: {@code aliases.json} (replaced atomically) and the append-only
 * {@code alias-history.jsonl}, one JSON line per move. Not thread-safe; the store serialises writers.
 */
final class AliasBook {
    static final String ALIASES_FILE = "aliases.json";
    static final String HISTORY_FILE = "alias-history.jsonl";
    static final int CURRENT_FORMAT_VERSION = 1;

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
     * Points {@code alias} at {@code version}: rewrites {@code aliases.json} atomically, then appends
     * the move to the history. Pointing an alias where it already points changes nothing.
     *
     * @return false if the alias already pointed at {@code version}
     * @throws IOException if a file cannot be read or written
     */
    boolean move(String alias, String version, Instant now) throws IOException {
        return move(alias, version, now, null);
    }

    /**
     * Moves {@code alias} back along its promotion history: to the version it pointed at before
     * the move that made it point at its current version. Rollbacks themselves are skipped when
     * walking back, so repeated rollbacks keep going back.
     *
     * @return the version the alias points at now
     * @throws IllegalStateException if there is nothing earlier to go back to
     * @throws IOException if a file cannot be read or written
     */
    String rollback(String alias, Instant now) throws IOException {
        String current = read().get(alias);
        if (current == null) {
            throw new IllegalStateException("alias '" + alias + "' of " + modelName + " was never set");
        }
        List<AliasMove> history = history();
        for (int i = history.size() - 1; i >= 0; i--) {
            AliasMove m = history.get(i);
            if (m.alias().equals(alias) && !m.action().equals("rollback") && current.equals(m.to())) {
                if (m.from() == null) {
                    break;
                }
                move(alias, m.from(), now, "rollback");
                return m.from();
            }
        }
        throw new IllegalStateException("alias '" + alias + "' of " + modelName + " has no earlier version than "
                + current + " to roll back to");
    }

    /** Every recorded move, oldest first. */
    List<AliasMove> history() throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(modelDir.resolve(HISTORY_FILE), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return List.of();
        }
        List<AliasMove> moves = new ArrayList<>(lines.size());
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n = Json.MAPPER.readTree(line);
            moves.add(new AliasMove(Instant.parse(n.get("time").asText()), n.get("alias").asText(),
                    n.hasNonNull("from") ? n.get("from").asText() : null, n.get("to").asText(),
                    n.get("action").asText()));
        }
        return moves;
    }

    private boolean move(String alias, String version, Instant now, String action) throws IOException {
        SortedMap<String, String> aliases = read();
        String from = aliases.put(alias, version);
        if (version.equals(from)) {
            return false;
        }
        Map<String, Object> file = new LinkedHashMap<>();
        file.put("format_version", CURRENT_FORMAT_VERSION);
        file.put("aliases", aliases);
        DurableFiles.replace(modelDir.resolve(ALIASES_FILE), Json.write(file));

        Map<String, Object> line = new LinkedHashMap<>();
        line.put("time", now.toString());
        line.put("alias", alias);
        line.put("from", from);
        line.put("to", version);
        line.put("action", action != null ? action : from == null ? "set" : "move");
        DurableFiles.append(modelDir.resolve(HISTORY_FILE),
                (Json.writeLine(line) + "\n").getBytes(StandardCharsets.UTF_8));
        return true;
    }
}

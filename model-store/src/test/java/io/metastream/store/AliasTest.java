package io.metastream.store;

import static io.metastream.store.LocalDirectoryModelStoreTest.NOW;
import static io.metastream.store.LocalDirectoryModelStoreTest.draft;
import static io.metastream.store.LocalDirectoryModelStoreTest.files;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AliasTest {
    @TempDir
    Path root;

    private LocalDirectoryModelStore store;

    @BeforeEach
    void setUp() {
        store = new LocalDirectoryModelStore(root, Clock.fixed(NOW, ZoneOffset.UTC));
    }

    @Test
    void shouldResolveAliasAndAppendOneHistoryLinePerMoveWhenAliasMoves() throws IOException {
        store.publish("m", draft(), files());
        store.publish("m", draft(), files());

        store.setAlias("m", "production", "1");
        store.setAlias("m", "candidate", "2");
        store.setAlias("m", "production", "2");
        store.setAlias("m", "production", "2"); // no move, no line

        assertThat(store.alias("m", "production")).contains("2");
        assertThat(store.alias("m", "candidate")).contains("2");
        assertThat(store.alias("m", "shadow")).isEmpty();
        assertThat(store.load("m", "production").manifest().version()).isEqualTo("2");
        List<String> lines = Files.readAllLines(root.resolve("m").resolve("alias-history.jsonl"));
        assertThat(lines).hasSize(3);
        JsonNode last = Json.MAPPER.readTree(lines.get(2));
        assertThat(last.get("alias").asText()).isEqualTo("production");
        assertThat(last.get("from").asText()).isEqualTo("1");
        assertThat(last.get("to").asText()).isEqualTo("2");
        assertThat(last.get("action").asText()).isEqualTo("move");
        assertThat(last.get("time").asText()).isEqualTo(NOW.toString());
        assertThat(Json.MAPPER.readTree(lines.get(0)).get("from").isNull()).isTrue();
        assertThat(Json.MAPPER.readTree(lines.get(0)).get("action").asText()).isEqualTo("set");
    }

    @Test
    void shouldWalkBackThePromotionChainWhenRolledBackRepeatedly() {
        for (int i = 0; i < 3; i++) {
            store.publish("m", draft(), files());
        }
        store.setAlias("m", "production", "1");
        store.setAlias("m", "production", "2");
        store.setAlias("m", "production", "3");

        assertThat(store.rollback("m", "production", "3")).isEqualTo("2");
        assertThat(store.alias("m", "production")).contains("2");
        assertThat(store.rollback("m", "production", "2")).isEqualTo("1");
        assertThatThrownBy(() -> store.rollback("m", "production", "1"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no earlier version than 1");

        store.setAlias("m", "production", "3");
        assertThat(store.rollback("m", "production", "3")).as("a new promotion rolls back to where it came from")
                .isEqualTo("1");
        List<AliasMove> history = store.aliasHistory("m");
        assertThat(history).extracting(AliasMove::action)
                .containsExactly("set", "move", "move", "rollback", "rollback", "move", "rollback");
        assertThat(history.get(3).from()).isEqualTo("3");
        assertThat(history.get(3).to()).isEqualTo("2");
    }

    @Test
    void shouldRefuseRollbackOfAnAliasNeverSet() {
        store.publish("m", draft(), files());
        assertThatThrownBy(() -> store.rollback("m", "production", "1"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("never set");
    }

    @Test
    void shouldRefuseAliasWhenVersionDoesNotExist() {
        store.publish("m", draft(), files());

        assertThatThrownBy(() -> store.setAlias("m", "production", "7"))
                .isInstanceOf(ModelNotFoundException.class).hasMessageContaining("m@7");
        assertThatThrownBy(() -> store.setAlias("m", "7", "1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'7'");
        assertThat(root.resolve("m").resolve("alias-history.jsonl")).doesNotExist();
    }
}

package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md is generated from the {@code ConfigDef}: this test fails when the file is
 * stale. To regenerate it: {@code mvn -B -pl streams test -Dtest=ConfigurationDocsTest
 * -Dmetastream.docs.write=true}.
 */
class ConfigurationDocsTest {
    private static final Path DOC = Path.of("..", "docs", "configuration.md");

    static String expected() {
        return "# Configuration\n\n"
                + "Every key of `run --config FILE`, `demo --set key=value` and `MetastreamConfig`, generated from its\n"
                + "`ConfigDef` (`MetastreamConfig.markdownTable()`); `streams.*` keys go to Kafka Streams with the\n"
                + "prefix removed, and `security.protocol`, `ssl.*` and `sasl.*` to every Kafka client unchanged.\n\n"
                + MetastreamConfig.markdownTable();
    }

    @Test
    void shouldMatchTheConfigDef() throws IOException {
        String expected = expected();
        if (Boolean.getBoolean("metastream.docs.write")) {
            Files.writeString(DOC, expected, StandardCharsets.UTF_8);
        }
        assertThat(Files.readString(DOC, StandardCharsets.UTF_8))
                .as("docs/configuration.md is stale: regenerate it with -Dmetastream.docs.write=true (see this test)")
                .isEqualTo(expected);
        assertThat(expected).contains("`http.host`", "`task.max.count`", "`schema.registry.retries`")
                .doesNotContain("null |");
    }
}

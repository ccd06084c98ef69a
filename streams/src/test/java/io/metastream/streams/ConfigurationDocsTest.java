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
                + "Every key can also be set by an environment variable, `METASTREAM_` and the key upper-cased with\n"
                + "`.` and `-` as `_` (`METASTREAM_HTTP_PORT` is `http.port`, `METASTREAM_SASL_JAAS_CONFIG` is\n"
                + "`sasl.jaas.config`, `METASTREAM_STREAMS_CONSUMER_MAX_POLL_RECORDS` is\n"
                + "`streams.consumer.max.poll.records`): `run`, `meta-train` and `replay` take defaults, then the\n"
                + "`--config` file, then the environment, then `--set`, `--command-config` and `--bootstrap-server`.\n"
                + "A variable names a key of this table, of `meta.train.*`, a Kafka client security setting, a Kafka\n"
                + "Streams setting under `streams.` or a key the file sets; any other `METASTREAM_` variable is\n"
                + "logged as a warning. The log names the keys the environment set, never their values\n"
                + "(`EnvironmentSettings`).\n\n"
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

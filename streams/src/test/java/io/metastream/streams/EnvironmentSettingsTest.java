package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;

/** {@code METASTREAM_<KEY>} variables, read from an injected environment. */
class EnvironmentSettingsTest {
    private static final String SECRET = "token-from-the-orchestrator-0123456789";

    @Test
    void shouldNameEachKeyByItsUpperCasedVariable() {
        assertThat(EnvironmentSettings.variable("http.port")).isEqualTo("METASTREAM_HTTP_PORT");
        assertThat(EnvironmentSettings.variable("adaptation.engine.wait.ms"))
                .isEqualTo("METASTREAM_ADAPTATION_ENGINE_WAIT_MS");
        assertThat(EnvironmentSettings.variable("a-b.c")).isEqualTo("METASTREAM_A_B_C");
    }

    @Test
    void shouldOverrideTheFileWithTheEnvironmentAndKeepTheRest() {
        Properties file = new Properties();
        file.setProperty("bootstrap.servers", "file:9092");
        file.setProperty("http.port", "8080");
        file.setProperty("model.name", "sinusoid");
        Map<String, String> env = Map.of("METASTREAM_HTTP_PORT", "18080",
                "METASTREAM_HTTP_AUTH_TOKEN", SECRET,
                "METASTREAM_BOOTSTRAP_SERVERS", "env:9092",
                "PATH", "/usr/bin", "HTTP_PORT", "1");
        Properties merged = EnvironmentSettings.over(file, env);

        assertThat(merged.getProperty("http.port")).isEqualTo("18080");
        assertThat(merged.getProperty("bootstrap.servers")).isEqualTo("env:9092");
        assertThat(merged.getProperty("model.name")).isEqualTo("sinusoid");
        assertThat(merged).doesNotContainKeys("PATH", "HTTP_PORT", "path", "http_port");
        assertThat(file.getProperty("http.port")).as("the file's settings are not changed").isEqualTo("8080");
        MetastreamConfig config = new MetastreamConfig(merged);
        assertThat(config.getInt(MetastreamConfig.HTTP_PORT_CONFIG)).isEqualTo(18080);
        assertThat(config.getPassword(MetastreamConfig.HTTP_AUTH_TOKEN_CONFIG).value()).isEqualTo(SECRET);
    }

    @Test
    void shouldPassKafkaClientAndStreamsSettingsThroughByTheirKafkaNames() {
        Map<String, String> env = Map.of("METASTREAM_SECURITY_PROTOCOL", "SASL_SSL",
                "METASTREAM_SASL_MECHANISM", "SCRAM-SHA-512",
                "METASTREAM_SASL_JAAS_CONFIG", SECRET,
                "METASTREAM_SSL_TRUSTSTORE_PASSWORD", SECRET,
                "METASTREAM_STREAMS_STATESTORE_CACHE_MAX_BYTES", "0",
                "METASTREAM_STREAMS_CONSUMER_MAX_POLL_RECORDS", "50");
        EnvironmentSettings read = EnvironmentSettings.read(env, Set.of());

        assertThat(read.settings()).containsExactlyInAnyOrderEntriesOf(Map.of("security.protocol", "SASL_SSL",
                "sasl.mechanism", "SCRAM-SHA-512", "sasl.jaas.config", SECRET, "ssl.truststore.password", SECRET,
                "streams.statestore.cache.max.bytes", "0", "streams.consumer.max.poll.records", "50"));
        assertThat(read.warnings()).isEmpty();
        Properties props = new Properties();
        props.putAll(read.settings());
        props.setProperty("bootstrap.servers", "b:9092");
        MetastreamConfig config = new MetastreamConfig(props);
        assertThat(config.clientProperties()).containsEntry("sasl.jaas.config", SECRET)
                .containsEntry("security.protocol", "SASL_SSL");
        assertThat(config.streamsProperties()).containsEntry("statestore.cache.max.bytes", "0")
                .containsEntry("consumer.max.poll.records", "50");
    }

    @Test
    void shouldMatchKeysOfOtherConfigDefsAndOfTheFile() {
        ConfigDef trainer = new ConfigDef().define("meta.train.margin", ConfigDef.Type.DOUBLE, 0.0,
                ConfigDef.Importance.LOW, "");
        EnvironmentSettings read = EnvironmentSettings.read(Map.of("METASTREAM_META_TRAIN_MARGIN", "0.1",
                "METASTREAM_MY_APP_FLAG", "on"), Set.of("my-app.flag"), trainer);
        assertThat(read.settings()).containsExactlyInAnyOrderEntriesOf(Map.of("meta.train.margin", "0.1",
                "my-app.flag", "on"));
    }

    @Test
    void shouldWarnOfAVariableThatNamesNoSettingAndSuggestTheNearest() {
        Map<String, String> env = new TreeMap<>(Map.of("METASTREAM_HTTP_PROT", "1", "METASTREAM_NOTHING_LIKE_IT", "x",
                "METASTREAM_DEBUG", "1", "METASTREAM_TEST_SCHEMA_REGISTRY_URL", "http://r"));
        EnvironmentSettings read = EnvironmentSettings.read(env, Set.of());

        assertThat(read.settings()).isEmpty();
        assertThat(read.warnings()).hasSize(2);
        assertThat(read.warnings().get(0)).startsWith("METASTREAM_HTTP_PROT is set but names no setting")
                .contains("did you mean METASTREAM_HTTP_PORT, http.port?");
        assertThat(read.warnings().get(1)).startsWith("METASTREAM_NOTHING_LIKE_IT").doesNotContain("did you mean");
    }

    @Test
    void shouldNeverShowAValueInWhatItLogs() {
        EnvironmentSettings read = EnvironmentSettings.read(Map.of("METASTREAM_HTTP_AUTH_TOKEN", SECRET,
                "METASTREAM_SASL_JAAS_CONFIG", SECRET, "METASTREAM_HTTP_AUTH_TOKN", SECRET), Set.of());
        assertThat(read.summary()).isEqualTo("http.auth.token (METASTREAM_HTTP_AUTH_TOKEN), "
                + "sasl.jaas.config (METASTREAM_SASL_JAAS_CONFIG)");
        assertThat(String.join("\n", read.warnings())).contains("METASTREAM_HTTP_AUTH_TOKN").doesNotContain(SECRET);
    }

    @Test
    void shouldRefuseAVariableThatCouldNameTwoKeys() {
        assertThatThrownBy(() -> EnvironmentSettings.read(Map.of("METASTREAM_MY_KEY", "1"),
                Set.of("my.key", "my-key"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("METASTREAM_MY_KEY could name any of [my-key, my.key]");
    }

    @Test
    void shouldGiveEveryKnownKeyAVariableOfItsOwn() {
        assertThat(EnvironmentSettings.read(Map.of(), List.of())).isNotNull();
        Map<String, String> keyByVariable = new TreeMap<>();
        for (String key : EnvironmentSettings.knownKeys(List.of())) {
            String previous = keyByVariable.put(EnvironmentSettings.variable(key), key);
            assertThat(previous).as("%s and %s share a variable", previous, key).isNull();
        }
        assertThat(keyByVariable).containsEntry("METASTREAM_HTTP_PORT", "http.port")
                .containsEntry("METASTREAM_SSL_KEYSTORE_PASSWORD", "ssl.keystore.password");
    }
}

package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.testkit.SchemaRegistryStandIn;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Registry credentials given in {@code schema.registry.url} leave it before AbstractConfig logs
 * its values at start-up, and still authenticate; a bearer token wins over basic credentials (the
 * stand-in checks the header: Apicurio takes tokens only from an OIDC server); trust settings are
 * checked. Basic authentication, TLS trust and lookup-only against a real registry: the embedded
 * module's SchemaRegistryTest and the schemas module's RegistryAvroCodecTest.
 */
class SchemaRegistryConfigTest {
    private static final String SECRET = "S3cret";

    private static Map<String, Object> settings(String url) {
        return Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "localhost:9092",
                MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, url);
    }

    private static String basic(String userInfo) {
        return "Basic " + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void shouldMoveTheUrlsUserInfoOutOfEverythingShownAndStillAuthenticate() {
        try (SchemaRegistryStandIn registry = SchemaRegistryStandIn.start()) {
            // Percent-encoded '/' and a literal '+': RFC 3986 user info, not a form.
            registry.requireAuthorization(basic("alice:" + SECRET + "/pw+x"));
            String url = registry.url().replace("http://", "http://alice:" + SECRET + "%2Fpw+x@");
            MetastreamConfig config = new MetastreamConfig(settings(url));

            // AbstractConfig's start-up dump is values(); originals() is what the instance passes on.
            assertThat(config.values().toString()).doesNotContain(SECRET).doesNotContain("alice");
            assertThat(config.originals().toString()).doesNotContain(SECRET).doesNotContain("alice");
            assertThat(String.valueOf(config)).doesNotContain(SECRET);
            assertThat(config.getString(MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG)).isEqualTo(registry.url());
            assertThat(new MetastreamConfig(settings("https://u:" + SECRET + "@registry:8080/apis/ccompat/v7?x=1"))
                    .getString(MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG))
                    .isEqualTo("https://registry:8080/apis/ccompat/v7?x=1");

            SchemaRegistryClient client = config.schemaRegistry().orElseThrow();
            assertThat(client.baseUrl().toString()).doesNotContain(SECRET);
            SchemaRegistryClient direct = SchemaRegistryClient.builder(registry.url())
                    .basicAuth("alice:" + SECRET + "/pw+x").build();
            int id = direct.register("samples-value", LabelledSample.getClassSchema());
            assertThat(client.schema(id)).as("the moved credentials authenticate")
                    .contains(LabelledSample.getClassSchema());
        }
    }

    @Test
    void shouldPreferTheBasicAuthSettingOverTheUrlsUserInfo() {
        try (SchemaRegistryStandIn registry = SchemaRegistryStandIn.start()) {
            registry.requireAuthorization(basic("app:right"));
            MetastreamConfig config = new MetastreamConfig(Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "x:1",
                    MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, registry.url().replace("http://", "http://app:wrong@"),
                    MetastreamConfig.SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG, "app:right"));
            assertThat(config.values().toString()).doesNotContain("wrong").doesNotContain("right");
            SchemaRegistryClient client = config.schemaRegistry().orElseThrow();
            assertThat(client.register("samples-value", LabelledSample.getClassSchema())).isPositive();
        }
    }

    @Test
    void shouldNeverRepeatTheUserInfoInAConfigException() {
        assertThatThrownBy(() -> new MetastreamConfig(settings("ftp://alice:" + SECRET + "@registry:8081")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("ftp://registry:8081")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
        // An unencoded '/' in the password leaves the '@' outside the authority: refused, not shown.
        assertThatThrownBy(() -> new MetastreamConfig(settings("http://alice:" + SECRET + "/x@registry:8081")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("not shown")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
        assertThatThrownBy(() -> new MetastreamConfig(settings("alice:" + SECRET + "@registry:8081")))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
        assertThatThrownBy(() -> new MetastreamConfig(settings("http://alice:" + SECRET + "%zz@registry:8081")))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
    }

    @Test
    void shouldSendTheConfiguredBearerTokenInsteadOfBasicCredentials() {
        try (SchemaRegistryStandIn registry = SchemaRegistryStandIn.start()) {
            registry.requireAuthorization("Bearer " + SECRET);
            MetastreamConfig config = new MetastreamConfig(Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "x:1",
                    MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, registry.url(),
                    MetastreamConfig.SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG, "app:right",
                    MetastreamConfig.SCHEMA_REGISTRY_BEARER_AUTH_TOKEN_CONFIG, SECRET));
            assertThat(config.values().toString()).doesNotContain(SECRET);
            assertThat(config.schemaRegistry().orElseThrow().register("samples-value",
                    LabelledSample.getClassSchema())).isPositive();
        }
    }

    @Test
    void shouldRefuseATrustStoreTypeItCannotReadAndAPemFileWithoutCertificates(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> new MetastreamConfig(Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "x:1",
                MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_CONFIG, "PFX")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("PEM");
        Path empty = Files.writeString(dir.resolve("ca.pem"), "not a certificate\n");
        MetastreamConfig config = new MetastreamConfig(Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "x:1",
                MetastreamConfig.SCHEMA_REGISTRY_URL_CONFIG, "https://registry:8081",
                MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG, empty.toString(),
                MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_CONFIG, "pem"));
        assertThatThrownBy(config::schemaRegistry).isInstanceOf(ConfigException.class)
                .hasMessageContaining(MetastreamConfig.SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG);
    }
}

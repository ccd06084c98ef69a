package io.metastream.schemas.serde;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * A client of a schema registry's Confluent-compatible REST API (Confluent Schema Registry,
 * Apicurio's {@code /apis/ccompat/v7}, Karapace): registers a schema under a subject and
 * resolves an id to its schema. Ids and schemas are immutable in that API, so both directions are
 * cached for the life of the client and a record costs a lookup only the first time its id is
 * seen. Thread-safe.
 */
public final class SchemaRegistryClient {
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final HttpClient http;
    private final Duration timeout;
    private final Map<Integer, Schema> byId = new ConcurrentHashMap<>();
    private final Map<String, Integer> registered = new ConcurrentHashMap<>();

    /**
     * @param baseUrl the API root, e.g. {@code http://registry:8081} or
     *     {@code http://apicurio:8080/apis/ccompat/v7}
     */
    public SchemaRegistryClient(String baseUrl, Duration timeout) {
        Objects.requireNonNull(baseUrl, "baseUrl");
        this.base = URI.create(baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    public URI baseUrl() {
        return base;
    }

    /**
     * Registers {@code schema} under {@code subject} (a no-op in the registry when it is already
     * there) and returns its global id.
     *
     * @throws IncompatibleSchemaException when the registry refuses it under the subject's
     *     compatibility rule (HTTP 409) or as invalid (422)
     * @throws SchemaRegistryException when the registry cannot be reached or answers otherwise
     */
    public int register(String subject, Schema schema) {
        String key = subject + '\u0000' + schema.toString();
        Integer known = registered.get(key);
        if (known != null) {
            return known;
        }
        String body;
        try {
            body = JSON.writeValueAsString(Map.of("schema", schema.toString()));
        } catch (IOException e) {
            throw new SchemaRegistryException("cannot write the registration of " + subject, e);
        }
        HttpRequest request = HttpRequest.newBuilder(resolve("subjects/" + encode(subject) + "/versions"))
                .timeout(timeout).header("Content-Type", CONTENT_TYPE).header("Accept", CONTENT_TYPE)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> response = send(request);
        if (response.statusCode() == 409 || response.statusCode() == 422) {
            throw new IncompatibleSchemaException("the registry refused schema " + schema.getFullName()
                    + " under subject " + subject + ": HTTP " + response.statusCode() + " " + response.body());
        }
        int id = field(response, "id").asInt();
        byId.putIfAbsent(id, schema);
        registered.put(key, id);
        return id;
    }

    /**
     * @return the schema registered with {@code id}, or empty when the registry has no such id
     * @throws SchemaRegistryException when the registry cannot be reached, answers otherwise, or
     *     holds something that is not an Avro schema under that id
     */
    public Optional<Schema> schema(int id) {
        Schema cached = byId.get(id);
        if (cached != null) {
            return Optional.of(cached);
        }
        HttpRequest request = HttpRequest.newBuilder(resolve("schemas/ids/" + id)).timeout(timeout)
                .header("Accept", CONTENT_TYPE).GET().build();
        HttpResponse<String> response = send(request);
        if (response.statusCode() == 404) {
            return Optional.empty();
        }
        JsonNode type = parse(response).get("schemaType");
        if (type != null && !type.isNull() && !"AVRO".equalsIgnoreCase(type.asText())) {
            throw new IncompatibleSchemaException("schema id " + id + " is a " + type.asText() + " schema, not Avro");
        }
        Schema schema;
        try {
            schema = new Schema.Parser().parse(field(response, "schema").asText());
        } catch (SchemaParseException e) {
            throw new IncompatibleSchemaException("schema id " + id + " is not an Avro schema: " + e.getMessage());
        }
        Schema raced = byId.putIfAbsent(id, schema);
        return Optional.of(raced == null ? schema : raced);
    }

    private HttpResponse<String> send(HttpRequest request) {
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SchemaRegistryException("schema registry " + base + " unreachable: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryException("interrupted while asking schema registry " + base, e);
        }
        int status = response.statusCode();
        if (status >= 500 || (status >= 300 && status != 404 && status != 409 && status != 422)) {
            throw new SchemaRegistryException("schema registry " + base + " answered " + request.method() + " "
                    + request.uri().getPath() + " with HTTP " + status + ": " + response.body(), null);
        }
        return response;
    }

    private JsonNode field(HttpResponse<String> response, String name) {
        JsonNode value = parse(response).get(name);
        if (value == null || value.isNull()) {
            throw new SchemaRegistryException("schema registry answer without \"" + name + "\": " + response.body(),
                    null);
        }
        return value;
    }

    private static JsonNode parse(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new SchemaRegistryException("schema registry answer is not JSON: " + response.body(), e);
        }
    }

    private URI resolve(String path) {
        return base.resolve(path);
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /**
     * The registry could not be asked (down, timed out, an unexpected answer). Not the record's
     * fault: the caller must not dead-letter a record for it, but fail and retry it.
     */
    public static class SchemaRegistryException extends RuntimeException {
        public SchemaRegistryException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The registry refused a schema, or an id names a schema this client cannot read as Avro. */
    public static final class IncompatibleSchemaException extends SchemaRegistryException {
        public IncompatibleSchemaException(String message) {
            super(message, null);
        }
    }
}

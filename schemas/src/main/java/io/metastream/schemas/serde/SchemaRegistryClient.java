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
    /** A registry answer larger than this is refused unread: a schema is a few KB. */
    static final int MAX_ANSWER_BYTES = 1 << 20;

    private final URI base;
    /** The base URL with any user info removed: the only form that reaches logs, exceptions and dead letters. */
    private final String shownBase;
    private final HttpClient http;
    private final Duration timeout;
    private final int retries;
    private final Duration retryBackoff;
    private final long unknownIdCacheNanos;
    private final boolean lookupOnly;
    private final String authorization;
    private final Map<Integer, Schema> byId = new ConcurrentHashMap<>();
    private final Map<Integer, Long> unknownUntil = new ConcurrentHashMap<>();
    private final Map<String, Integer> registered = new ConcurrentHashMap<>();

    /**
     * @param baseUrl the API root, e.g. {@code http://registry:8081} or
     *     {@code http://apicurio:8080/apis/ccompat/v7}
     */
    public SchemaRegistryClient(String baseUrl, Duration timeout) {
        this(builder(baseUrl).timeout(timeout));
    }

    private SchemaRegistryClient(Builder b) {
        URI given = URI.create(b.baseUrl.endsWith("/") ? b.baseUrl : b.baseUrl + "/");
        String userInfo = given.getRawUserInfo();
        try {
            // Credentials in the URL become a basic-auth header and leave the URL.
            this.base = new URI(given.getScheme(), null, given.getHost(), given.getPort(), given.getPath(), null, null);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("not a registry URL: " + given.getHost(), e);
        }
        this.shownBase = base.toString();
        this.timeout = Objects.requireNonNull(b.timeout, "timeout");
        this.retries = b.retries;
        this.retryBackoff = b.retryBackoff;
        this.unknownIdCacheNanos = b.unknownIdCache.toNanos();
        this.lookupOnly = b.lookupOnly;
        if (b.bearerToken != null && !b.bearerToken.isEmpty()) {
            this.authorization = "Bearer " + b.bearerToken;
        } else if (b.basicUserInfo != null && !b.basicUserInfo.isEmpty()) {
            this.authorization = basic(b.basicUserInfo);
        } else if (userInfo != null) {
            this.authorization = basic(java.net.URLDecoder.decode(userInfo, StandardCharsets.UTF_8));
        } else {
            this.authorization = null;
        }
        HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(timeout);
        if (b.sslContext != null) {
            client.sslContext(b.sslContext);
        }
        this.http = client.build();
    }

    private static String basic(String userInfo) {
        return "Basic " + java.util.Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
    }

    /** Starts a client with settings beyond the URL: retries, credentials, TLS trust, lookup-only. */
    public static Builder builder(String baseUrl) {
        return new Builder(baseUrl);
    }

    /** The API root, without any credentials the configured URL carried. */
    public URI baseUrl() {
        return base;
    }

    /**
     * Registers {@code schema} under {@code subject} (a no-op in the registry when it is already
     * there) and returns its global id. In lookup-only mode it only looks the schema up under the
     * subject and registers nothing.
     *
     * @throws IncompatibleSchemaException when the registry refuses it under the subject's
     *     compatibility rule (HTTP 409) or as invalid (422), or (lookup-only) does not hold it
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
        // Lookup: POST /subjects/{subject} answers the id of a schema already registered there.
        String path = lookupOnly ? "subjects/" + encode(subject) : "subjects/" + encode(subject) + "/versions";
        HttpRequest request = request(path).header("Content-Type", CONTENT_TYPE)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> response = send(request);
        if (response.statusCode() == 409 || response.statusCode() == 422) {
            throw new IncompatibleSchemaException("the registry refused schema " + schema.getFullName()
                    + " under subject " + subject + ": HTTP " + response.statusCode() + " " + shortBody(response));
        }
        if (lookupOnly && response.statusCode() == 404) {
            throw new IncompatibleSchemaException("schema " + schema.getFullName() + " is not registered under subject "
                    + subject + " and this client is lookup-only (schema.registry.auto.register=false)");
        }
        int id = field(response, "id").asInt();
        byId.putIfAbsent(id, schema);
        registered.put(key, id);
        return id;
    }

    /**
     * @return the schema registered with {@code id}, or empty when the registry has no such id (an
     *     unknown id is remembered for a while, so a flood of records naming it costs one call)
     * @throws SchemaRegistryException when the registry cannot be reached, answers otherwise, or
     *     holds something that is not an Avro schema under that id
     */
    public Optional<Schema> schema(int id) {
        Schema cached = byId.get(id);
        if (cached != null) {
            return Optional.of(cached);
        }
        Long until = unknownUntil.get(id);
        if (until != null && System.nanoTime() - until < 0) {
            return Optional.empty();
        }
        HttpResponse<String> response = send(request("schemas/ids/" + id).GET().build());
        if (response.statusCode() == 404) {
            if (unknownIdCacheNanos > 0) {
                if (unknownUntil.size() > 10_000) {
                    unknownUntil.clear(); // a bound, not an LRU: the cache only saves calls
                }
                unknownUntil.put(id, System.nanoTime() + unknownIdCacheNanos);
            }
            return Optional.empty();
        }
        if (response.statusCode() >= 400) {
            // The id is the record's choice (400, say): not the registry being down, so no retry loop.
            throw new SchemaRegistryException("schema registry " + shownBase + " refused schema id " + id + " with HTTP "
                    + response.statusCode(), null);
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
        unknownUntil.remove(id);
        return Optional.of(raced == null ? schema : raced);
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(timeout).header("Accept",
                CONTENT_TYPE);
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return b;
    }

    /**
     * Sends with bounded retries (connection failures, 5xx and 429 only, with doubling backoff),
     * then throws: a caller on a stream thread is never held longer than
     * {@code (retries + 1) * timeout} plus the backoffs.
     */
    private HttpResponse<String> send(HttpRequest request) {
        SchemaRegistryException last = null;
        for (int attempt = 0; attempt <= retries; attempt++) {
            if (attempt > 0) {
                try {
                    Thread.sleep(retryBackoff.toMillis() << (attempt - 1));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SchemaRegistryException("interrupted while asking schema registry " + shownBase, e);
                }
            }
            HttpResponse<String> response;
            try {
                response = http.send(request, bounded());
            } catch (IOException e) {
                last = new SchemaRegistryException("schema registry " + shownBase + " unreachable: "
                        + e.getClass().getSimpleName(), null);
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SchemaRegistryException("interrupted while asking schema registry " + shownBase, e);
            }
            int status = response.statusCode();
            if (status >= 500 || status == 429) {
                last = new SchemaRegistryException("schema registry " + shownBase + " answered " + request.method() + " "
                        + request.uri().getPath() + " with HTTP " + status, null);
                continue;
            }
            if (status >= 300 && status != 404 && status != 409 && status != 422 && status != 400) {
                // 401/403 and the like: retrying will not help, and it is not the record's fault.
                throw new SchemaRegistryException("schema registry " + shownBase + " answered " + request.method() + " "
                        + request.uri().getPath() + " with HTTP " + status, null);
            }
            return response;
        }
        throw last;
    }

    /** Reads an answer up to {@link #MAX_ANSWER_BYTES}; a longer one fails as an I/O error. */
    private static HttpResponse.BodyHandler<String> bounded() {
        return info -> HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofInputStream(), in -> {
            try (in) {
                byte[] bytes = in.readNBytes(MAX_ANSWER_BYTES + 1);
                if (bytes.length > MAX_ANSWER_BYTES) {
                    throw new java.io.UncheckedIOException(new IOException("registry answer over " + MAX_ANSWER_BYTES
                            + " bytes"));
                }
                return new String(bytes, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    private static String shortBody(HttpResponse<String> response) {
        String body = response.body();
        return body.length() > 500 ? body.substring(0, 500) + "..." : body;
    }

    /** Settings of a client beyond its URL. */
    public static final class Builder {
        private final String baseUrl;
        private Duration timeout = Duration.ofSeconds(10);
        private int retries = 2;
        private Duration retryBackoff = Duration.ofMillis(100);
        private Duration unknownIdCache = Duration.ofSeconds(30);
        private boolean lookupOnly;
        private String basicUserInfo;
        private String bearerToken;
        private javax.net.ssl.SSLContext sslContext;

        private Builder(String baseUrl) {
            this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
        }

        /** Connect and request timeout of one call. */
        public Builder timeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** Retries after a failed call (unreachable, 5xx, 429), with a backoff that doubles from {@code backoff}. */
        public Builder retries(int retries, Duration backoff) {
            if (retries < 0) {
                throw new IllegalArgumentException("retries must be >= 0, got " + retries);
            }
            this.retries = retries;
            this.retryBackoff = Objects.requireNonNull(backoff, "backoff");
            return this;
        }

        /** How long an id the registry does not know is remembered as unknown; zero asks every time. */
        public Builder unknownIdCache(Duration ttl) {
            this.unknownIdCache = Objects.requireNonNull(ttl, "ttl");
            return this;
        }

        /** Registers nothing: {@link #register} only looks a schema up under its subject. */
        public Builder lookupOnly(boolean lookupOnly) {
            this.lookupOnly = lookupOnly;
            return this;
        }

        /** HTTP basic authentication, {@code user:password} (Confluent's {@code basic.auth.user.info}). */
        public Builder basicAuth(String userInfo) {
            this.basicUserInfo = userInfo;
            return this;
        }

        /** A bearer token sent with every call. */
        public Builder bearerToken(String token) {
            this.bearerToken = token;
            return this;
        }

        /** TLS trust (and keys) for an https registry. */
        public Builder sslContext(javax.net.ssl.SSLContext context) {
            this.sslContext = context;
            return this;
        }

        public SchemaRegistryClient build() {
            return new SchemaRegistryClient(this);
        }
    }

    private JsonNode field(HttpResponse<String> response, String name) {
        JsonNode value = parse(response).get(name);
        if (value == null || value.isNull()) {
            throw new SchemaRegistryException("schema registry answer without \"" + name + "\": "
                    + shortBody(response), null);
        }
        return value;
    }

    private static JsonNode parse(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new SchemaRegistryException("schema registry answer is not JSON: " + shortBody(response), e);
        }
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

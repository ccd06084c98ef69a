package io.metastream.schemas.serde;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * A client of a schema registry's Confluent-compatible REST API (Confluent Schema Registry,
 * Apicurio's {@code /apis/ccompat/v7}, Karapace): registers a schema under a subject and
 * resolves an id to its schema. Ids and schemas are immutable in that API, so both directions are
 * cached for the life of the client and a record costs a lookup only the first time its id is
 * seen. Every call has one deadline (connect, headers and body together), and a call with its
 * retries one budget. After a call fails with all its retries (the registry unavailable), the
 * client's breaker opens: further calls fail at once for a cool-down, then one probe is let
 * through, so an outage costs a stream thread one full call, not one per record. Thread-safe.
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
    private final long breakerNanos;
    private final boolean lookupOnly;
    private final String authorization;
    private final Map<Integer, Schema> byId = new ConcurrentHashMap<>();
    private final Map<Integer, Long> unknownUntil = new ConcurrentHashMap<>();
    private final Map<String, Integer> registered = new ConcurrentHashMap<>();
    /** While the breaker is open: the {@code System.nanoTime()} at which a probe may go; 0 when closed. */
    private volatile long openUntil;
    /** Why the breaker opened: the failure that fast-failed calls repeat. */
    private volatile String openedBy;
    private final AtomicBoolean probing = new AtomicBoolean();

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
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a registry URL: " + given.getHost(), e);
        }
        this.shownBase = base.toString();
        this.timeout = Objects.requireNonNull(b.timeout, "timeout");
        this.retries = b.retries;
        this.retryBackoff = b.retryBackoff;
        this.unknownIdCacheNanos = b.unknownIdCache.toNanos();
        this.breakerNanos = b.breaker.toNanos();
        this.lookupOnly = b.lookupOnly;
        if (b.bearerToken != null && !b.bearerToken.isEmpty()) {
            this.authorization = "Bearer " + b.bearerToken;
        } else if (b.basicUserInfo != null && !b.basicUserInfo.isEmpty()) {
            this.authorization = basic(b.basicUserInfo);
        } else if (userInfo != null) {
            this.authorization = basic(percentDecoded(userInfo));
        } else {
            this.authorization = null;
        }
        HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(timeout);
        if (b.sslContext != null) {
            client.sslContext(b.sslContext);
        }
        this.http = client.build();
    }

    /**
     * RFC 3986 percent-decoding of a URL's user info: unlike a form's, a {@code +} there is a plus.
     *
     * @throws IllegalArgumentException for a malformed escape
     */
    public static String percentDecoded(String text) {
        return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static String basic(String userInfo) {
        return "Basic " + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
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
     * Sends through the breaker: while it is open a call fails at once with
     * {@link RegistryUnavailableException}; after the cool-down one call (the probe, one attempt,
     * no retries) is let through, and an answer of any kind closes the breaker again.
     */
    private HttpResponse<String> send(HttpRequest request) {
        boolean probe = false;
        long until = openUntil;
        if (until != 0) {
            long wait = until - System.nanoTime();
            if (wait > 0 || !probing.compareAndSet(false, true)) {
                throw new RegistryUnavailableException("schema registry " + shownBase + " not asked: "
                        + (wait > 0 ? "it was unavailable, next try in " + TimeUnit.NANOSECONDS.toMillis(wait) + " ms"
                                : "it was unavailable and a probe call is under way")
                        + " (" + openedBy + ")");
            }
            probe = true;
        }
        try {
            HttpResponse<String> response = attempts(request, probe ? 0 : retries);
            openUntil = 0;
            return response;
        } catch (RegistryUnavailableException e) {
            if (breakerNanos > 0) {
                openedBy = e.getMessage();
                openUntil = (System.nanoTime() + breakerNanos) | 1; // never 0, which means closed
            }
            throw e;
        } catch (SchemaRegistryException e) {
            openUntil = 0; // it answered (401, say): up, whatever the answer
            throw e;
        } finally {
            if (probe) {
                probing.set(false);
            }
        }
    }

    /**
     * Sends with bounded retries (connection failures, timeouts, 5xx and 429 only, with doubling
     * backoff), then throws. Each attempt has one deadline of {@code timeout} for connecting and
     * reading headers and body together (java.net.http's request timeout stops counting once the
     * headers are in, so a registry or proxy that trickles a body would hold it otherwise), and
     * all of them one budget: a caller on a stream thread is never held longer than
     * {@code (tries + 1) * timeout} plus the backoffs.
     */
    private HttpResponse<String> attempts(HttpRequest request, int tries) {
        long timeoutNanos = timeout.toNanos();
        long budget = timeoutNanos * (tries + 1);
        for (int attempt = 1; attempt <= tries; attempt++) {
            budget += backoff(attempt).toNanos();
        }
        long deadline = System.nanoTime() + budget;
        RegistryUnavailableException last = null;
        for (int attempt = 0; attempt <= tries; attempt++) {
            if (attempt > 0) {
                long pause = Math.min(backoff(attempt).toNanos(), deadline - System.nanoTime());
                try {
                    if (pause > 0) {
                        TimeUnit.NANOSECONDS.sleep(pause);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SchemaRegistryException("interrupted while asking schema registry " + shownBase, e);
                }
            }
            long left = Math.min(timeoutNanos, deadline - System.nanoTime());
            if (left <= 0) {
                break;
            }
            AtomicReference<BoundedBody> body = new AtomicReference<>();
            CompletableFuture<HttpResponse<String>> call = http.sendAsync(request, info -> {
                BoundedBody fresh = new BoundedBody();
                body.set(fresh);
                return fresh;
            });
            HttpResponse<String> response;
            try {
                response = call.get(left, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                abort(call, body.get());
                last = new RegistryUnavailableException("schema registry " + shownBase + " did not answer "
                        + request.method() + " " + request.uri().getPath() + " within "
                        + TimeUnit.NANOSECONDS.toMillis(left + 999_999) + " ms");
                continue;
            } catch (ExecutionException e) {
                Throwable cause = e.getCause() == null ? e : e.getCause();
                last = new RegistryUnavailableException("schema registry " + shownBase + " unreachable: "
                        + cause.getClass().getSimpleName()
                        + (cause instanceof IOException && cause.getMessage() != null
                                && cause.getMessage().startsWith("registry answer over")
                                        ? " (" + cause.getMessage() + ")" : ""));
                continue;
            } catch (InterruptedException e) {
                abort(call, body.get());
                Thread.currentThread().interrupt();
                throw new SchemaRegistryException("interrupted while asking schema registry " + shownBase, e);
            }
            int status = response.statusCode();
            if (status >= 500 || status == 429) {
                last = new RegistryUnavailableException("schema registry " + shownBase + " answered "
                        + request.method() + " " + request.uri().getPath() + " with HTTP " + status);
                continue;
            }
            if (status >= 300 && status != 404 && status != 409 && status != 422 && status != 400) {
                // 401/403 and the like: retrying will not help, and it is not the record's fault.
                throw new SchemaRegistryException("schema registry " + shownBase + " answered " + request.method() + " "
                        + request.uri().getPath() + " with HTTP " + status, null);
            }
            return response;
        }
        if (last == null) {
            last = new RegistryUnavailableException("schema registry " + shownBase + " not asked: no time left");
        }
        throw last;
    }

    private Duration backoff(int attempt) {
        return retryBackoff.multipliedBy(1L << Math.min(attempt - 1, 20));
    }

    /** Gives up a call: the future, and the body's subscription, which closes the connection. */
    private static void abort(CompletableFuture<?> call, BoundedBody body) {
        call.cancel(true);
        if (body != null) {
            body.abort();
        }
    }

    /**
     * Reads an answer up to {@link #MAX_ANSWER_BYTES}, without blocking a thread of the client's
     * executor; a longer one fails as an I/O error.
     */
    private static final class BoundedBody implements HttpResponse.BodySubscriber<String> {
        private final CompletableFuture<String> body = new CompletableFuture<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private volatile Flow.Subscription subscription;
        private volatile boolean aborted;

        @Override
        public CompletionStage<String> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (aborted) {
                s.cancel();
            } else {
                s.request(Long.MAX_VALUE);
            }
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (body.isDone()) {
                return;
            }
            for (ByteBuffer item : items) {
                if (bytes.size() + item.remaining() > MAX_ANSWER_BYTES) {
                    subscription.cancel();
                    body.completeExceptionally(new IOException("registry answer over " + MAX_ANSWER_BYTES + " bytes"));
                    return;
                }
                byte[] chunk = new byte[item.remaining()];
                item.get(chunk);
                bytes.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            body.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toString(StandardCharsets.UTF_8));
        }

        void abort() {
            aborted = true;
            Flow.Subscription s = subscription;
            if (s != null) {
                s.cancel();
            }
            body.completeExceptionally(new IOException("abandoned after the call's deadline"));
        }
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
        private Duration breaker = Duration.ofSeconds(10);
        private boolean lookupOnly;
        private String basicUserInfo;
        private String bearerToken;
        private SSLContext sslContext;

        private Builder(String baseUrl) {
            this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
        }

        /** Deadline of one call: connecting, the answer's headers and its body together. */
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

        /**
         * How long calls fail at once after one failed with all its retries (the registry
         * unavailable: unreachable, timed out, 5xx, 429), before one probe call is let through;
         * zero turns the breaker off. An answer of any kind (404, 401, ...) does not open it.
         */
        public Builder breaker(Duration coolDown) {
            if (Objects.requireNonNull(coolDown, "coolDown").isNegative()) {
                throw new IllegalArgumentException("breaker cool-down must be >= 0, got " + coolDown);
            }
            this.breaker = coolDown;
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
        public Builder sslContext(SSLContext context) {
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

    /**
     * The registry did not answer usefully: unreachable, timed out, 5xx or 429 after all retries,
     * or not asked at all while the breaker is open after such a failure.
     */
    public static final class RegistryUnavailableException extends SchemaRegistryException {
        public RegistryUnavailableException(String message) {
            super(message, null);
        }
    }

    /** The registry refused a schema, or an id names a schema this client cannot read as Avro. */
    public static final class IncompatibleSchemaException extends SchemaRegistryException {
        public IncompatibleSchemaException(String message) {
            super(message, null);
        }
    }
}

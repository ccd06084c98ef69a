package io.metastream.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-process stand-in for the part of the Confluent-compatible schema registry REST API that a
 * serializer and a deserializer use: {@code POST /subjects/{subject}/versions} (one global id per
 * distinct schema text, as the registry hands out), {@code GET /schemas/ids/{id}} (404 for an id
 * it never gave) and {@code GET /subjects}. It checks no compatibility rule and keeps nothing on
 * disk. For tests where no real registry can run; where one can, point the code at it instead.
 */
public final class SchemaRegistryStandIn implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final Map<Integer, String> byId = new LinkedHashMap<>();
    private final Map<String, List<Integer>> subjects = new LinkedHashMap<>();
    private final AtomicInteger lookups = new AtomicInteger();
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger slowAnswers = new AtomicInteger();
    private volatile Duration slowPerByte = Duration.ZERO;
    /** Set while a handler makes an answer that is to be trickled, after the handler let go of the lock. */
    private final ThreadLocal<Duration> trickle = new ThreadLocal<>();
    private final ThreadLocal<Slow> pending = new ThreadLocal<>();
    private final ExecutorService handlers;
    private final AtomicInteger failures = new AtomicInteger();
    private volatile int failureStatus = 503;
    private volatile String requiredAuthorization;

    private SchemaRegistryStandIn(HttpServer server) {
        this.server = server;
        // A thread per exchange: an answer trickled slowly must not hold the others.
        this.handlers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "schema-registry-stand-in");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(handlers);
        server.createContext("/subjects", exchange -> guarded(exchange, this::subjects));
        server.createContext("/schemas/ids/", exchange -> guarded(exchange, this::byId));
        server.start();
    }

    /** Starts on a free port of the loopback interface. */
    public static SchemaRegistryStandIn start() {
        try {
            return new SchemaRegistryStandIn(HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot bind the schema registry stand-in", e);
        }
    }

    /** The API root to give a client (e.g. {@code schema.registry.url}). */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** How many {@code GET /schemas/ids/{id}} requests it answered. */
    public int lookups() {
        return lookups.get();
    }

    /** How many requests reached it, answered, refused or failed on purpose alike. */
    public int requests() {
        return requests.get();
    }

    /**
     * Answers the next {@code count} requests with their headers at once and their body one byte
     * every {@code perByte} (a registry or proxy in trouble that keeps the connection alive).
     */
    public void slowBodyNext(int count, Duration perByte) {
        slowPerByte = perByte;
        slowAnswers.set(count);
    }

    /** Answers the next {@code count} requests with HTTP {@code status} (a registry in trouble). */
    public void failNext(int count, int status) {
        failureStatus = status;
        failures.set(count);
    }

    /** Refuses (401) every request whose {@code Authorization} header is not {@code header}. */
    public void requireAuthorization(String header) {
        requiredAuthorization = header;
    }

    private void guarded(HttpExchange exchange, HttpHandler handler) throws IOException {
        requests.incrementAndGet();
        if (slowAnswers.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            trickle.set(slowPerByte);
        }
        try {
            guardedAnswer(exchange, handler);
            Slow slow = pending.get();
            if (slow != null) {
                slow.write(exchange);
            }
        } finally {
            trickle.remove();
            pending.remove();
        }
    }

    /** An answer whose body goes out one byte at a time. */
    private record Slow(int status, byte[] body, Duration perByte) {
        void write(HttpExchange exchange) throws IOException {
            try {
                exchange.sendResponseHeaders(status, body.length);
                for (byte b : body) {
                    exchange.getResponseBody().write(b);
                    exchange.getResponseBody().flush();
                    Thread.sleep(perByte.toMillis());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // the stand-in closes
            } finally {
                exchange.close();
            }
        }
    }

    private void guardedAnswer(HttpExchange exchange, HttpHandler handler) throws IOException {
        String required = requiredAuthorization;
        if (required != null && !required.equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
            answer(exchange, 401, "{\"error_code\":401,\"message\":\"Unauthorized\"}");
            return;
        }
        if (failures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            answer(exchange, failureStatus, "{\"error_code\":" + failureStatus + ",\"message\":\"injected\"}");
            return;
        }
        handler.handle(exchange);
    }

    /** The ids registered under {@code subject}, oldest first. */
    public synchronized List<Integer> versions(String subject) {
        return List.copyOf(subjects.getOrDefault(subject, List.of()));
    }

    private synchronized void subjects(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        if (path.equals("/subjects") && exchange.getRequestMethod().equals("GET")) {
            answer(exchange, 200, JSON.writeValueAsString(subjects.keySet()));
            return;
        }
        String prefix = "/subjects/";
        if (exchange.getRequestMethod().equals("POST") && path.startsWith(prefix) && !path.endsWith("/versions")) {
            // Lookup: is this schema registered under the subject? (no registration)
            String subject = path.substring(prefix.length());
            JsonNode schema = JSON.readTree(exchange.getRequestBody()).get("schema");
            Integer found = subjects.getOrDefault(subject, List.of()).stream()
                    .filter(id -> schema != null && byId.get(id).equals(schema.asText())).findFirst().orElse(null);
            if (found == null) {
                answer(exchange, 404, "{\"error_code\":40403,\"message\":\"Schema not found\"}");
            } else {
                answer(exchange, 200, "{\"subject\":\"" + subject + "\",\"id\":" + found + ",\"version\":1}");
            }
            return;
        }
        if (!exchange.getRequestMethod().equals("POST") || !path.startsWith(prefix) || !path.endsWith("/versions")) {
            answer(exchange, 404, "{\"error_code\":404,\"message\":\"not served by the stand-in\"}");
            return;
        }
        String subject = path.substring(prefix.length(), path.length() - "/versions".length());
        JsonNode body = JSON.readTree(exchange.getRequestBody());
        JsonNode schema = body.get("schema");
        if (schema == null || !schema.isTextual()) {
            answer(exchange, 422, "{\"error_code\":42201,\"message\":\"no schema\"}");
            return;
        }
        int id = byId.entrySet().stream().filter(e -> e.getValue().equals(schema.asText())).map(Map.Entry::getKey)
                .findFirst().orElse(byId.size() + 1);
        byId.putIfAbsent(id, schema.asText());
        List<Integer> versions = subjects.computeIfAbsent(subject, s -> new ArrayList<>());
        if (!versions.contains(id)) {
            versions.add(id);
        }
        answer(exchange, 200, "{\"id\":" + id + "}");
    }

    private synchronized void byId(HttpExchange exchange) throws IOException {
        lookups.incrementAndGet();
        String text = exchange.getRequestURI().getPath().substring("/schemas/ids/".length());
        String schema = null;
        try {
            schema = byId.get(Integer.parseInt(text));
        } catch (NumberFormatException e) {
            // answered as unknown below
        }
        if (schema == null) {
            answer(exchange, 404, "{\"error_code\":40403,\"message\":\"Schema " + text + " not found\"}");
        } else {
            answer(exchange, 200, JSON.writeValueAsString(Map.of("schema", schema)));
        }
    }

    private void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/vnd.schemaregistry.v1+json");
        Duration perByte = trickle.get();
        if (perByte != null) {
            pending.set(new Slow(status, bytes, perByte));
            return;
        }
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    @Override
    public void close() {
        server.stop(0);
        handlers.shutdownNow();
    }
}

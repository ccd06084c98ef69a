package io.metastream.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

    private SchemaRegistryStandIn(HttpServer server) {
        this.server = server;
        server.createContext("/subjects", this::subjects);
        server.createContext("/schemas/ids/", this::byId);
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

    private static void answer(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/vnd.schemaregistry.v1+json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}

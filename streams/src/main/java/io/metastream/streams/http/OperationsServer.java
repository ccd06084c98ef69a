package io.metastream.streams.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.metastream.streams.topology.TaskStates;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP side of an instance, on the JDK's own server: {@code /health}, {@code /ready},
 * {@code /metrics} (Prometheus text) and the task API.
 * <ul>
 *   <li>{@code GET /tasks/{id}}: support size, adapted-through, base versions, pending samples.
 *   <li>{@code POST /tasks/{id}/predict} with {@code {"features": [...]}}: a prediction from the
 *       task's current adapted state (as-of semantics: {@link TaskStates}).
 * </ul>
 * Any instance answers for any task: a request for a task another instance owns is forwarded to
 * that instance's {@code application.server}; when the owner cannot answer (a rebalance, a dead
 * instance), a standby copy answers and the reply says {@code "standby": true}. With no copy
 * reachable the answer is a 503 that says why. Replies are JSON and name the instance that
 * answered ({@code servedBy}).
 */
public final class OperationsServer implements AutoCloseable {
    /** Set on a forwarded request: answer from the local stores, {@code active} or {@code standby}. */
    static final String ROUTE_HEADER = "X-Metastream-Route";
    private static final Logger LOG = LoggerFactory.getLogger(OperationsServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY_BYTES = 1 << 20;

    /** What {@code /health} and {@code /ready} report; each problem is one line of {@code reasons}. */
    public record Status(boolean live, boolean ready, Map<String, Object> details, List<String> reasons) {
    }

    private final HttpServer server;
    private final ExecutorService executor;
    private final HttpClient client;

    /** Binds {@code host:port} now ({@code port} 0: any free port) so the port is known before start. */
    public OperationsServer(String host, int port) {
        try {
            server = HttpServer.create(new InetSocketAddress(host, port), 64);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + host + ":" + port, e);
        }
        executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "metastream-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    }

    /** The port it listens on. */
    public int port() {
        return server.getAddress().getPort();
    }

    public OperationsServer serveStatus(Supplier<Status> status) {
        server.createContext("/health", exchange -> respond(exchange, () -> {
            Status s = status.get();
            return new Reply(s.live() ? 200 : 503, statusBody(s));
        }));
        server.createContext("/ready", exchange -> respond(exchange, () -> {
            Status s = status.get();
            return new Reply(s.ready() ? 200 : 503, statusBody(s));
        }));
        return this;
    }

    public OperationsServer serveMetrics(PrometheusMeterRegistry registry) {
        server.createContext("/metrics", exchange -> {
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            send(exchange, 200, body);
        });
        return this;
    }

    /**
     * Serves the task API from {@code states}, forwarding to the owning instance; {@code self} is
     * this instance's {@code application.server}.
     */
    public OperationsServer serveTasks(TaskStates states, HostInfo self) {
        server.createContext("/tasks/", exchange -> respond(exchange, () -> tasks(exchange, states, self)));
        return this;
    }

    public OperationsServer start() {
        server.start();
        return this;
    }

    private Reply tasks(HttpExchange exchange, TaskStates states, HostInfo self) throws IOException {
        String rest = exchange.getRequestURI().getRawPath().substring("/tasks/".length());
        boolean predict = rest.endsWith("/predict");
        String rawId = predict ? rest.substring(0, rest.length() - "/predict".length()) : rest;
        String taskId = URLDecoder.decode(rawId, StandardCharsets.UTF_8);
        if (taskId.isEmpty() || rawId.contains("/")) {
            return Reply.error(404, "no such resource: " + exchange.getRequestURI().getPath());
        }
        String method = exchange.getRequestMethod();
        if (predict != method.equals("POST") || !predict && !method.equals("GET")) {
            return Reply.error(405, (predict ? "POST" : "GET") + " only");
        }
        byte[] body = predict ? readBody(exchange) : new byte[0];
        float[] features = null;
        if (predict) {
            try {
                features = features(body);
            } catch (IllegalArgumentException e) {
                return Reply.error(400, e.getMessage());
            }
        }
        String route = exchange.getRequestHeaders().getFirst(ROUTE_HEADER);
        if (route != null) {
            // Forwarded to us: answer from here or fail, never forward again.
            return local(states, taskId, features, route.equals("standby"), self);
        }
        KeyQueryMetadata owner = states.owner(taskId);
        if (owner == null || owner.equals(KeyQueryMetadata.NOT_AVAILABLE)) {
            return Reply.error(503, "no instance hosts task " + taskId + " now (starting or rebalancing); retry");
        }
        List<String> tried = new ArrayList<>();
        List<HostInfo> candidates = new ArrayList<>();
        candidates.add(owner.activeHost());
        candidates.addAll(owner.standbyHosts());
        for (int i = 0; i < candidates.size(); i++) {
            HostInfo host = candidates.get(i);
            boolean standby = i > 0;
            Reply reply = host.equals(self) ? local(states, taskId, features, standby, self)
                    : forward(host, exchange.getRequestURI().getRawPath(), method, body, standby);
            if (reply.status() != 503) {
                return reply;
            }
            tried.add(host + (standby ? " (standby)" : "") + ": " + reply.text());
        }
        return Reply.error(503, "task " + taskId + " cannot be read now; tried " + tried);
    }

    private static Reply local(TaskStates states, String taskId, float[] features, boolean standby, HostInfo self) {
        try {
            Map<String, Object> out = new LinkedHashMap<>();
            if (features != null) {
                TaskStates.Answer a = states.predict(taskId, features, standby);
                out.put("taskId", a.taskId());
                out.put("value", a.value());
                out.put("adapted", a.adapted());
                out.put("supportSize", a.supportSize());
                out.put("adaptedThroughMs", a.adaptedThroughMs());
                out.put("modelVersion", a.modelVersion());
                out.put("pendingSamples", a.pendingSamples());
            } else {
                Optional<TaskStates.View> view = states.describe(taskId, standby);
                if (view.isEmpty()) {
                    return Reply.error(404, "no state for task " + taskId);
                }
                TaskStates.View v = view.get();
                out.put("taskId", v.taskId());
                out.put("supportSize", v.supportSize());
                out.put("totalSeen", v.totalSeen());
                out.put("newestSampleMs", v.newestSampleMs());
                out.put("adapted", v.adapted());
                out.put("adaptedBase", v.adaptedBase());
                out.put("adaptedThroughMs", v.adaptedThroughMs());
                out.put("pendingSamples", v.pendingSamples());
                out.put("servedBase", v.servedBase());
            }
            out.put("servedBy", self.host() + ":" + self.port());
            out.put("standby", standby);
            return new Reply(200, JSON.writeValueAsBytes(out));
        } catch (IllegalArgumentException e) {
            return Reply.error(400, e.getMessage());
        } catch (InvalidStateStoreException e) {
            return Reply.error(503, "state of task " + taskId + " not readable here now: " + e.getMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Reply forward(HostInfo host, String rawPath, String method, byte[] body, boolean standby) {
        URI uri = URI.create("http://" + host.host() + ":" + host.port() + rawPath);
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                .header(ROUTE_HEADER, standby ? "standby" : "active");
        request = method.equals("POST") ? request.POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Content-Type", "application/json") : request.GET();
        try {
            HttpResponse<byte[]> response = client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Reply(response.statusCode(), response.body());
        } catch (IOException e) {
            return Reply.error(503, "unreachable: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Reply.error(503, "interrupted");
        }
    }

    /** {@code {"features": [numbers]}}. */
    static float[] features(byte[] body) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("body is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        JsonNode array = root == null ? null : root.get("features");
        if (array == null || !array.isArray()) {
            throw new IllegalArgumentException("body must be {\"features\": [numbers]}");
        }
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            if (!array.get(i).isNumber()) {
                throw new IllegalArgumentException("feature " + i + " is not a number");
            }
            out[i] = array.get(i).floatValue();
        }
        return out;
    }

    private static byte[] readBody(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
            if (body.length > MAX_BODY_BYTES) {
                throw new IllegalArgumentException("body over " + MAX_BODY_BYTES + " bytes");
            }
            return body;
        }
    }

    private static byte[] statusBody(Status s) {
        Map<String, Object> out = new LinkedHashMap<>(s.details());
        out.put("live", s.live());
        out.put("ready", s.ready());
        out.put("reasons", s.reasons());
        try {
            return JSON.writeValueAsBytes(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private record Reply(int status, byte[] body) {
        static Reply error(int status, String message) {
            try {
                return new Reply(status, JSON.writeValueAsBytes(Map.of("error", message)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private interface ReplySource {
        Reply get() throws IOException;
    }

    private static void respond(HttpExchange exchange, ReplySource source) throws IOException {
        Reply reply;
        try {
            reply = source.get();
        } catch (IllegalArgumentException e) {
            reply = Reply.error(400, e.getMessage());
        } catch (RuntimeException e) {
            LOG.error("{} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
            reply = Reply.error(500, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        send(exchange, reply.status(), reply.body());
    }

    private static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** A task id as a path segment. */
    public static String pathSegment(String taskId) {
        return URLEncoder.encode(taskId, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}

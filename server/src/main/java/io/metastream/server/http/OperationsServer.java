package io.metastream.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.Headers;
import io.metastream.server.TaskStates;
import io.metastream.streams.internals.NonFinitePredictionException;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
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
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP side of an instance, on {@link BoundedHttpServer}: {@code /health}, {@code /ready},
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
 *
 * <p>What it trusts and checks ({@link HttpSettings}):
 * <ul>
 *   <li>{@code /tasks} needs {@code Authorization: Bearer <token>} when a token is set (401
 *       otherwise, compared in constant time); the probes and {@code /metrics} are open.
 *   <li>A forwarded request is recognised by its signature ({@link ForwardSignature}), never by
 *       its route header: one that carries any forwarding header without a valid signature is a
 *       403. With no key (no forwarding secret, no token) forwarding is off.
 *   <li>One client (an address; an IPv6 /64) holds at most {@code http.max.connections.per.client}
 *       connections, and at most {@value #MAX_OPEN_CONNECTIONS} are open in all: more are closed at
 *       accept. A request's line and headers are read without a thread and must arrive within the
 *       header timeout of its first byte; line, headers and body within the read timeout, and the
 *       response be taken within as long ({@link ConnectionThreads}); bodies over
 *       {@value #MAX_BODY_BYTES} bytes are a 413 (answered, the rest of the body read and dropped
 *       up to a bound, so the client sees the answer and not a reset).
 *   <li>Each request runs on its own connection thread (at most {@value #MAX_CONCURRENT_REQUESTS},
 *       then 503; {@value #PROBE_THREADS} more for body-less probes only); probes and metrics are
 *       answered there directly, while the task work (store reads, predictions) runs on a bounded
 *       worker pool with a bounded queue (503 with {@code Retry-After} when full). Forwarding waits
 *       on the connection thread, not on a worker, so two instances forwarding to each other cannot
 *       deadlock their pools.
 *   <li>Error bodies are {@code {"error": fixed text, "errorId": id}}; the detail is logged under
 *       that id. No reply carries a non-finite number: features so extreme that even the base
 *       answers them with no finite number are a 422 with {@code "reason": "NON_FINITE_PREDICTION"}
 *       (the client's input, logged at debug); a non-finite value from anywhere else is a 500 with
 *       the same reason.
 * </ul>
 */
public final class OperationsServer implements AutoCloseable {
    /** Set on a forwarded request: answer from the local stores, {@code active} or {@code standby}. */
    static final String ROUTE_HEADER = "X-Metastream-Route";
    /** The forwarding instance's clock, epoch milliseconds. */
    static final String FORWARD_TIME_HEADER = "X-Metastream-Forward-Time";
    /** {@link ForwardSignature} of the forwarded request. */
    static final String FORWARD_SIGNATURE_HEADER = "X-Metastream-Forward-Signature";
    static final int MAX_BODY_BYTES = 1 << 20;
    static final int MAX_CONCURRENT_REQUESTS = 64;
    /** Threads only body-less probes may take, when the request threads are all held. */
    static final int PROBE_THREADS = 4;
    /** Connections open at once, idle ones included: each is a file descriptor and a 16 KiB buffer. */
    static final int MAX_OPEN_CONNECTIONS = 512;
    static final String NON_FINITE_PREDICTION = "NON_FINITE_PREDICTION";
    /** An unwanted body is read and dropped up to this, so the client reads our reply, not a reset. */
    private static final long MAX_DRAIN_BYTES = 16L << 20;
    private static final Logger LOG = LoggerFactory.getLogger(OperationsServer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REALM = "Bearer realm=\"metastream\"";

    /** What {@code /health} and {@code /ready} report; each problem is one line of {@code reasons}. */
    public record Status(boolean live, boolean ready, Map<String, Object> details, List<String> reasons) {
    }

    private final BoundedHttpServer server;
    private final ConnectionThreads connections;
    private final ThreadPoolExecutor workers;
    private final HttpClient client;
    private final HttpSettings settings;
    private final ForwardSignature forwarding;
    private final byte[] tokenDigest;
    private final boolean loopback;

    /** As {@link #OperationsServer(String, int, HttpSettings)} with the default settings (no token, no forwarding). */
    public OperationsServer(String host, int port) {
        this(host, port, HttpSettings.defaults());
    }

    /** Binds {@code host:port} now ({@code port} 0: any free port) so the port is known before start. */
    public OperationsServer(String host, int port, HttpSettings settings) {
        this(host, port, settings, Clock.systemUTC());
    }

    OperationsServer(String host, int port, HttpSettings settings, Clock clock) {
        this.settings = settings;
        InetSocketAddress address = new InetSocketAddress(host, port);
        this.loopback = address.getAddress() != null && address.getAddress().isLoopbackAddress();
        this.connections = new ConnectionThreads("metastream-http", MAX_CONCURRENT_REQUESTS, PROBE_THREADS,
                settings.readTimeout());
        try {
            server = new BoundedHttpServer(address, 64, connections, settings.headerTimeout(),
                    settings.maxConnectionsPerClient(), MAX_OPEN_CONNECTIONS);
        } catch (IOException e) {
            connections.close();
            throw new UncheckedIOException("cannot listen on " + host + ":" + port, e);
        }
        AtomicInteger n = new AtomicInteger();
        workers = new ThreadPoolExecutor(settings.workers(), settings.workers(), 30, TimeUnit.SECONDS,
                settings.queueMax() == 0 ? new SynchronousQueue<>() : new ArrayBlockingQueue<>(settings.queueMax()),
                r -> {
                    Thread t = new Thread(r, "metastream-http-worker-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        workers.allowCoreThreadTimeOut(true);
        if (settings.forwardSecret() != null) {
            forwarding = ForwardSignature.fromSecret(settings.forwardSecret(), "http.forward.secret", clock);
        } else if (settings.authToken() != null) {
            forwarding = ForwardSignature.fromSecret(settings.authToken(), "http.auth.token", clock);
        } else {
            forwarding = null;
        }
        tokenDigest = settings.authToken() == null ? null
                : ForwardSignature.sha256(settings.authToken().getBytes(StandardCharsets.UTF_8));
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        // Everything not served below: a JSON 404 like every other error.
        server.context("/", exchange -> serve(exchange, false, call -> Reply.error(404, "no such resource")), false);
    }

    /** The port it listens on. */
    public int port() {
        return server.port();
    }

    public OperationsServer serveStatus(Supplier<Status> status) {
        server.context("/health", exchange -> serve(exchange, false, call -> {
            call.expect("/health", "GET", "HEAD");
            Status s = status.get();
            return Reply.json(s.live() ? 200 : 503, statusBody(s));
        }), true);
        server.context("/ready", exchange -> serve(exchange, false, call -> {
            call.expect("/ready", "GET", "HEAD");
            Status s = status.get();
            return Reply.json(s.ready() ? 200 : 503, statusBody(s));
        }), true);
        return this;
    }

    public OperationsServer serveMetrics(PrometheusMeterRegistry registry) {
        server.context("/metrics", exchange -> serve(exchange, false, call -> {
            call.expect("/metrics", "GET", "HEAD");
            return new Reply(200, registry.scrape().getBytes(StandardCharsets.UTF_8),
                    "text/plain; version=0.0.4; charset=utf-8", Map.of(), null, null, false);
        }), false);
        return this;
    }

    /**
     * Serves the task API from {@code states}, forwarding to the owning instance; {@code self} is
     * this instance's {@code application.server}.
     */
    public OperationsServer serveTasks(TaskStates states, HostInfo self) {
        return serveTasks(TaskReader.of(states), self);
    }

    OperationsServer serveTasks(TaskReader reader, HostInfo self) {
        if (!loopback && tokenDigest == null) {
            LOG.warn("The task API listens on {} with no http.auth.token: anyone who reaches it reads every task's "
                    + "state and predictions", server.address());
        }
        if (forwarding == null) {
            LOG.info("Forwarding between instances is off (neither http.forward.secret nor http.auth.token is set): "
                    + "this instance answers only for the tasks it hosts");
        }
        server.context("/tasks/", exchange -> serve(exchange, true, call -> tasks(call, reader, self)), false);
        return this;
    }

    public OperationsServer start() {
        server.start();
        return this;
    }

    /** The address it listens on. */
    public InetSocketAddress address() {
        return server.address();
    }

    /** Task requests waiting for a worker now. */
    int queuedTasks() {
        return workers.getQueue().size();
    }

    /** Connections closed because their request or response passed its deadline. */
    long closedByDeadline() {
        return connections.closedByDeadline() + server.headsTimedOut();
    }

    /** Connections closed at accept: their client at http.max.connections.per.client, or all in use. */
    long refusedAtAccept() {
        return server.refusedAtAccept();
    }

    /**
     * Exports what this server refused, so an alert sees a flood or slow clients:
     * {@code metastream_http_connections_refused_total{server}} (closed at accept) and
     * {@code metastream_http_connections_timed_out_total{server}} (closed at a deadline).
     */
    public OperationsServer recordTo(MeterRegistry registry, String name) {
        FunctionCounter.builder("metastream.http.connections.refused", this,
                OperationsServer::refusedAtAccept).description("Connections closed at accept: the client at "
                        + "http.max.connections.per.client, or every connection in use").tag("server", name)
                .register(registry);
        FunctionCounter.builder("metastream.http.connections.timed.out", this,
                OperationsServer::closedByDeadline).description("Connections closed because their head, body "
                        + "or response passed its deadline").tag("server", name).register(registry);
        return this;
    }

    private Reply tasks(Call call, TaskReader reader, HostInfo self) throws IOException, Refusal {
        String rawPath = call.exchange.getRequestURI().getRawPath();
        String rest = rawPath.substring("/tasks/".length());
        boolean predict = rest.endsWith("/predict");
        String rawId = predict ? rest.substring(0, rest.length() - "/predict".length()) : rest;
        if (rawId.isEmpty() || rawId.contains("/")) {
            throw new Refusal(Reply.error(404, "no such resource"));
        }
        String taskId;
        try {
            taskId = URLDecoder.decode(rawId, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new Refusal(Reply.error(400, "the task id is not a valid path segment"));
        }
        String method = call.method();
        if (!method.equals(predict ? "POST" : "GET")) {
            throw new Refusal(Reply.error(405, (predict ? "POST" : "GET") + " only")
                    .withHeader("Allow", predict ? "POST" : "GET"));
        }
        String route = call.header(ROUTE_HEADER);
        boolean forwarded = route != null || call.header(FORWARD_SIGNATURE_HEADER) != null
                || call.header(FORWARD_TIME_HEADER) != null;
        byte[] body;
        if (forwarded) {
            // The signature covers the body, so it is read (bounded) before the check.
            body = predict ? call.body() : new byte[0];
            checkForwarded(call, method, rawPath, route, body);
        } else {
            authenticate(call);
            body = predict ? call.body() : new byte[0];
        }
        call.requestRead();
        float[] features = predict ? features(body, reader.inputDim()) : null;
        long deadline = System.nanoTime() + settings.requestTimeout().toNanos();
        if (forwarded) {
            // Forwarded to us: answer from here or fail, never forward again.
            boolean standby = route.equals("standby");
            return onWorker(() -> local(reader, taskId, features, standby, self), deadline);
        }
        KeyQueryMetadata owner;
        try {
            owner = reader.owner(taskId);
        } catch (InvalidStateStoreException e) {
            owner = null;
        }
        if (owner == null || owner.equals(KeyQueryMetadata.NOT_AVAILABLE)) {
            return Reply.unavailable("no instance hosts this task now (starting or rebalancing); retry",
                    "no metadata for task " + taskId);
        }
        List<String> tried = new ArrayList<>();
        List<HostInfo> candidates = new ArrayList<>();
        candidates.add(owner.activeHost());
        candidates.addAll(owner.standbyHosts());
        boolean skipped = false;
        for (int i = 0; i < candidates.size(); i++) {
            HostInfo host = candidates.get(i);
            boolean standby = i > 0;
            Reply reply;
            if (host.equals(self)) {
                reply = onWorker(() -> local(reader, taskId, features, standby, self), deadline);
            } else if (forwarding == null) {
                skipped = true;
                tried.add(host + (standby ? " (standby)" : "") + ": not forwarded, forwarding is off");
                continue;
            } else {
                reply = forward(host, rawPath, method, body, standby, predict, deadline);
            }
            if (!reply.retryElsewhere()) {
                return reply;
            }
            tried.add(host + (standby ? " (standby)" : "") + ": " + reply.detail());
        }
        String detail = "task " + taskId + " tried " + tried;
        return skipped && tried.size() == candidates.size()
                ? Reply.unavailable("another instance hosts this task and forwarding is off "
                        + "(http.forward.secret); ask that instance", detail)
                : Reply.unavailable("this task cannot be read now; retry", detail);
    }

    private void authenticate(Call call) throws Refusal {
        if (tokenDigest == null) {
            return;
        }
        String header = call.header("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new Refusal(Reply.error(401, "a bearer token is required").withHeader("WWW-Authenticate", REALM));
        }
        byte[] given = ForwardSignature.sha256(header.substring(7).trim().getBytes(StandardCharsets.UTF_8));
        // Digests of equal length, compared in constant time: the time says nothing of the token.
        if (!MessageDigest.isEqual(tokenDigest, given)) {
            throw new Refusal(Reply.error(401, "the bearer token is not valid")
                    .withHeader("WWW-Authenticate", REALM + ", error=\"invalid_token\""));
        }
    }

    private void checkForwarded(Call call, String method, String rawPath, String route, byte[] body)
            throws Refusal {
        String why;
        if (forwarding == null) {
            why = "forwarding is off here (no http.forward.secret or http.auth.token)";
        } else if (!"active".equals(route) && !"standby".equals(route)) {
            why = "route header missing or not active/standby";
        } else if (!forwarding.verify(method, rawPath, route, call.header(FORWARD_TIME_HEADER),
                call.header(FORWARD_SIGNATURE_HEADER), body)) {
            why = "signature or time (" + ForwardSignature.WINDOW.toSeconds() + " s window) does not check";
        } else {
            return;
        }
        throw new Refusal(Reply.error(403, "forwarded request refused").withDetail(
                "forwarded request from " + call.exchange.getRemoteAddress() + " refused: " + why));
    }

    /** Runs task work on the bounded worker pool: 503 when the pool and its queue are full or time runs out. */
    private Reply onWorker(Callable<Reply> work, long deadline) {
        Future<Reply> future;
        try {
            future = workers.submit(work);
        } catch (RejectedExecutionException e) {
            return Reply.busy("busy; retry", "worker pool and queue full");
        }
        try {
            return future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            future.cancel(false);
            return Reply.busy("no answer in time; retry", "task work passed http.request.timeout.ms");
        } catch (InterruptedException e) {
            future.cancel(false);
            Thread.currentThread().interrupt();
            return Reply.busy("shutting down", "interrupted");
        } catch (ExecutionException e) {
            return internalError(e.getCause());
        }
    }

    private static Reply local(TaskReader reader, String taskId, float[] features, boolean standby, HostInfo self) {
        try {
            Map<String, Object> out = new LinkedHashMap<>();
            if (features != null) {
                TaskStates.Answer a;
                try {
                    a = reader.predict(taskId, features, standby);
                } catch (NonFinitePredictionException e) {
                    // Any client can send features that overflow the model: its answer, not our fault,
                    // and counted (refused) by TaskStates; a log line without a stack, at debug.
                    return Reply.error(422, "these features are too extreme for the model: it gives no finite "
                            + "prediction for them", NON_FINITE_PREDICTION)
                            .withDetail("task " + taskId + ": " + e.getMessage());
                } catch (IllegalArgumentException e) {
                    int dim = reader.inputDim();
                    if (features.length == dim) {
                        throw e; // not the client's features: a fault of ours
                    }
                    // A hot swap changed the base's input size after the request was checked.
                    return Reply.error(400, "expected " + dim + " features, got " + features.length)
                            .withDetail("the base served changed its input size: " + e.getMessage());
                }
                if (!Float.isFinite(a.value())) {
                    return nonFinite("task " + taskId + " predicted " + a.value() + " (adapted=" + a.adapted()
                            + ", base " + a.modelVersion() + ")");
                }
                out.put("taskId", a.taskId());
                out.put("value", a.value());
                out.put("adapted", a.adapted());
                out.put("supportSize", a.supportSize());
                out.put("adaptedThroughMs", a.adaptedThroughMs());
                out.put("modelVersion", a.modelVersion());
                out.put("pendingSamples", a.pendingSamples());
                if (a.scores() != null) {
                    out.put("label", a.label());
                    List<Map<String, Object>> scores = new ArrayList<>(a.scores().size());
                    a.scores().forEach(c -> scores.add(Map.of("label", c.getLabel(), "probability", c.getProbability())));
                    out.put("scores", scores);
                }
            } else {
                Optional<TaskStates.View> view = reader.describe(taskId, standby);
                if (view.isEmpty()) {
                    return Reply.error(404, "no state for this task");
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
            return Reply.json(200, out);
        } catch (InvalidStateStoreException e) {
            return Reply.unavailable("the state of this task is not readable here now; retry",
                    "store not readable: " + e.getMessage());
        }
    }

    private static Reply nonFinite(String detail) {
        return Reply.error(500, "the model gave no finite prediction for this task", NON_FINITE_PREDICTION)
                .withDetail(detail);
    }

    /** Peers always answer with a length; more than the cap, or none, is not a reply we relay. */
    private static final HttpResponse.BodyHandler<byte[]> BOUNDED_BODY = info -> {
        long length = info.headers().firstValueAsLong("Content-Length").orElse(-1);
        return length >= 0 && length <= MAX_BODY_BYTES ? HttpResponse.BodySubscribers.ofByteArray()
                : HttpResponse.BodySubscribers.replacing(null);
    };

    private Reply forward(HostInfo host, String rawPath, String method, byte[] body, boolean standby,
            boolean predict, long deadline) {
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
            return Reply.busy("no answer in time; retry", "no time left to forward to " + host);
        }
        String route = standby ? "standby" : "active";
        long now = forwarding.now();
        CompletableFuture<HttpResponse<byte[]>> pending;
        try {
            String authority = host.host().contains(":") ? "[" + host.host() + "]" : host.host();
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://" + authority + ":" + host.port()
                    + rawPath)).timeout(Duration.ofNanos(remaining))
                    .header(ROUTE_HEADER, route)
                    .header(FORWARD_TIME_HEADER, Long.toString(now))
                    .header(FORWARD_SIGNATURE_HEADER, forwarding.sign(method, rawPath, route, now, body));
            request = method.equals("POST") ? request.POST(HttpRequest.BodyPublishers.ofByteArray(body))
                    .header("Content-Type", "application/json") : request.GET();
            pending = client.sendAsync(request.build(), BOUNDED_BODY);
        } catch (IllegalArgumentException e) {
            return Reply.unavailable("this task cannot be read now", "bad address " + host + ": " + e.getMessage());
        }
        HttpResponse<byte[]> response;
        try {
            response = pending.get(remaining, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            pending.cancel(true);
            return Reply.unavailable("this task cannot be read now", host + " did not answer in time");
        } catch (ExecutionException e) {
            return Reply.unavailable("this task cannot be read now", host + " unreachable: " + e.getCause());
        } catch (InterruptedException e) {
            pending.cancel(true);
            Thread.currentThread().interrupt();
            return Reply.busy("shutting down", "interrupted");
        }
        int status = response.statusCode();
        if (response.body() == null) {
            return Reply.unavailable("this task cannot be read now", host + " replied without a bounded body");
        }
        if (status == 401 || status == 403) {
            LOG.error("{} refused a request this instance forwarded ({}): http.forward.secret (or http.auth.token) "
                    + "must be the same on every instance, and their clocks within {} s", host, status,
                    ForwardSignature.WINDOW.toSeconds());
            return Reply.unavailable("this task cannot be read now", host + " refused our signature");
        }
        if (status == 503) {
            return Reply.unavailable("this task cannot be read now",
                    host + " answered 503: " + new String(response.body(), StandardCharsets.UTF_8));
        }
        if (status == 200 && predict && !finiteValue(response.body())) {
            // A peer of another version could still send "NaN"; it is not relayed.
            return nonFinite(host + " answered " + new String(response.body(), StandardCharsets.UTF_8));
        }
        return new Reply(status, response.body(), "application/json", Map.of(), null, null, false);
    }

    private static boolean finiteValue(byte[] body) {
        try {
            JsonNode value = JSON.readTree(body).get("value");
            return value != null && value.isNumber() && Double.isFinite(value.doubleValue());
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * {@code {"features": [numbers]}}, each a finite 32-bit float, {@code inputDim} of them.
     *
     * @throws Refusal a 400 saying what is wrong, in fixed words
     */
    static float[] features(byte[] body, int inputDim) throws Refusal {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            throw new Refusal(Reply.error(400, "body is not JSON").withDetail(e.getMessage()));
        }
        JsonNode array = root == null ? null : root.get("features");
        if (array == null || !array.isArray()) {
            throw new Refusal(Reply.error(400, "body must be {\"features\": [numbers]}"));
        }
        if (array.size() != inputDim) {
            throw new Refusal(Reply.error(400, "expected " + inputDim + " features, got " + array.size()));
        }
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            if (!array.get(i).isNumber()) {
                throw new Refusal(Reply.error(400, "feature " + i + " is not a number"));
            }
            out[i] = array.get(i).floatValue();
            if (!Float.isFinite(out[i])) {
                throw new Refusal(Reply.error(400, "feature " + i + " is not a finite 32-bit number"));
            }
        }
        return out;
    }

    private static Map<String, Object> statusBody(Status s) {
        Map<String, Object> out = new LinkedHashMap<>();
        // A probe must answer: a detail that is not a finite number is written as null, not a 500.
        s.details().forEach((key, value) -> out.put(key, value instanceof Double d && !Double.isFinite(d)
                || value instanceof Float f && !Float.isFinite(f) ? null : value));
        out.put("live", s.live());
        out.put("ready", s.ready());
        out.put("reasons", s.reasons());
        return out;
    }

    private static Reply internalError(Throwable e) {
        Reply reply = Reply.error(500, "internal error");
        LOG.error("[{}] HTTP request failed", reply.errorId(), e);
        return reply.withDetail(null);
    }

    /**
     * JSON of {@code value}.
     *
     * @throws IllegalStateException if it holds a non-finite number: JSON has none, and Jackson would
     *     write {@code "NaN"}, a string where a number belongs
     */
    static byte[] json(Object value) {
        requireFinite(value);
        try {
            return JSON.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void requireFinite(Object value) {
        if (value instanceof Double d && !Double.isFinite(d) || value instanceof Float f && !Float.isFinite(f)) {
            throw new IllegalStateException("a reply held the non-finite number " + value);
        } else if (value instanceof Map<?, ?> map) {
            map.values().forEach(OperationsServer::requireFinite);
        } else if (value instanceof Collection<?> items) {
            items.forEach(OperationsServer::requireFinite);
        } else if (value instanceof float[] || value instanceof double[]) {
            throw new IllegalArgumentException("write numbers as lists, so they are checked");
        }
    }

    /** A reply to send. {@code detail} is logged with {@code errorId}, never sent. */
    record Reply(int status, byte[] body, String contentType, Map<String, String> headers, String errorId,
            String detail, boolean retryElsewhere) {

        static Reply json(int status, Object value) {
            return new Reply(status, OperationsServer.json(value), "application/json", Map.of(), null, null, false);
        }

        static Reply error(int status, String message) {
            return error(status, message, null);
        }

        /** {@code {"error": message, "errorId": id}}, with {@code "reason"} when not null. */
        static Reply error(int status, String message, String reason) {
            String id = UUID.randomUUID().toString();
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("error", message);
            if (reason != null) {
                body.put("reason", reason);
            }
            body.put("errorId", id);
            return new Reply(status, OperationsServer.json(body), "application/json", Map.of(), id, null, false);
        }

        /** A 503 another copy of the task may not give: try the standby, or the next instance. */
        static Reply unavailable(String message, String detail) {
            Reply r = error(503, message).withHeader("Retry-After", "1").withDetail(detail);
            return new Reply(r.status, r.body, r.contentType, r.headers, r.errorId, r.detail, true);
        }

        /** A 503 of this instance's own load: asking another copy would not help. */
        static Reply busy(String message, String detail) {
            return error(503, message).withHeader("Retry-After", "1").withDetail(detail);
        }

        Reply withHeader(String name, String value) {
            Map<String, String> h = new LinkedHashMap<>(headers);
            h.put(name, value);
            return new Reply(status, body, contentType, Map.copyOf(h), errorId, detail, retryElsewhere);
        }

        Reply withDetail(String text) {
            return new Reply(status, body, contentType, headers, errorId, text, retryElsewhere);
        }
    }

    /** A reply decided before the work: thrown out of the reading and checking of a request. */
    static final class Refusal extends Exception {
        private final transient Reply reply;

        Refusal(Reply reply) {
            super(null, null, false, false);
            this.reply = reply;
        }
    }

    private interface Route {
        Reply answer(Call call) throws IOException, Refusal;
    }

    /**
     * Serves one exchange on its connection thread. {@code readsBody}: the route reads the request
     * and calls {@link Call#requestRead} itself; otherwise the request is read once its headers are.
     */
    private void serve(Exchange exchange, boolean readsBody, Route route) {
        Call call = new Call(exchange, ConnectionThreads.current());
        Reply reply;
        try {
            if (!readsBody) {
                call.requestRead();
            }
            reply = route.answer(call);
        } catch (Refusal refusal) {
            reply = refusal.reply;
        } catch (IOException e) {
            // The request could not be read: the client left, or its deadline closed the connection.
            LOG.debug("{} {}: request not read: {}", exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
                    e.toString());
            exchange.close();
            return;
        } catch (RuntimeException e) {
            reply = internalError(e);
        }
        log(exchange, reply);
        call.send(reply);
    }

    private static void log(Exchange exchange, Reply reply) {
        if (reply.errorId() == null || reply.detail() == null && reply.status() == 500) {
            return; // a success, or a 500 logged with its exception already
        }
        String line = "[{}] {} {} -> {}: {}";
        Object[] args = {reply.errorId(), exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
                reply.status(), reply.detail() == null ? "-" : reply.detail()};
        if (reply.status() >= 500 || reply.status() == 403) {
            LOG.warn(line, args);
        } else {
            LOG.debug(line, args);
        }
    }

    /** One exchange as its handler sees it: the body read within bounds, and the reply sent. */
    private final class Call {
        private final Exchange exchange;
        private final ConnectionThreads.Slot slot;
        private boolean bodyRead;

        Call(Exchange exchange, ConnectionThreads.Slot slot) {
            this.exchange = exchange;
            this.slot = slot;
        }

        String method() {
            return exchange.getRequestMethod();
        }

        String header(String name) {
            return exchange.getRequestHeaders().getFirst(name);
        }

        void expect(String path, String... methods) throws Refusal {
            if (!exchange.getRequestURI().getRawPath().equals(path)) {
                throw new Refusal(Reply.error(404, "no such resource"));
            }
            if (!List.of(methods).contains(method())) {
                throw new Refusal(Reply.error(405, String.join(" or ", methods) + " only")
                        .withHeader("Allow", String.join(", ", methods)));
            }
        }

        /**
         * The body, at most {@value #MAX_BODY_BYTES} bytes: a declared length over that is refused
         * before a byte is read, a chunked body as soon as it passes it.
         */
        byte[] body() throws IOException, Refusal {
            long length = exchange.requestLength();
            if (length > MAX_BODY_BYTES) {
                throw tooLarge("Content-Length " + length);
            }
            byte[] body = exchange.getRequestBody().readNBytes(MAX_BODY_BYTES + 1);
            if (body.length > MAX_BODY_BYTES) {
                throw tooLarge("chunked body past the cap");
            }
            bodyRead = true;
            return body;
        }

        private Refusal tooLarge(String detail) {
            return new Refusal(Reply.error(413, "body over " + MAX_BODY_BYTES + " bytes").withDetail(detail));
        }

        void requestRead() throws IOException {
            if (slot != null) {
                slot.requestRead();
            }
        }

        private boolean declaresBody() {
            return exchange.requestLength() != 0;
        }

        /**
         * Sends {@code reply}. A body left unread (a refusal before it) closes the connection after
         * the reply, and is read and dropped first up to a bound within the deadline, so the client
         * reads the reply rather than a reset.
         */
        void send(Reply reply) {
            try {
                if (slot != null) {
                    slot.watchFor(connections.readTimeoutNanos());
                }
                Headers headers = exchange.getResponseHeaders();
                headers.set("Content-Type", reply.contentType());
                headers.set("X-Content-Type-Options", "nosniff");
                headers.set("Cache-Control", "no-store");
                reply.headers().forEach(headers::set);
                boolean unread = !bodyRead && declaresBody();
                if (unread) {
                    headers.set("Connection", "close");
                }
                byte[] body = method().equals("HEAD") ? new byte[0] : reply.body();
                exchange.sendResponseHeaders(reply.status(), body.length == 0 ? -1 : body.length);
                if (body.length > 0) {
                    OutputStream out = exchange.getResponseBody();
                    out.write(body);
                    out.flush();
                    if (unread) {
                        drain(exchange.getRequestBody());
                    }
                    out.close();
                }
            } catch (IOException e) {
                LOG.debug("{} {}: reply not delivered: {}", method(), exchange.getRequestURI().getRawPath(),
                        e.toString());
            } finally {
                exchange.close();
            }
        }

        private void drain(InputStream in) throws IOException {
            byte[] buffer = new byte[16 * 1024];
            long total = 0;
            int n;
            while (total < MAX_DRAIN_BYTES && (n = in.read(buffer)) >= 0) {
                total += n;
            }
        }
    }

    /** A task id as a path segment. */
    public static String pathSegment(String taskId) {
        return URLEncoder.encode(taskId, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public void close() {
        server.close();
        connections.close();
        workers.shutdownNow();
    }
}

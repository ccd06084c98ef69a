package io.metastream.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.metastream.server.TaskStates;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.internals.NonFinitePredictionException;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP layer alone, over real sockets: authentication, signed forwarding, deadlines on slow
 * clients, bounded bodies and pools, and what error and prediction bodies may carry. The task
 * stores behind it are a stand-in ({@link StubTasks}); {@code OperationsTest} runs the same server
 * in two instances on a real broker.
 */
class OperationsServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final String TOKEN = "a-token-of-thirty-two-characters";
    private static final String SECRET = "the-secret-every-instance-shares";

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        Collections.reverse(closeables);
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    @Test
    void shouldListenOnLoopbackByDefault() throws Exception {
        MetastreamConfig config = new MetastreamConfig(Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "x:9092"));
        assertThat(config.getString(MetastreamConfig.HTTP_HOST_CONFIG)).isEqualTo("127.0.0.1");
        assertThat(config.getPassword(MetastreamConfig.HTTP_AUTH_TOKEN_CONFIG)).isNull();
        OperationsServer server = start(new OperationsServer(config.getString(MetastreamConfig.HTTP_HOST_CONFIG), 0,
                HttpSettings.from(config)), new StubTasks());
        assertThat(server.address().getAddress().isLoopbackAddress()).isTrue();
        assertThat(get(server, "/health").statusCode()).isEqualTo(200);
        Optional<InetAddress> outside = nonLoopbackAddress();
        if (outside.isPresent()) {
            try (Socket s = new Socket()) {
                org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> s.connect(new InetSocketAddress(outside.get(), server.port()), 2_000))
                        .as("not reachable at " + outside.get()).isInstanceOf(IOException.class);
            }
        }
    }

    @Test
    void shouldRefuseSecretsTooShortToBeSecret() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new MetastreamConfig(Map.of(
                MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "x:9092", MetastreamConfig.HTTP_AUTH_TOKEN_CONFIG, "short")))
                .hasMessageContaining("at least 16").hasMessageNotContaining("short");
        assertThat(HttpSettings.defaults().withAuthToken(TOKEN).toString()).doesNotContain(TOKEN);
    }

    @Test
    void shouldRefuseAMissingOrWrongTokenAndAcceptTheRightOne() throws Exception {
        StubTasks tasks = new StubTasks();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        OperationsServer server = new OperationsServer("127.0.0.1", 0, settings().withAuthToken(TOKEN));
        server.serveMetrics(registry);
        start(server, tasks);

        HttpResponse<String> none = get(server, "/tasks/t1");
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v)
                .startsWith("Bearer"));
        HttpResponse<String> wrong = get(server, "/tasks/t1", "Authorization", "Bearer " + TOKEN + "x");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v)
                .contains("invalid_token"));
        assertThat(get(server, "/tasks/t1", "Authorization", "Basic " + TOKEN).statusCode()).isEqualTo(401);
        assertThat(post(server, "/tasks/t1/predict", "{\"features\": [1]}").statusCode()).isEqualTo(401);
        assertThat(tasks.calls.get()).as("nothing read for a refused request").isZero();

        HttpResponse<String> right = get(server, "/tasks/t1", "Authorization", "Bearer " + TOKEN);
        assertThat(right.statusCode()).as(right.body()).isEqualTo(200);
        assertThat(JSON.readTree(right.body()).get("taskId").asText()).isEqualTo("t1");
        assertThat(post(server, "/tasks/t1/predict", "{\"features\": [1]}", "Authorization", "bearer " + TOKEN)
                .statusCode()).isEqualTo(200);
        // Probes and the scrape stay open.
        assertThat(get(server, "/health").statusCode()).isEqualTo(200);
        assertThat(get(server, "/ready").statusCode()).isEqualTo(200);
        assertThat(get(server, "/metrics").statusCode()).isEqualTo(200);
    }

    @Test
    void shouldRefuseAForgedRouteHeader() throws Exception {
        StubTasks tasks = new StubTasks();
        Instant now = Instant.parse("2025-01-01T00:00:00Z");
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings().withForwardSecret(SECRET),
                Clock.fixed(now, ZoneOffset.UTC)), tasks);
        ForwardSignature ours = ForwardSignature.fromSecret(SECRET, "http.forward.secret",
                Clock.fixed(now, ZoneOffset.UTC));
        ForwardSignature theirs = ForwardSignature.fromSecret("another-secret-of-some-length", "http.forward.secret",
                Clock.fixed(now, ZoneOffset.UTC));
        String path = "/tasks/t1";
        long t = now.toEpochMilli();

        assertThat(get(server, path, OperationsServer.ROUTE_HEADER, "active").statusCode()).isEqualTo(403);
        assertThat(get(server, path, OperationsServer.ROUTE_HEADER, "standby",
                OperationsServer.FORWARD_TIME_HEADER, Long.toString(t),
                OperationsServer.FORWARD_SIGNATURE_HEADER, "bm90IGEgc2lnbmF0dXJl").statusCode()).isEqualTo(403);
        assertThat(signedGet(server, path, "active", t, theirs.sign("GET", path, "active", t, new byte[0]))
                .statusCode()).as("another key").isEqualTo(403);
        long stale = t - ForwardSignature.WINDOW.toMillis() - 1_000;
        assertThat(signedGet(server, path, "active", stale, ours.sign("GET", path, "active", stale, new byte[0]))
                .statusCode()).as("outside the clock window").isEqualTo(403);
        assertThat(signedGet(server, path, "standby", t, ours.sign("GET", path, "active", t, new byte[0]))
                .statusCode()).as("route changed after signing").isEqualTo(403);
        assertThat(signedGet(server, "/tasks/t2", "active", t, ours.sign("GET", path, "active", t, new byte[0]))
                .statusCode()).as("path changed after signing").isEqualTo(403);
        HttpResponse<String> forged = get(server, path, OperationsServer.FORWARD_SIGNATURE_HEADER, "x");
        assertThat(forged.statusCode()).isEqualTo(403);
        assertThat(JSON.readTree(forged.body()).get("error").asText()).isEqualTo("forwarded request refused");
        assertThat(tasks.calls.get()).as("no forged request read a store").isZero();

        HttpResponse<String> signed = signedGet(server, path, "standby", t,
                ours.sign("GET", path, "standby", t, new byte[0]));
        assertThat(signed.statusCode()).as(signed.body()).isEqualTo(200);
        assertThat(JSON.readTree(signed.body()).get("standby").asBoolean()).isTrue();
        assertThat(tasks.calls.get()).isEqualTo(1);
    }

    @Test
    void shouldRefuseEveryRouteHeaderWhenForwardingIsOffEvenWithTheToken() throws Exception {
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()), new StubTasks());
        assertThat(get(server, "/tasks/t1", OperationsServer.ROUTE_HEADER, "active").statusCode()).isEqualTo(403);
        assertThat(get(server, "/tasks/t1").statusCode()).isEqualTo(200);

        // The token's derived key signs forwards; the token as a route credential does not.
        OperationsServer guarded = start(new OperationsServer("127.0.0.1", 0, settings().withAuthToken(TOKEN)),
                new StubTasks());
        assertThat(get(guarded, "/tasks/t1", OperationsServer.ROUTE_HEADER, "active", "Authorization",
                "Bearer " + TOKEN).statusCode()).isEqualTo(403);
    }

    @Test
    void shouldForwardToTheOwnerSignedAndRelayOnlyWhatTheOwnerAccepts() throws Exception {
        StubTasks ownerTasks = new StubTasks();
        ownerTasks.value = 2.5f;
        OperationsServer owner = start(new OperationsServer("127.0.0.1", 0, settings().withForwardSecret(SECRET)),
                ownerTasks);
        StubTasks entryTasks = new StubTasks();
        entryTasks.owner = new KeyQueryMetadata(self(owner), Set.of(), 0);
        OperationsServer entry = start(new OperationsServer("127.0.0.1", 0, settings().withForwardSecret(SECRET)
                .withAuthToken(TOKEN)), entryTasks);

        HttpResponse<String> r = post(entry, "/tasks/t1/predict", "{\"features\": [3]}", "Authorization",
                "Bearer " + TOKEN);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode answer = JSON.readTree(r.body());
        assertThat(answer.get("value").floatValue()).isEqualTo(2.5f);
        assertThat(answer.get("servedBy").asText()).isEqualTo("127.0.0.1:" + owner.port());
        assertThat(ownerTasks.calls.get()).isEqualTo(1);
        assertThat(entryTasks.calls.get()).as("the entry read no store of its own").isZero();

        // An entry with another secret: the owner refuses, the client gets a 503 that names nothing inside.
        OperationsServer stranger = start(new OperationsServer("127.0.0.1", 0,
                settings().withForwardSecret("not-the-shared-secret-at-all")), entryTasks);
        HttpResponse<String> refused = get(stranger, "/tasks/t1");
        assertThat(refused.statusCode()).isEqualTo(503);
        JsonNode refusal = JSON.readTree(refused.body());
        assertThat(refusal.get("error").asText()).isEqualTo("this task cannot be read now; retry");
        assertThat(refusal.fieldNames()).toIterable().containsOnly("error", "errorId");
        assertThat(ownerTasks.calls.get()).isEqualTo(1);

        // Forwarding off: a fixed 503 for a task hosted elsewhere, nothing sent to the owner.
        OperationsServer alone = start(new OperationsServer("127.0.0.1", 0, settings()), entryTasks);
        HttpResponse<String> off = get(alone, "/tasks/t1");
        assertThat(off.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(off.body()).get("error").asText()).contains("forwarding is off");
        assertThat(ownerTasks.calls.get()).isEqualTo(1);
    }

    @Test
    void shouldAnswerHealthWithinASecondWhileEightSlowClientsHoldTaskConnections() throws Exception {
        StubTasks tasks = new StubTasks();
        tasks.gate = new CountDownLatch(1);
        // Deadlines far past the test: the slow clients hold their connections (and, past their
        // headers, their threads) throughout.
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()
                .withTimeouts(Duration.ofSeconds(60), Duration.ofSeconds(60))
                .withClientLimits(Duration.ofSeconds(60), 16).withWorkers(1, 1)), tasks);
        List<Socket> slow = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            Socket s = connect(server);
            slow.add(s);
            OutputStream out = s.getOutputStream();
            switch (i % 4) {
                case 0 -> out.write("GET /tasks/t1 HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
                case 1 -> out.write(("POST /tasks/t1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                        + "{\"feat").getBytes(StandardCharsets.US_ASCII));
                case 2 -> out.write(("POST /tasks/t1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "10\r\n{\"features\"").getBytes(StandardCharsets.US_ASCII));
                default -> out.write("G".getBytes(StandardCharsets.US_ASCII));
            }
            out.flush();
        }
        // And two requests whose work never ends: one on the only worker, one in its queue.
        List<CompletableFuture<HttpResponse<String>>> stuck = List.of(getAsync(server, "/tasks/a"));
        await("a worker busy", () -> tasks.inFlight.get() == 1);
        stuck = List.of(stuck.get(0), getAsync(server, "/tasks/b"));
        await("a request queued", () -> server.queuedTasks() == 1);
        Thread dribbler = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    for (int i = 0; i < 8; i += 4) {
                        slow.get(i).getOutputStream().write('a');
                    }
                    Thread.sleep(50);
                }
            } catch (IOException | InterruptedException e) {
                // ends with the test
            }
        });
        dribbler.start();
        try {
            for (int i = 0; i < 5; i++) {
                long start = System.nanoTime();
                HttpResponse<String> health = HTTP.send(HttpRequest.newBuilder(uri(server, "/health"))
                        .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(health.statusCode()).isEqualTo(200);
                assertThat(millis).as("/health took %d ms", millis).isLessThan(1_000);
            }
            HttpResponse<String> busy = get(server, "/tasks/c");
            assertThat(busy.statusCode()).as("the third task request finds pool and queue full").isEqualTo(503);
            assertThat(busy.headers().firstValue("Retry-After")).isPresent();
            for (Socket s : slow) {
                assertThat(s.isClosed()).isFalse();
            }
        } finally {
            dribbler.interrupt();
            tasks.gate.countDown();
            for (Socket s : slow) {
                s.close();
            }
        }
        for (CompletableFuture<HttpResponse<String>> f : stuck) {
            assertThat(f.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void shouldCloseAClientThatDoesNotFinishItsRequestInTime() throws Exception {
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()
                .withTimeouts(Duration.ofMillis(300), Duration.ofSeconds(5))), new StubTasks());
        Socket headers = connect(server);
        headers.getOutputStream().write("GET /tasks/t1 HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
        Socket body = connect(server);
        body.getOutputStream().write(("POST /tasks/t1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
                .getBytes(StandardCharsets.US_ASCII));
        Socket dribble = connect(server);
        Thread dribbler = new Thread(() -> {
            try {
                OutputStream out = dribble.getOutputStream();
                out.write("GET /health HTTP/1.1\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
                for (int i = 0; i < 200; i++) {
                    out.write('a');
                    Thread.sleep(25);
                }
            } catch (IOException | InterruptedException e) {
                // the server closed it, as it should
            }
        });
        dribbler.start();
        for (Socket s : List.of(headers, body, dribble)) {
            assertThat(closedByServer(s)).as("closed by the server within 4 s").isTrue();
        }
        dribbler.interrupt();
        assertThat(server.closedByDeadline()).isGreaterThanOrEqualTo(3);
        assertThat(get(server, "/health").statusCode()).isEqualTo(200);
        for (Socket s : List.of(headers, body, dribble)) {
            s.close();
        }
    }

    @Test
    void shouldRefuseOneClientPastItsConnectionCapAndKeepAnsweringOthers() throws Exception {
        // The defaults: 16 connections a client, request headers within 2 s, the rest within 10 s.
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()), new StubTasks());
        io.micrometer.core.instrument.simple.SimpleMeterRegistry meters =
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        server.recordTo(meters, "api");
        List<Socket> slow = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            Socket s = connectFrom("127.0.0.1", server);
            try {
                s.getOutputStream().write('G');
            } catch (IOException e) {
                // refused at accept already: what this test wants
            }
            slow.add(s);
        }
        long opened = System.nanoTime();
        for (int i = 0; i < 5; i++) {
            long start = System.nanoTime();
            String health = rawGet(connectFrom("127.0.0.2", server), "/health");
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(health).as("another client is answered").startsWith("HTTP/1.1 200");
            assertThat(millis).as("/health took %d ms", millis).isLessThan(1_000);
        }
        await("the 48 past the cap closed at once", () -> slow.stream().filter(OperationsServerTest::closedNow)
                .count() >= 48);
        assertThat(server.refusedAtAccept()).isGreaterThanOrEqualTo(48);
        // The 16 it took are cut at the header deadline, not after the 10 s read timeout.
        for (Socket s : slow) {
            assertThat(closedByServer(s)).as("closed by the server within 4 s").isTrue();
        }
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - opened)).isLessThan(8_000);
        assertThat(server.closedByDeadline()).isGreaterThanOrEqualTo(16);
        assertThat(meters.get("metastream.http.connections.refused").tag("server", "api").functionCounter().count())
                .as("exported").isGreaterThanOrEqualTo(48);
        assertThat(meters.get("metastream.http.connections.timed.out").tag("server", "api").functionCounter().count())
                .isGreaterThanOrEqualTo(16);
        assertThat(get(server, "/health").statusCode()).as("the client is served again").isEqualTo(200);
    }

    @Test
    void shouldAnswer503WhenEveryRequestThreadIsHeldYetStillAnswerProbesAndRecoverAfter() throws Exception {
        // Headers are read without a thread: it takes whole heads with slow bodies to hold one, and,
        // at 16 connections a client, four clients to hold all 64.
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()
                .withTimeouts(Duration.ofSeconds(60), Duration.ofSeconds(60))), new StubTasks());
        List<Socket> held = new ArrayList<>();
        for (int i = 0; i < OperationsServer.MAX_CONCURRENT_REQUESTS; i++) {
            Socket s = connectFrom("127.0.0." + (1 + i / 16), server);
            s.getOutputStream().write("POST /tasks/t1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
                    .getBytes(StandardCharsets.US_ASCII));
            held.add(s);
        }
        await("every request thread held", () -> Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().matches("metastream-http-\\d+")).count()
                >= OperationsServer.MAX_CONCURRENT_REQUESTS);
        String busy = rawGet(connectFrom("127.0.0.5", server), "/tasks/t1");
        assertThat(busy).as("refused at once, not left waiting").startsWith("HTTP/1.1 503").contains("Retry-After");
        assertThat(rawGet(connectFrom("127.0.0.5", server), "/health")).as("a probe has threads of its own")
                .startsWith("HTTP/1.1 200");
        assertThat(rawGet(connectFrom("127.0.0.5", server), "/ready")).startsWith("HTTP/1.1 200");
        for (Socket s : held) {
            s.close();
        }
        await("/tasks answered again", () -> {
            try {
                return get(server, "/tasks/t1").statusCode() == 200;
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void shouldAnswer413ForABodyOverTheCap() throws Exception {
        StubTasks tasks = new StubTasks();
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()), tasks);
        byte[] big = bigFeatures(2 * OperationsServer.MAX_BODY_BYTES);

        HttpResponse<String> declared = HTTP.send(HttpRequest.newBuilder(uri(server, "/tasks/t1/predict"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(big)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(declared.statusCode()).isEqualTo(413);
        assertThat(JSON.readTree(declared.body()).get("error").asText()).contains("body over");

        HttpResponse<String> chunked = HTTP.send(HttpRequest.newBuilder(uri(server, "/tasks/t1/predict"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(chunked.statusCode()).as("a chunked body is cut at the cap").isEqualTo(413);

        // A client that declares a gigabyte and sends a little: answered before the body, not reset.
        try (Socket s = connect(server)) {
            s.getOutputStream().write(("POST /tasks/t1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n"
                    + "\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(new byte[64 * 1024]);
            String head = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
            assertThat(head).isEqualTo("HTTP/1.1 413");
        }
        assertThat(tasks.calls.get()).isZero();
        assertThat(post(server, "/tasks/t1/predict", "{\"features\": [1]}").statusCode()).isEqualTo(200);
    }

    @Test
    void shouldKeepInternalTextOutOfErrorBodies() throws Exception {
        StubTasks tasks = new StubTasks();
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()), tasks);
        List<HttpResponse<String>> errors = new ArrayList<>();

        tasks.failure = new IllegalStateException("secret detail in io.metastream.Internal at line 42");
        HttpResponse<String> internal = get(server, "/tasks/t1");
        assertThat(internal.statusCode()).isEqualTo(500);
        errors.add(internal);
        tasks.failure = new InvalidStateStoreException("store support-sets of partition 3 is migrating");
        HttpResponse<String> store = get(server, "/tasks/t1");
        assertThat(store.statusCode()).isEqualTo(503);
        errors.add(store);
        tasks.failure = null;
        errors.add(post(server, "/tasks/t1/predict", "{\"features\": [1,"));
        errors.add(post(server, "/tasks/t1/predict", "{\"features\": [\"x\"]}"));
        errors.add(post(server, "/tasks/t1/predict", "{\"features\": [1, 2]}"));
        errors.add(get(server, "/tasks/t1/predict"));
        errors.add(get(server, "/nothing/here"));
        errors.add(get(server, "/tasks/a/b"));
        errors.add(get(server, "/healthz"));
        for (HttpResponse<String> r : errors) {
            assertThat(r.statusCode()).isBetween(400, 599);
            assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
            JsonNode body = JSON.readTree(r.body());
            assertThat(body.get("errorId").asText()).as(r.body()).matches("[0-9a-f-]{36}");
            assertThat(r.body()).as("no internal text").doesNotContain("secret", "io.metastream", "Exception",
                    "migrating", "partition", "at line", "Unexpected", "<h1>", "\\n\\tat ");
        }
        assertThat(JSON.readTree(errors.get(0).body()).get("error").asText()).isEqualTo("internal error");
        assertThat(JSON.readTree(errors.get(2).body()).get("error").asText()).isEqualTo("body is not JSON");
    }

    @Test
    void shouldNeverWriteANonFiniteNumber() throws Exception {
        StubTasks tasks = new StubTasks();
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()), tasks);
        for (float value : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            tasks.value = value;
            HttpResponse<String> r = post(server, "/tasks/t1/predict", "{\"features\": [1]}");
            assertThat(r.statusCode()).isEqualTo(500);
            assertThat(r.body()).doesNotContain("NaN", "Infinity");
            assertThat(JSON.readTree(r.body()).get("reason").asText()).isEqualTo("NON_FINITE_PREDICTION");
        }
        tasks.value = 1.5f;
        HttpResponse<String> overflow = post(server, "/tasks/t1/predict", "{\"features\": [1e39]}");
        assertThat(overflow.statusCode()).as("a feature past float range").isEqualTo(400);
        assertThat(post(server, "/tasks/t1/predict", "{\"features\": [NaN]}").statusCode()).isEqualTo(400);

        // A peer of another version that still answers "NaN": not relayed.
        HttpServer oldPeer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        oldPeer.createContext("/", exchange -> {
            byte[] body = "{\"taskId\":\"t1\",\"value\":\"NaN\"}".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        oldPeer.start();
        closeables.add(() -> oldPeer.stop(0));
        StubTasks entryTasks = new StubTasks();
        entryTasks.owner = new KeyQueryMetadata(new HostInfo("127.0.0.1", oldPeer.getAddress().getPort()), Set.of(),
                0);
        OperationsServer entry = start(new OperationsServer("127.0.0.1", 0, settings().withForwardSecret(SECRET)),
                entryTasks);
        HttpResponse<String> relayed = post(entry, "/tasks/t1/predict", "{\"features\": [1]}");
        assertThat(relayed.statusCode()).isEqualTo(500);
        assertThat(relayed.body()).doesNotContain("NaN");

        OperationsServer probes = new OperationsServer("127.0.0.1", 0, settings());
        closeables.add(probes);
        probes.serveStatus(() -> new OperationsServer.Status(true, true, Map.of("lag", Double.NaN), List.of())).start();
        HttpResponse<String> health = get(probes, "/health");
        assertThat(health.statusCode()).as("a probe still answers").isEqualTo(200);
        assertThat(JSON.readTree(health.body()).get("lag").isNull()).isTrue();

        assertThat(OperationsServer.json(Map.of("ok", 1.0))).isNotEmpty();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> OperationsServer.json(Map.of("v",
                List.of(Double.NaN)))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldAnswerFeaturesTooExtremeForTheModelWith422AndNoStackTrace() throws Exception {
        StubTasks ownerTasks = new StubTasks();
        // What TaskStates throws when even the base overflows on finite features.
        ownerTasks.predictFailure = new NonFinitePredictionException("these features are too extreme for the model: "
                + "its answer is not a finite number");
        OperationsServer owner = start(new OperationsServer("127.0.0.1", 0, settings().withForwardSecret(SECRET)),
                ownerTasks);
        StubTasks entryTasks = new StubTasks();
        entryTasks.owner = new KeyQueryMetadata(self(owner), Set.of(), 0);
        OperationsServer entry = start(new OperationsServer("127.0.0.1", 0, settings().withForwardSecret(SECRET)),
                entryTasks);

        String log = stderrOf(() -> {
            for (OperationsServer server : List.of(owner, entry)) {
                HttpResponse<String> r = post(server, "/tasks/t1/predict", "{\"features\": [3e38]}");
                assertThat(r.statusCode()).as(r.body()).isEqualTo(422);
                JsonNode body = JSON.readTree(r.body());
                assertThat(body.get("reason").asText()).isEqualTo(OperationsServer.NON_FINITE_PREDICTION);
                assertThat(body.get("errorId").asText()).matches("[0-9a-f-]{36}");
                assertThat(r.body()).doesNotContain("NaN", "Infinity", "Exception", "io.metastream");
            }
        });
        assertThat(ownerTasks.calls.get()).isEqualTo(2);
        assertThat(log).as("a client's input is no error of ours: no ERROR line, no stack")
                .doesNotContain("ERROR", "NonFinitePredictionException", "\tat ");
    }

    @Test
    void shouldAnswer400WhenAHotSwapChangedTheInputSizeAfterTheCheck() throws Exception {
        StubTasks tasks = new StubTasks();
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()), tasks);
        tasks.swapTo = 2;
        String log = stderrOf(() -> {
            HttpResponse<String> r = post(server, "/tasks/t1/predict", "{\"features\": [1]}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
            assertThat(JSON.readTree(r.body()).get("error").asText()).isEqualTo("expected 2 features, got 1");
        });
        assertThat(log).doesNotContain("ERROR", "\tat ");
        assertThat(post(server, "/tasks/t1/predict", "{\"features\": [1, 2]}").statusCode()).isEqualTo(200);

        // The same exception with features of the right size is a fault of ours: still a 500, logged.
        tasks.predictFailure = new IllegalArgumentException("a bug");
        String bug = stderrOf(() -> assertThat(post(server, "/tasks/t1/predict", "{\"features\": [1, 2]}")
                .statusCode()).isEqualTo(500));
        assertThat(bug).as("the capture sees the log").contains("ERROR", "HTTP request failed");
    }

    @Test
    void shouldAnswer503WhenTheWorkTakesLongerThanTheRequestTimeout() throws Exception {
        StubTasks tasks = new StubTasks();
        tasks.gate = new CountDownLatch(1);
        OperationsServer server = start(new OperationsServer("127.0.0.1", 0, settings()
                .withTimeouts(Duration.ofSeconds(5), Duration.ofMillis(200))), tasks);
        try {
            HttpResponse<String> r = get(server, "/tasks/t1");
            assertThat(r.statusCode()).isEqualTo(503);
            assertThat(JSON.readTree(r.body()).get("error").asText()).contains("no answer in time");
        } finally {
            tasks.gate.countDown();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static HttpSettings settings() {
        return HttpSettings.defaults();
    }

    private OperationsServer start(OperationsServer server, StubTasks tasks) {
        closeables.add(server);
        if (tasks.self == null) {
            tasks.self = self(server);
        }
        return server.serveStatus(() -> new OperationsServer.Status(true, true, Map.of("state", "RUNNING"), List.of()))
                .serveTasks(tasks, self(server)).start();
    }

    private static HostInfo self(OperationsServer server) {
        return new HostInfo("127.0.0.1", server.port());
    }

    private static URI uri(OperationsServer server, String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    private static HttpResponse<String> get(OperationsServer server, String path, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(server, path)).timeout(Duration.ofSeconds(10)).GET();
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static CompletableFuture<HttpResponse<String>> getAsync(OperationsServer server, String path) {
        return HTTP.sendAsync(HttpRequest.newBuilder(uri(server, path)).timeout(Duration.ofSeconds(60)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> signedGet(OperationsServer server, String path, String route, long time,
            String signature) throws IOException, InterruptedException {
        return get(server, path, OperationsServer.ROUTE_HEADER, route, OperationsServer.FORWARD_TIME_HEADER,
                Long.toString(time), OperationsServer.FORWARD_SIGNATURE_HEADER, signature);
    }

    private static HttpResponse<String> post(OperationsServer server, String path, String body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(server, path)).timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private Socket connect(OperationsServer server) throws IOException {
        Socket s = new Socket("127.0.0.1", server.port());
        closeables.add(s);
        return s;
    }

    /**
     * A connection from {@code local}, a loopback address of its own: the server counts clients by
     * address, and Linux answers for all of 127.0.0.0/8.
     */
    private Socket connectFrom(String local, OperationsServer server) throws IOException {
        Socket s = new Socket();
        closeables.add(s);
        s.bind(new InetSocketAddress(local, 0));
        s.connect(new InetSocketAddress("127.0.0.1", server.port()), 2_000);
        return s;
    }

    /** {@code GET path} on {@code s}, and what came back before the server closed it (4 s at most). */
    private static String rawGet(Socket s, String path) throws IOException {
        s.setSoTimeout(4_000);
        try {
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        } catch (SocketException e) {
            return "";
        } finally {
            s.close();
        }
    }

    /** Whether the server closed {@code s} already (end of stream or a reset within 10 ms). */
    private static boolean closedNow(Socket s) {
        try {
            s.setSoTimeout(10);
            return s.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** Whether the server closes {@code s} within 4 s: end of stream or a reset. */
    private static boolean closedByServer(Socket s) throws IOException {
        s.setSoTimeout(4_000);
        try {
            InputStream in = s.getInputStream();
            while (in.read() >= 0) {
                // a 4xx the JDK server may send first is fine; what matters is the close
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true;
        }
    }

    private interface Requests {
        void run() throws Exception;
    }

    /** What the logger (slf4j-simple, on System.err) printed while {@code requests} ran. */
    private static String stderrOf(Requests requests) throws Exception {
        PrintStream previous = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            requests.run();
        } finally {
            System.setErr(previous);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        previous.print(text);
        return text;
    }

    private static byte[] bigFeatures(int bytes) {
        StringBuilder b = new StringBuilder("{\"features\": [1");
        while (b.length() < bytes) {
            b.append(", 1");
        }
        return b.append("]}").toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private static Optional<InetAddress> nonLoopbackAddress() throws SocketException {
        return NetworkInterface.networkInterfaces().filter(i -> {
            try {
                return i.isUp() && !i.isLoopback();
            } catch (SocketException e) {
                return false;
            }
        }).flatMap(NetworkInterface::inetAddresses).filter(a -> a instanceof Inet4Address).findFirst();
    }

    /** Task stores as a test wants them: one owner, a fixed prediction, a failure or a wait on demand. */
    static final class StubTasks implements TaskReader {
        volatile KeyQueryMetadata owner;
        volatile float value = 0.5f;
        volatile RuntimeException failure;
        /** Thrown by predict only, after the checks {@link TaskStates#predict} makes. */
        volatile RuntimeException predictFailure;
        volatile int inputDim = 1;
        /** The input size a hot swap gives the base as a prediction starts; 0: none. */
        volatile int swapTo;
        volatile CountDownLatch gate;
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        private HostInfo self;

        @Override
        public KeyQueryMetadata owner(String taskId) {
            return owner != null ? owner : new KeyQueryMetadata(self, Set.of(), 0);
        }

        @Override
        public int inputDim() {
            return inputDim;
        }

        @Override
        public Optional<TaskStates.View> describe(String taskId, boolean allowStale) {
            enter();
            return Optional.of(new TaskStates.View(taskId, 3, 3, 1L, true, "m@1", 1L, false, "m@1"));
        }

        @Override
        public TaskStates.Answer predict(String taskId, float[] features, boolean allowStale) {
            enter();
            if (swapTo > 0) {
                inputDim = swapTo;
            }
            // As TaskStates checks, against the base it serves now.
            if (features.length != inputDim) {
                throw new IllegalArgumentException("expected " + inputDim + " features, got " + features.length);
            }
            if (predictFailure != null) {
                throw predictFailure;
            }
            return new TaskStates.Answer(taskId, value, true, 3, 1L, "m@1", false, null, null);
        }

        private void enter() {
            calls.incrementAndGet();
            inFlight.incrementAndGet();
            try {
                if (failure != null) {
                    throw failure;
                }
                CountDownLatch g = gate;
                if (g != null) {
                    g.await(30, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                inFlight.decrementAndGet();
            }
        }
    }
}

package io.metastream.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/1.1 of {@link BoundedHttpServer} over real sockets: framing both ways, keep-alive and
 * pipelining, {@code 100-continue}, and the heads it refuses rather than guess at. Its limits on
 * clients are in {@code OperationsServerTest}.
 */
class BoundedHttpServerTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private ConnectionThreads threads;
    private BoundedHttpServer server;
    private final AtomicReference<String> lastFailure = new AtomicReference<>();

    @BeforeEach
    void start() throws IOException {
        threads = new ConnectionThreads("test-http", 8, 1, Duration.ofSeconds(5));
        server = new BoundedHttpServer(new InetSocketAddress("127.0.0.1", 0), 16, threads, Duration.ofSeconds(2), 16,
                64);
        // Echoes the method, the raw path and the body's length; /chunked answers in chunks.
        server.context("/", exchange -> {
            byte[] body;
            try {
                body = exchange.getRequestBody().readAllBytes();
            } catch (IOException e) {
                lastFailure.set(e.getMessage());
                exchange.close();
                return;
            }
            byte[] reply = (exchange.getRequestMethod() + " " + exchange.getRequestURI().getRawPath() + " "
                    + body.length).getBytes(StandardCharsets.US_ASCII);
            boolean chunked = exchange.getRequestURI().getRawPath().equals("/chunked");
            exchange.sendResponseHeaders(200, chunked ? 0 : reply.length);
            OutputStream out = exchange.getResponseBody();
            if (chunked) {
                out.write(reply, 0, 3);
                out.write(reply, 3, reply.length - 3);
            } else {
                out.write(reply);
            }
            exchange.close();
        }, false);
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
        threads.close();
    }

    @Test
    void shouldServeSeveralRequestsOnOneConnectionPipelinedOrNotAndCloseWhenAsked() throws Exception {
        try (Socket s = connect()) {
            send(s, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(response(s.getInputStream())).endsWith("GET /a 0");
            send(s, "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(response(s.getInputStream())).endsWith("POST /b 5");
            assertThat(response(s.getInputStream())).endsWith("GET /c 0");
            send(s, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(head(s.getInputStream())).as("a GET's length").startsWith("HTTP/1.1 200")
                    .contains("Content-Length: 9"); // "HEAD /h 0"
            send(s, "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertThat(response(s.getInputStream())).contains("Connection: close").endsWith("GET /d 0");
            assertThat(s.getInputStream().read()).as("closed after the last").isEqualTo(-1);
        }
        try (Socket s = connect()) {
            send(s, "GET /e HTTP/1.0\r\n\r\n");
            assertThat(response(s.getInputStream())).endsWith("GET /e 0");
            assertThat(s.getInputStream().read()).as("HTTP/1.0 closes").isEqualTo(-1);
        }
    }

    @Test
    void shouldReadChunkedBodiesAndWriteChunkedResponses() throws Exception {
        byte[] big = new byte[200_000];
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(uri("/chunked"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Transfer-Encoding")).hasValue("chunked");
        assertThat(r.body()).isEqualTo("POST /chunked 200000");
        try (Socket s = connect()) {
            send(s, "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n");
            assertThat(response(s.getInputStream())).endsWith("POST /x 13");
        }
    }

    @Test
    void shouldSendContinueOnlyWhenTheBodyIsRead() throws Exception {
        try (Socket s = connect()) {
            send(s, "POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
            s.setSoTimeout(4_000);
            byte[] interim = s.getInputStream().readNBytes("HTTP/1.1 100 Continue\r\n\r\n".length());
            assertThat(new String(interim, StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");
            send(s, "abc");
            assertThat(response(s.getInputStream())).endsWith("POST /x 3");
        }
    }

    @Test
    void shouldRefuseHeadsItWouldHaveToGuessAt() throws Exception {
        String[][] cases = {
            {"GET / HTTP/2.0\r\n\r\n", "505"},
            {"GET /\r\n\r\n", "400"},
            {"GET  / HTTP/1.1\r\n\r\n", "400"},
            {"GET /a b HTTP/1.1\r\n\r\n", "400"},
            {"GET * HTTP/1.1\r\n\r\n", "400"},
            {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "400"},
            {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "400"},
            {"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "400"},
            {"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
            {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "400"},
            {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400"},
            {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", "400"},
            {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "501"},
            {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
            {"GET / HTTP/1.1\r\nX: " + "a".repeat(BoundedHttpServer.MAX_HEAD_BYTES) + "\r\n\r\n", "431"},
        };
        for (String[] c : cases) {
            try (Socket s = connect()) {
                send(s, c[0]);
                s.setSoTimeout(4_000);
                String reply = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
                assertThat(reply).as(c[0].substring(0, Math.min(60, c[0].length()))).isEqualTo("HTTP/1.1 " + c[1]);
            }
        }
        // Equal lengths, even twice, are one length.
        try (Socket s = connect()) {
            send(s, "POST /x HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab");
            assertThat(response(s.getInputStream())).endsWith("POST /x 2");
        }
    }

    @Test
    void shouldTellTheHandlerOfABodyCutShortAndAChunkThatLies() throws Exception {
        try (Socket s = connect()) {
            send(s, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
            s.shutdownOutput();
            s.setSoTimeout(4_000);
            assertThat(s.getInputStream().read()).as("no answer, closed").isEqualTo(-1);
        }
        assertThat(lastFailure.get()).contains("before the body's end");
        try (Socket s = connect()) {
            send(s, "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n");
            s.setSoTimeout(4_000);
            assertThat(s.getInputStream().read()).as("no answer, closed").isEqualTo(-1);
        }
        assertThat(lastFailure.get()).contains("longer than its size");
    }

    @Test
    void shouldCountAnIpv6ClientByItsSlash64() throws Exception {
        Object a = BoundedHttpServer.client(InetAddress.getByName("2001:db8:1:2::1"));
        assertThat(BoundedHttpServer.client(InetAddress.getByName("2001:db8:1:2:ffff::9"))).isEqualTo(a);
        assertThat(BoundedHttpServer.client(InetAddress.getByName("2001:db8:1:3::1"))).isNotEqualTo(a);
        assertThat(BoundedHttpServer.client(InetAddress.getByName("10.0.0.1")))
                .isEqualTo(InetAddress.getByName("10.0.0.1"))
                .isNotEqualTo(BoundedHttpServer.client(InetAddress.getByName("10.0.0.2")));
    }

    private Socket connect() throws IOException {
        return new Socket("127.0.0.1", server.port());
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    private static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
    }

    /** One response with a Content-Length: its head and body as text. */
    private static String response(InputStream in) throws IOException {
        String head = head(in);
        int length = 0;
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return head + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
    }

    private static String head(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("closed inside a response head: " + head);
            }
            head.append((char) c);
        }
        return head.toString();
    }
}

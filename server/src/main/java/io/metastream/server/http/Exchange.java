package io.metastream.server.http;

import com.sun.net.httpserver.Headers;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * One request and its response on a connection of {@link BoundedHttpServer}, as a handler sees it
 * (the method names are those of the JDK's {@code HttpExchange}). It runs on a connection thread
 * with the channel in blocking mode; the watchdog of {@link ConnectionThreads} bounds its I/O.
 *
 * <p>The body is framed by the head (a length, chunked, or none); the response by the length given
 * to {@link #sendResponseHeaders}: more than 0 that many bytes, -1 none, 0 chunked. The connection
 * serves another request only if this one's body was read to its end and its response completed.
 */
final class Exchange {
    private static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    /** A chunk-size line or a trailer line longer than this is not a client of this API. */
    private static final int MAX_CHUNK_LINE = 4096;
    private static final int MAX_TRAILER_BYTES = 16 * 1024;

    private final SocketChannel channel;
    private final ByteBuffer in;
    private final InetSocketAddress remote;
    private final RequestHead head;
    private final Headers responseHeaders = new Headers();
    private final Body body;
    private final OutputStream raw;
    private OutputStream responseBody;
    private boolean sent;
    private boolean keepAlive;
    private boolean complete;
    private boolean closed;
    private boolean continueSent;

    /** {@code in}: in read mode, the bytes received after the head; more are read from {@code channel}. */
    Exchange(SocketChannel channel, ByteBuffer in, InetSocketAddress remote, RequestHead head) {
        this.channel = channel;
        this.in = in;
        this.remote = remote;
        this.head = head;
        this.raw = new BufferedOutputStream(Channels.newOutputStream(channel), 8192);
        this.body = head.chunked() ? new ChunkedBody() : new FixedBody(head.contentLength());
    }

    String getRequestMethod() {
        return head.method();
    }

    URI getRequestURI() {
        return head.uri();
    }

    Headers getRequestHeaders() {
        return head.headers();
    }

    Headers getResponseHeaders() {
        return responseHeaders;
    }

    InetSocketAddress getRemoteAddress() {
        return remote;
    }

    /** The body's length as its head declares it: 0 for none, -1 when chunked (unknown). */
    long requestLength() {
        return head.contentLength();
    }

    InputStream getRequestBody() {
        return body;
    }

    /**
     * Writes the status line and headers. {@code length}: the body's bytes, -1 for none, 0 for a
     * chunked body of unknown length.
     */
    void sendResponseHeaders(int status, long length) throws IOException {
        if (sent) {
            throw new IOException("response headers already sent");
        }
        sent = true;
        boolean isHead = head.method().equals("HEAD");
        boolean bodyless = isHead || status == 204 || status == 304;
        keepAlive = head.keepAlive() && body.atEnd()
                && !RequestHead.hasToken(responseHeaders.getOrDefault("Connection", List.of()), "close");
        StringBuilder out = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason(status))
                .append("\r\n");
        for (Map.Entry<String, List<String>> header : responseHeaders.entrySet()) {
            String name = header.getKey();
            if (name.equalsIgnoreCase("Content-Length") || name.equalsIgnoreCase("Transfer-Encoding")
                    || name.equalsIgnoreCase("Connection")) {
                continue; // framing is this class's to write
            }
            for (String value : header.getValue()) {
                if (value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0) {
                    throw new IllegalArgumentException("a line break in the value of response header " + name);
                }
                out.append(name).append(": ").append(value).append("\r\n");
            }
        }
        if (bodyless) {
            if (isHead && length > 0) {
                out.append("Content-Length: ").append(length).append("\r\n"); // what a GET would get
            }
            responseBody = OutputStream.nullOutputStream(); // the same handler serves GET and HEAD
        } else if (length > 0) {
            out.append("Content-Length: ").append(length).append("\r\n");
            responseBody = new FixedOut(length);
        } else if (length < 0) {
            out.append("Content-Length: 0\r\n");
            responseBody = new FixedOut(0);
        } else if (head.http11()) {
            out.append("Transfer-Encoding: chunked\r\n");
            responseBody = new ChunkedOut();
        } else {
            keepAlive = false; // HTTP/1.0: the body ends where the connection does
            responseBody = new UnframedOut();
        }
        if (!keepAlive) {
            out.append("Connection: close\r\n");
        }
        raw.write(out.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        if (bodyless || responseBody instanceof FixedOut fixed && fixed.length == 0) {
            raw.flush();
            complete = true;
        }
    }

    OutputStream getResponseBody() {
        if (!sent) {
            throw new IllegalStateException("send the response headers first");
        }
        return responseBody;
    }

    /** Ends the exchange: a response left unfinished means the connection is closed after it. */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (sent) {
            try {
                responseBody.close();
            } catch (IOException e) {
                complete = false;
            }
        }
    }

    /** Whether the connection may carry the next request: this one read to its end, its response complete. */
    boolean reusable() {
        return closed && sent && complete && keepAlive && body.atEnd() && channel.isOpen();
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 413 -> "Content Too Large";
            case 422 -> "Unprocessable Content";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 501 -> "Not Implemented";
            case 503 -> "Service Unavailable";
            case 505 -> "HTTP Version Not Supported";
            default -> "";
        };
    }

    /** Bytes received and not consumed yet, reading more (blocking) when none are left; false at end of stream. */
    private boolean fill() throws IOException {
        if (in.hasRemaining()) {
            return true;
        }
        if (head.expectContinue() && !continueSent && !sent) {
            // The client waits for this before it sends a body: only now that the body is wanted.
            continueSent = true;
            raw.write(CONTINUE);
            raw.flush();
        }
        in.clear();
        int n = channel.read(in);
        in.flip();
        return n > 0;
    }

    private abstract class Body extends InputStream {
        abstract boolean atEnd();

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }
    }

    private final class FixedBody extends Body {
        private long remaining;

        FixedBody(long length) {
            this.remaining = length;
        }

        @Override
        boolean atEnd() {
            return remaining == 0;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (remaining == 0) {
                return -1;
            }
            if (len == 0) {
                return 0;
            }
            if (!fill()) {
                throw new IOException("connection closed " + remaining + " bytes before the body's end");
            }
            int n = (int) Math.min(Math.min(len, remaining), in.remaining());
            in.get(b, off, n);
            remaining -= n;
            return n;
        }
    }

    private final class ChunkedBody extends Body {
        private long chunkLeft;
        private boolean done;

        @Override
        boolean atEnd() {
            return done;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (done) {
                return -1;
            }
            if (len == 0) {
                return 0;
            }
            if (chunkLeft == 0) {
                chunkLeft = nextChunk();
                if (chunkLeft == 0) {
                    skipTrailers();
                    done = true;
                    return -1;
                }
            }
            if (!fill()) {
                throw new IOException("connection closed inside a chunk");
            }
            int n = (int) Math.min(Math.min(len, chunkLeft), in.remaining());
            in.get(b, off, n);
            chunkLeft -= n;
            if (chunkLeft == 0) {
                expectCrlf();
            }
            return n;
        }

        /** The next chunk's size; its extensions are ignored. */
        private long nextChunk() throws IOException {
            String line = line(MAX_CHUNK_LINE);
            int semicolon = line.indexOf(';');
            String size = (semicolon < 0 ? line : line.substring(0, semicolon)).strip();
            // 15 hex digits at most: always a long, and far past any cap.
            if (size.isEmpty() || size.length() > 15 || !size.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                throw new IOException("malformed chunk size");
            }
            return Long.parseLong(size, 16);
        }

        private void expectCrlf() throws IOException {
            if (!line(2).isEmpty()) {
                throw new IOException("a chunk longer than its size");
            }
        }

        private void skipTrailers() throws IOException {
            int total = 0;
            String line;
            while (!(line = line(MAX_CHUNK_LINE)).isEmpty()) {
                total += line.length();
                if (total > MAX_TRAILER_BYTES) {
                    throw new IOException("trailers too long");
                }
            }
        }

        /** One line without its CRLF (or LF), at most {@code max} bytes. */
        private String line(int max) throws IOException {
            StringBuilder s = new StringBuilder();
            while (true) {
                if (!fill()) {
                    throw new IOException("connection closed inside a chunked body");
                }
                byte c = in.get();
                if (c == '\n') {
                    int last = s.length() - 1;
                    return last >= 0 && s.charAt(last) == '\r' ? s.substring(0, last) : s.toString();
                }
                if (s.length() >= max) {
                    throw new IOException("a line of the chunked body is too long");
                }
                s.append((char) (c & 0xff));
            }
        }
    }

    /** A body of the length announced. */
    private final class FixedOut extends OutputStream {
        private final long length;
        private long written;

        FixedOut(long length) {
            this.length = length;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (written + len > length) {
                throw new IOException("more than the " + length + " bytes announced");
            }
            raw.write(b, off, len);
            written += len;
        }

        @Override
        public void flush() throws IOException {
            raw.flush();
        }

        @Override
        public void close() throws IOException {
            raw.flush();
            complete = written == length;
        }
    }

    private final class ChunkedOut extends OutputStream {
        private boolean ended;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return; // a chunk of 0 bytes would end the body
            }
            raw.write((Integer.toHexString(len) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            raw.write(b, off, len);
            raw.write('\r');
            raw.write('\n');
        }

        @Override
        public void flush() throws IOException {
            raw.flush();
        }

        @Override
        public void close() throws IOException {
            if (!ended) {
                ended = true;
                raw.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                raw.flush();
                complete = true;
            }
        }
    }

    /** HTTP/1.0 with no length: the body runs to the connection's close. */
    private final class UnframedOut extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            raw.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            raw.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            raw.flush();
        }

        @Override
        public void close() throws IOException {
            raw.flush();
        }
    }
}

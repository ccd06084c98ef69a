package io.metastream.server.http;

import com.sun.net.httpserver.Headers;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A request's line and headers, parsed strictly: what {@link BoundedHttpServer} does not understand
 * exactly is refused before a handler sees it, so a proxy in front and this server never disagree
 * on where a request ends.
 *
 * @param contentLength the body's length; 0 when it has none, -1 when it is chunked
 */
record RequestHead(String method, URI uri, boolean http11, Headers headers, long contentLength, boolean keepAlive,
        boolean expectContinue) {
    /** More header lines than any client of this API sends; each costs a map entry. */
    static final int MAX_HEADERS = 100;

    /** The request cannot be served as sent: answered with {@code status} and the connection closed. */
    static final class Malformed extends Exception {
        final int status;

        Malformed(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    boolean chunked() {
        return contentLength < 0;
    }

    boolean hasBody() {
        return contentLength != 0;
    }

    /**
     * Where the head in {@code bytes} ends, scanning from {@code from} up to {@code to}: the index
     * after the empty line that closes it (CRLF or a bare LF), or -1.
     */
    static int end(byte[] bytes, int from, int to) {
        for (int i = Math.max(from, 1); i < to; i++) {
            if (bytes[i] != '\n') {
                continue;
            }
            if (bytes[i - 1] == '\n' || bytes[i - 1] == '\r' && i >= 2 && bytes[i - 2] == '\n') {
                return i + 1;
            }
        }
        return -1;
    }

    /** Parses {@code bytes[0, end)}, a head {@link #end} found. */
    static RequestHead parse(byte[] bytes, int end) throws Malformed {
        String text = new String(bytes, 0, end, StandardCharsets.ISO_8859_1);
        List<String> lines = text.lines().toList(); // a bare CR also ends a line here: refused below
        if (text.indexOf('\r') >= 0 && text.replace("\r\n", "").indexOf('\r') >= 0) {
            throw new Malformed(400, "a bare CR in the head");
        }
        String[] parts = lines.get(0).split(" ", -1);
        if (parts.length != 3 || !isToken(parts[0]) || parts[1].isEmpty()) {
            throw new Malformed(400, "not a request line");
        }
        boolean http11 = parts[2].equals("HTTP/1.1");
        if (!http11 && !parts[2].equals("HTTP/1.0")) {
            throw new Malformed(parts[2].matches("HTTP/\\d\\.\\d") ? 505 : 400, "not HTTP/1.x");
        }
        URI uri;
        try {
            for (int i = 0; i < parts[1].length(); i++) {
                char c = parts[1].charAt(i);
                if (c <= ' ' || c >= 0x7f) {
                    throw new URISyntaxException(parts[1], "a control, space or non-ASCII character", i);
                }
            }
            uri = new URI(parts[1]);
        } catch (URISyntaxException e) {
            throw new Malformed(400, "not a valid request target");
        }
        if (uri.getRawPath() == null || !uri.getRawPath().startsWith("/")) {
            throw new Malformed(400, "the request target has no absolute path");
        }
        Headers headers = new Headers();
        int count = 0;
        for (String line : lines.subList(1, lines.size())) {
            if (line.isEmpty()) {
                break; // the closing empty line
            }
            if (++count > MAX_HEADERS) {
                throw new Malformed(431, "more than " + MAX_HEADERS + " header lines");
            }
            int colon = line.indexOf(':');
            // No folded lines, no space before the colon: both are ways to smuggle a header past a proxy.
            if (colon <= 0 || !isToken(line.substring(0, colon))) {
                throw new Malformed(400, "not a header line");
            }
            String value = line.substring(colon + 1).strip();
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c < ' ' && c != '\t' || c == 0x7f) {
                    throw new Malformed(400, "a control character in a header value");
                }
            }
            headers.add(line.substring(0, colon), value);
        }
        long length = length(headers, http11);
        List<String> connection = headers.getOrDefault("Connection", List.of());
        boolean keepAlive = http11 ? !hasToken(connection, "close") : hasToken(connection, "keep-alive");
        boolean expectContinue = http11 && "100-continue".equalsIgnoreCase(headers.getFirst("Expect"));
        return new RequestHead(parts[0], uri, http11, headers, length, keepAlive, expectContinue);
    }

    /** The body's framing: chunked (-1), a length, or none (0); anything ambiguous is refused. */
    private static long length(Headers headers, boolean http11) throws Malformed {
        List<String> te = headers.get("Transfer-Encoding");
        List<String> cl = headers.get("Content-Length");
        if (te != null) {
            if (cl != null || !http11) {
                throw new Malformed(400, "Transfer-Encoding with Content-Length, or in HTTP/1.0");
            }
            if (te.size() != 1 || !te.get(0).equalsIgnoreCase("chunked")) {
                throw new Malformed(501, "only the chunked transfer coding is understood");
            }
            return -1;
        }
        if (cl == null) {
            return 0;
        }
        long length = -1;
        for (String values : cl) {
            for (String value : values.split(",", -1)) {
                String v = value.strip();
                // At most 18 digits: always a long, and far past any cap.
                if (v.isEmpty() || v.length() > 18 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
                    throw new Malformed(400, "Content-Length is not a number");
                }
                long n = Long.parseLong(v);
                if (length >= 0 && n != length) {
                    throw new Malformed(400, "Content-Length values differ");
                }
                length = n;
            }
        }
        return length;
    }

    /** Whether header {@code values} (comma-separated lists) name {@code token}, in any case. */
    static boolean hasToken(List<String> values, String token) {
        for (String value : values) {
            for (String t : value.split(",")) {
                if (t.strip().equalsIgnoreCase(token)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}

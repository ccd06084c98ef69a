package io.metastream.server.http;

import java.io.Closeable;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 server, built so that no one client can take it down: where the JDK's server
 * takes a thread as soon as a connection's first byte arrives, before it knows who sent it or what
 * the request is, this one
 * <ul>
 *   <li>refuses a connection at accept when its client (its address; an IPv6 /64) already holds
 *       {@code maxPerClient} connections, or when {@code maxOpen} are open in all;
 *   <li>reads each request's line and headers on one selector thread, without a thread of its own,
 *       and closes the connection when they are not all in within {@code headTimeout} of their
 *       first byte (slow-loris) or past {@link #MAX_HEAD_BYTES} (431);
 *   <li>only then hands the request to {@link ConnectionThreads}, which bounds the body and the
 *       response by deadlines; a probe context may use the probe threads when the others are held,
 *       and a request no thread takes is answered 503.
 * </ul>
 * An idle keep-alive connection goes back to the selector, and is closed after {@link #IDLE}.
 * What it parses and refuses: {@link RequestHead}; what a handler sees: {@link Exchange}.
 */
final class BoundedHttpServer implements AutoCloseable {
    /** Serves one request; it must {@link Exchange#close} the exchange. */
    interface Handler {
        void handle(Exchange exchange) throws IOException;
    }

    /** A request's line and headers; also the buffer its body is read through. */
    static final int MAX_HEAD_BYTES = 16 * 1024;
    /** A kept-alive connection with no request for this long is closed, as the JDK server does. */
    static final Duration IDLE = Duration.ofSeconds(30);
    private static final Logger LOG = LoggerFactory.getLogger(BoundedHttpServer.class);
    private static final int ACCEPTS_PER_ROUND = 256;

    private record Context(String prefix, Handler handler, boolean probe) {
    }

    private final ServerSocketChannel listener;
    private final Selector selector;
    private final ConnectionThreads threads;
    private final long headTimeoutNanos;
    private final long readTimeoutNanos;
    private final int maxPerClient;
    private final int maxOpen;
    private final int port;
    private final long tickMillis;
    private final List<Context> contexts = new CopyOnWriteArrayList<>();
    private final Set<Conn> open = ConcurrentHashMap.newKeySet();
    private final Map<Object, Integer> perClient = new ConcurrentHashMap<>();
    /** Connections a thread finished with, to watch for their next request. */
    private final Queue<Conn> returned = new ConcurrentLinkedQueue<>();
    /** The connections the selector watches; touched by its thread only. */
    private final Set<Conn> watched = new HashSet<>();
    private final AtomicLong headsTimedOut = new AtomicLong();
    private final AtomicLong refusedAtAccept = new AtomicLong();
    private final AtomicLong lastWarning = new AtomicLong(System.nanoTime() - TimeUnit.MINUTES.toNanos(1));
    private final Thread loop;
    private final SelectionKey acceptKey;
    /** While accepting fails (a full file table), accepting pauses until then, or the loop would spin. */
    private long acceptPausedUntil;
    private volatile boolean running = true;

    /**
     * Binds {@code address} now, so its port is known before {@link #start}.
     *
     * @param headTimeout the request line and headers must arrive within this of their first byte
     * @param maxPerClient connections one client address may hold open
     * @param maxOpen connections open in all
     */
    BoundedHttpServer(InetSocketAddress address, int backlog, ConnectionThreads threads, Duration headTimeout,
            int maxPerClient, int maxOpen) throws IOException {
        this.threads = threads;
        this.readTimeoutNanos = threads.readTimeoutNanos();
        // The head is part of the request the read timeout bounds, so the shorter of the two wins.
        this.headTimeoutNanos = Math.min(headTimeout.toNanos(), readTimeoutNanos);
        this.maxPerClient = maxPerClient;
        this.maxOpen = maxOpen;
        this.tickMillis = Math.max(5, Math.min(100, TimeUnit.NANOSECONDS.toMillis(headTimeoutNanos) / 4));
        listener = ServerSocketChannel.open();
        try {
            listener.bind(address, backlog);
            listener.configureBlocking(false);
            selector = Selector.open();
            acceptKey = listener.register(selector, SelectionKey.OP_ACCEPT);
        } catch (IOException | RuntimeException e) {
            listener.close();
            throw e;
        }
        port = listener.socket().getLocalPort();
        loop = new Thread(this::run, "metastream-http-selector-" + port);
        loop.setDaemon(true);
    }

    /** Serves requests whose raw path starts with {@code prefix} (the longest prefix wins). */
    void context(String prefix, Handler handler, boolean probe) {
        contexts.add(new Context(prefix, handler, probe));
    }

    InetSocketAddress address() {
        return (InetSocketAddress) listener.socket().getLocalSocketAddress();
    }

    int port() {
        return port;
    }

    void start() {
        loop.start();
    }

    /** Connections closed because their line and headers did not arrive in time. */
    long headsTimedOut() {
        return headsTimedOut.get();
    }

    /** Connections closed at accept: their client at its cap, or the server at its total. */
    long refusedAtAccept() {
        return refusedAtAccept.get();
    }

    @Override
    public void close() {
        running = false;
        selector.wakeup();
        try {
            loop.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Conn c : open) {
            c.close();
        }
        closeQuietly(listener);
        try {
            selector.close();
        } catch (IOException e) {
            // nothing left to release
        }
    }

    private void run() {
        long nextExpiry = System.nanoTime();
        while (running) {
            try {
                selector.select(tickMillis);
                Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                while (keys.hasNext()) {
                    SelectionKey key = keys.next();
                    keys.remove();
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isAcceptable()) {
                        accept();
                    } else if (key.isReadable()) {
                        read(key, (Conn) key.attachment());
                    }
                }
                Conn back;
                while ((back = returned.poll()) != null) {
                    watchAgain(back);
                }
                long now = System.nanoTime();
                if (acceptPausedUntil != 0 && now - acceptPausedUntil >= 0) {
                    acceptPausedUntil = 0;
                    acceptKey.interestOps(SelectionKey.OP_ACCEPT);
                }
                if (now - nextExpiry >= 0) {
                    expire(now);
                    nextExpiry = now + TimeUnit.MILLISECONDS.toNanos(tickMillis);
                }
            } catch (ClosedSelectorException e) {
                return;
            } catch (IOException | RuntimeException e) {
                // One connection's trouble (or a full file table) must not end the loop that serves them all.
                warnAtMostEvery10s("HTTP server on port {}: {}", e.toString());
            }
        }
    }

    private void accept() {
        for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
            SocketChannel channel;
            try {
                channel = listener.accept();
            } catch (IOException e) {
                acceptKey.interestOps(0);
                acceptPausedUntil = nonZero(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
                warnAtMostEvery10s("HTTP server on port {}: cannot accept, pausing 100 ms: {}", e.toString());
                return;
            }
            if (channel == null) {
                return;
            }
            try {
                InetSocketAddress remote = (InetSocketAddress) channel.getRemoteAddress();
                Object client = client(remote.getAddress());
                if (open.size() >= maxOpen) {
                    refuse(channel, "all " + maxOpen + " connections are open; closing new ones");
                } else if (perClient.getOrDefault(client, 0) >= maxPerClient) {
                    refuse(channel, "client " + remote.getAddress().getHostAddress() + " holds its " + maxPerClient
                            + " connections (http.max.connections.per.client); closing its new ones");
                } else {
                    perClient.merge(client, 1, Integer::sum);
                    Conn conn = new Conn(channel, remote, client);
                    open.add(conn);
                    channel.configureBlocking(false);
                    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    channel.register(selector, SelectionKey.OP_READ, conn);
                    watched.add(conn);
                }
            } catch (IOException e) {
                closeQuietly(channel); // the client left already
            }
        }
    }

    /** The unit a cap counts: an IPv4 address, or an IPv6 /64 (a host gets a whole /64 to pick from). */
    static Object client(InetAddress address) {
        if (address instanceof Inet6Address) {
            return HexFormat.of().formatHex(address.getAddress(), 0, 8) + "/64";
        }
        return address;
    }

    private void refuse(SocketChannel channel, String why) {
        refusedAtAccept.incrementAndGet();
        closeQuietly(channel);
        warnAtMostEvery10s("HTTP server on port {}: {}", why + " (" + refusedAtAccept.get() + " refused so far)");
    }

    /** A flood of connections must not become a flood of log lines. */
    private void warnAtMostEvery10s(String format, String what) {
        long now = System.nanoTime();
        long last = lastWarning.get();
        if (now - last > TimeUnit.SECONDS.toNanos(10) && lastWarning.compareAndSet(last, now)) {
            LOG.warn(format, port, what);
        }
    }

    private void read(SelectionKey key, Conn conn) {
        int n;
        try {
            n = conn.channel.read(conn.buffer);
        } catch (IOException e) {
            n = -1;
        }
        if (n < 0) {
            watched.remove(conn);
            conn.close();
            return;
        }
        if (n > 0 && conn.firstByte == 0) {
            conn.firstByte = nonZero(System.nanoTime());
        }
        advance(key, conn);
    }

    /** Dispatches the connection's request if its head is complete. */
    private void advance(SelectionKey key, Conn conn) {
        ByteBuffer buffer = conn.buffer; // write mode: the bytes so far are [0, position)
        int end = RequestHead.end(buffer.array(), Math.max(0, conn.scanned - 2), buffer.position());
        if (end < 0) {
            conn.scanned = buffer.position();
            if (!buffer.hasRemaining()) {
                reject(key, conn, 431, "request headers over " + MAX_HEAD_BYTES + " bytes");
            }
            return;
        }
        RequestHead head;
        try {
            head = RequestHead.parse(buffer.array(), end);
        } catch (RequestHead.Malformed e) {
            reject(key, conn, e.status, e.getMessage());
            return;
        }
        Context context = context(head.uri().getRawPath());
        if (context == null) {
            reject(key, conn, 404, "no such resource");
            return;
        }
        buffer.flip().position(end); // read mode: what follows the head, the body's start
        key.cancel();
        watched.remove(conn);
        boolean probe = context.probe() && !head.hasBody()
                && (head.method().equals("GET") || head.method().equals("HEAD"));
        try {
            conn.channel.configureBlocking(true);
            if (threads.start(() -> serve(conn, head, context), conn.firstByte + readTimeoutNanos, probe)) {
                return;
            }
            conn.channel.configureBlocking(false);
        } catch (IOException e) {
            conn.close();
            return;
        }
        reject(null, conn, 503, "busy; retry");
    }

    private Context context(String path) {
        Context best = null;
        for (Context c : contexts) {
            if (path.startsWith(c.prefix()) && (best == null || c.prefix().length() > best.prefix().length())) {
                best = c;
            }
        }
        return best;
    }

    /** On a connection thread: serves one request, then gives the connection back or closes it. */
    private void serve(Conn conn, RequestHead head, Context context) {
        boolean kept = false;
        try {
            Exchange exchange = new Exchange(conn.channel, conn.buffer, conn.remote, head);
            try {
                context.handler().handle(exchange);
            } catch (IOException | RuntimeException e) {
                LOG.debug("{} {}: {}", head.method(), head.uri().getRawPath(), e.toString());
            } finally {
                exchange.close();
            }
            ConnectionThreads.Slot slot = ConnectionThreads.current();
            boolean inTime = slot == null || slot.release();
            Thread.interrupted(); // an interrupt that landed past the I/O: the slot said so already
            if (inTime && running && exchange.reusable()) {
                conn.channel.configureBlocking(false);
                returned.add(conn);
                kept = true;
                selector.wakeup();
            }
        } catch (IOException e) {
            LOG.debug("{}: {}", conn.remote, e.toString());
        } finally {
            if (!kept) {
                conn.close();
            }
        }
    }

    /** On the selector: watches a connection a thread gave back, for its next request. */
    private void watchAgain(Conn conn) {
        if (!conn.isOpen()) {
            return;
        }
        conn.buffer.compact(); // write mode, keeping what the client sent past the last request
        conn.scanned = 0;
        conn.firstByte = conn.buffer.position() > 0 ? nonZero(System.nanoTime()) : 0;
        conn.idleSince = System.nanoTime();
        try {
            if (conn.channel.keyFor(selector) != null) {
                selector.selectNow(); // the key cancelled at dispatch must be gone before registering again
            }
            SelectionKey key = conn.channel.register(selector, SelectionKey.OP_READ, conn);
            watched.add(conn);
            if (conn.firstByte != 0) {
                advance(key, conn); // a pipelined request may be whole already
            }
        } catch (IOException | RuntimeException e) {
            watched.remove(conn);
            conn.close();
        }
    }

    private void expire(long now) {
        for (Iterator<Conn> it = watched.iterator(); it.hasNext();) {
            Conn c = it.next();
            if (!c.isOpen()) {
                it.remove();
            } else if (c.firstByte != 0 && now - c.firstByte > headTimeoutNanos) {
                it.remove();
                headsTimedOut.incrementAndGet();
                LOG.debug("closing {}: request headers not in within {} ms", c.remote,
                        TimeUnit.NANOSECONDS.toMillis(headTimeoutNanos));
                c.close();
            } else if (c.firstByte == 0 && now - c.idleSince > IDLE.toNanos()) {
                it.remove();
                c.close();
            }
        }
    }

    /**
     * Answers {@code status} with a fixed JSON body, written without blocking (a client that reads
     * nothing gets the close alone), and closes the connection.
     */
    private void reject(SelectionKey key, Conn conn, int status, String message) {
        if (key != null) {
            key.cancel();
        }
        watched.remove(conn);
        LOG.debug("{} answered {}: {}", conn.remote, status, message);
        byte[] body = ("{\"error\":\"" + message + "\"}").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + (status == 503 ? "Service Unavailable" : "Error") + "\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n"
                + (status == 503 ? "Retry-After: 1\r\n" : "") + "Connection: close\r\n\r\n";
        ByteBuffer out = ByteBuffer.allocate(head.length() + body.length);
        out.put(head.getBytes(StandardCharsets.US_ASCII)).put(body).flip();
        try {
            conn.channel.write(out);
            conn.channel.shutdownOutput();
        } catch (IOException e) {
            // the close is the answer
        }
        conn.close();
    }

    private static long nonZero(long nanos) {
        return nanos == 0 ? 1 : nanos;
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing is all that was asked
        }
    }

    /** An accepted connection: counted against its client until closed. */
    private final class Conn {
        final SocketChannel channel;
        final InetSocketAddress remote;
        final Object client;
        final ByteBuffer buffer = ByteBuffer.allocate(MAX_HEAD_BYTES);
        private final AtomicBoolean closed = new AtomicBoolean();
        /** When the pending request's first byte came ({@link System#nanoTime}); 0: none yet. */
        long firstByte;
        long idleSince = System.nanoTime();
        /** How far the head has been searched for its end. */
        int scanned;

        Conn(SocketChannel channel, InetSocketAddress remote, Object client) {
            this.channel = channel;
            this.remote = remote;
            this.client = client;
        }

        boolean isOpen() {
            return !closed.get() && channel.isOpen();
        }

        void close() {
            if (closed.compareAndSet(false, true)) {
                closeQuietly(channel);
                open.remove(this);
                perClient.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
            }
        }
    }
}

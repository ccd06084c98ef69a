package io.metastream.streams.http;

import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JDK HTTP server's executor, with deadlines on a request's I/O.
 *
 * <p>The JDK server hands a connection to its executor as soon as one byte is readable, and the
 * executor's thread then reads the request line, the headers and (in the handler) the body with
 * blocking reads that have no timeout of their own. A client that sends a byte and then dribbles
 * or stops would hold that thread for ever. Here each request runs on its own thread (at most
 * {@code maxThreads} at once; beyond that the JDK server closes the new connection), and a watchdog
 * interrupts a thread whose I/O passed its deadline: the server reads through an interruptible
 * {@code SocketChannel}, so the interrupt closes that connection and frees the thread.
 *
 * <p>Only I/O is ever interrupted. A request starts watched (its line, headers and body must arrive
 * by {@code readTimeout} after its first byte); the handler stops the watch ({@link Slot#requestRead})
 * before it does any work, and watches again ({@link Slot#watchFor}) while the response is written
 * and the rest of an unwanted body thrown away. A deadline and the interrupt are decided under the
 * slot's lock, so no interrupt lands after the handler left the watched phase.
 *
 * <p>The system properties {@code sun.net.httpserver.maxReqTime} and friends would do part of this
 * for the whole JVM; this keeps the limit per server, configured and testable.
 */
final class ConnectionThreads implements Executor, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionThreads.class);
    private static final ThreadLocal<Slot> CURRENT = new ThreadLocal<>();
    private static final long NOT_WATCHED = Long.MAX_VALUE;

    private final ThreadPoolExecutor threads;
    private final ScheduledExecutorService watchdog;
    private final Set<Slot> inFlight = ConcurrentHashMap.newKeySet();
    private final long readTimeoutNanos;
    private final AtomicLong closedByDeadline = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong lastRefusalLog = new AtomicLong();

    ConnectionThreads(String name, int maxThreads, Duration readTimeout) {
        this.readTimeoutNanos = readTimeout.toNanos();
        AtomicInteger n = new AtomicInteger();
        // No queue: a request either gets a thread now or its connection is closed, since one
        // waiting behind slow clients would delay exactly the probes this class protects.
        threads = new ThreadPoolExecutor(0, maxThreads, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name + "-watchdog");
            t.setDaemon(true);
            return t;
        });
        long tick = Math.max(5, Math.min(100, readTimeout.toMillis() / 4));
        watchdog.scheduleWithFixedDelay(this::expire, tick, tick, TimeUnit.MILLISECONDS);
    }

    @Override
    public void execute(Runnable exchange) {
        try {
            threads.execute(() -> run(exchange));
        } catch (RejectedExecutionException e) {
            refused.incrementAndGet();
            long now = System.nanoTime();
            long last = lastRefusalLog.get();
            if (now - last > TimeUnit.SECONDS.toNanos(10) && lastRefusalLog.compareAndSet(last, now)) {
                LOG.warn("HTTP server at its {} concurrent requests: closing new connections ({} so far)",
                        threads.getMaximumPoolSize(), refused.get());
            }
            throw e; // the JDK server closes the connection
        }
    }

    private void run(Runnable exchange) {
        Slot slot = new Slot(Thread.currentThread(), System.nanoTime() + readTimeoutNanos);
        inFlight.add(slot);
        CURRENT.set(slot);
        try {
            exchange.run();
        } finally {
            slot.finish();
            inFlight.remove(slot);
            CURRENT.remove();
            Thread.interrupted(); // the pool thread starts its next request clean
        }
    }

    private void expire() {
        long now = System.nanoTime();
        for (Slot slot : inFlight) {
            if (slot.expireIfDue(now)) {
                closedByDeadline.incrementAndGet();
            }
        }
    }

    /** The slot of the request the calling thread serves; {@code null} off this executor's threads. */
    static Slot current() {
        return CURRENT.get();
    }

    /** Connections closed because their I/O passed its deadline. */
    long closedByDeadline() {
        return closedByDeadline.get();
    }

    /** New connections closed because every thread was busy. */
    long refused() {
        return refused.get();
    }

    long readTimeoutNanos() {
        return readTimeoutNanos;
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
        threads.shutdownNow();
    }

    /** One request in flight: its thread and the deadline of the I/O it waits on now, if any. */
    static final class Slot {
        private final Thread thread;
        private long deadline;
        private boolean expired;
        private boolean finished;

        private Slot(Thread thread, long deadline) {
            this.thread = thread;
            this.deadline = deadline;
        }

        /**
         * The request is read: what follows is work, never interrupted.
         *
         * @throws InterruptedIOException if the deadline passed first (the connection is closed)
         */
        synchronized void requestRead() throws InterruptedIOException {
            if (expired) {
                throw new InterruptedIOException("request not read before its deadline");
            }
            deadline = NOT_WATCHED;
        }

        /**
         * Watches the I/O that follows (writing the response) for {@code nanos}.
         *
         * @throws InterruptedIOException if an earlier deadline already closed the connection
         */
        synchronized void watchFor(long nanos) throws InterruptedIOException {
            if (expired) {
                throw new InterruptedIOException("connection closed at its deadline");
            }
            deadline = System.nanoTime() + nanos;
        }

        synchronized boolean expired() {
            return expired;
        }

        private synchronized void finish() {
            finished = true;
            deadline = NOT_WATCHED;
        }

        private synchronized boolean expireIfDue(long now) {
            if (finished || expired || deadline == NOT_WATCHED || now - deadline < 0) {
                return false;
            }
            expired = true;
            thread.interrupt();
            return true;
        }
    }
}

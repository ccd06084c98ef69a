package io.metastream.server.http;

import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
 * The threads that serve requests of a {@link BoundedHttpServer}, with deadlines on a request's I/O.
 *
 * <p>The server reads a request's line and headers without a thread; it hands the request here
 * once they are in, and this thread then reads the body (in the handler) and writes the response
 * with blocking I/O that has no timeout of its own. A client that dribbles or stops would hold the
 * thread for ever. Here each request runs on its own thread (at most {@code maxThreads} at once;
 * beyond that the server answers 503 and closes the connection), and a watchdog interrupts a
 * thread whose I/O passed its deadline: the channel is interruptible, so the interrupt closes that
 * connection and frees the thread.
 *
 * <p>A few more threads ({@code probeThreads}) serve only probes with no body when every other is
 * held: such a request holds its thread only for the status and one small write, so clients that
 * hold the request threads with slow bodies or unread responses cannot starve {@code /health}.
 *
 * <p>Only I/O is ever interrupted. A request starts watched (its body must arrive by the deadline
 * it is handed with: {@code readTimeout} after its first byte); the handler stops the watch
 * ({@link Slot#requestRead}) before it does any work, and watches again ({@link Slot#watchFor})
 * while the response is written and the rest of an unwanted body thrown away. A deadline and the
 * interrupt are decided under the slot's lock, so no interrupt lands after the handler left the
 * watched phase.
 */
final class ConnectionThreads implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionThreads.class);
    private static final ThreadLocal<Slot> CURRENT = new ThreadLocal<>();
    private static final long NOT_WATCHED = Long.MAX_VALUE;

    private final ThreadPoolExecutor threads;
    private final ThreadPoolExecutor probeThreads;
    private final ScheduledExecutorService watchdog;
    private final Set<Slot> inFlight = ConcurrentHashMap.newKeySet();
    private final long readTimeoutNanos;
    private final AtomicLong closedByDeadline = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong lastRefusalLog = new AtomicLong();

    ConnectionThreads(String name, int maxThreads, int probeThreads, Duration readTimeout) {
        this.readTimeoutNanos = readTimeout.toNanos();
        // No queue: a request either gets a thread now or is refused, since one waiting behind slow
        // clients would delay exactly the probes this class protects.
        threads = pool(name, maxThreads);
        this.probeThreads = pool(name + "-probe", probeThreads);
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name + "-watchdog");
            t.setDaemon(true);
            return t;
        });
        long tick = Math.max(5, Math.min(100, readTimeout.toMillis() / 4));
        watchdog.scheduleWithFixedDelay(this::expire, tick, tick, TimeUnit.MILLISECONDS);
    }

    private static ThreadPoolExecutor pool(String name, int size) {
        AtomicInteger n = new AtomicInteger();
        return new ThreadPoolExecutor(0, size, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Runs {@code request} on a thread of its own now, its I/O watched until {@code deadlineNanos}
     * ({@link System#nanoTime}); {@code probe}: it may take a probe thread when the others are held.
     *
     * @return false when no thread is free: the caller refuses the request
     */
    boolean start(Runnable request, long deadlineNanos, boolean probe) {
        try {
            threads.execute(() -> run(request, deadlineNanos));
            return true;
        } catch (RejectedExecutionException e) {
            if (probe) {
                try {
                    probeThreads.execute(() -> run(request, deadlineNanos));
                    return true;
                } catch (RejectedExecutionException alsoFull) {
                    // refused below
                }
            }
        }
        refused.incrementAndGet();
        long now = System.nanoTime();
        long last = lastRefusalLog.get();
        if (now - last > TimeUnit.SECONDS.toNanos(10) && lastRefusalLog.compareAndSet(last, now)) {
            LOG.warn("HTTP server at its {} concurrent requests: answering 503 to new ones ({} so far)",
                    threads.getMaximumPoolSize(), refused.get());
        }
        return false;
    }

    private void run(Runnable request, long deadlineNanos) {
        Slot slot = new Slot(Thread.currentThread(), deadlineNanos);
        inFlight.add(slot);
        CURRENT.set(slot);
        try {
            request.run();
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
            slot.expireIfDue(now, closedByDeadline);
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

    /** Requests refused because every thread was busy. */
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
        probeThreads.shutdownNow();
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

        /**
         * The exchange is over: no deadline from now on.
         *
         * @return false if a deadline closed (or may have interrupted) it first
         */
        synchronized boolean release() {
            deadline = NOT_WATCHED;
            return !expired;
        }

        private synchronized void finish() {
            finished = true;
            deadline = NOT_WATCHED;
        }

        /** Counts the close before it happens, so a client that sees it also sees it counted. */
        private synchronized void expireIfDue(long now, AtomicLong closed) {
            if (finished || expired || deadline == NOT_WATCHED || now - deadline < 0) {
                return;
            }
            expired = true;
            closed.incrementAndGet();
            thread.interrupt();
        }
    }
}

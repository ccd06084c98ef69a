package io.metastream.embedded;

/**
 * Traffic at a fixed rate, for the demos and replays that produce it: event {@code index} is due
 * {@code index / perSecond} seconds after the start, whatever time sending the earlier ones took.
 */
public final class Pacing {
    private Pacing() {
    }

    /**
     * Sleeps until event {@code index} is due, at {@code perSecond} events a second from {@code startNanos}
     * ({@link System#nanoTime()}); returns at once when it is already due.
     *
     * @throws IllegalStateException if interrupted (the interrupt flag is kept)
     */
    public static void awaitDue(long startNanos, long index, double perSecond) {
        long due = startNanos + (long) (index * 1e9 / perSecond);
        for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
            sleepNanos(wait);
        }
    }

    /**
     * Sleeps {@code millis}.
     *
     * @throws IllegalStateException if interrupted (the interrupt flag is kept)
     */
    public static void sleepMillis(long millis) {
        sleepNanos(millis * 1_000_000L);
    }

    private static void sleepNanos(long nanos) {
        try {
            Thread.sleep(nanos / 1_000_000L, (int) (nanos % 1_000_000L));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}

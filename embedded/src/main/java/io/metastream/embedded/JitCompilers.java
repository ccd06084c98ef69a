package io.metastream.embedded;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;

/**
 * Waits for the JIT compilers to go quiet. On two cores, C2 compiling the hot paths competes with
 * the traffic it compiles them for; a demo that starts its clock while they are busy measures the
 * compiler, not the pipeline.
 */
public final class JitCompilers {
    /** A window in which the compilers spent less than {@link #QUIET_SHARE} of it is quiet. */
    private static final long WINDOW_MS = 250;
    private static final double QUIET_SHARE = 0.05;

    private JitCompilers() {
    }

    /**
     * Blocks until the compilers spent under 5% of a 250 ms window compiling, or {@code atMost}
     * passed, or the JVM does not report compilation time.
     *
     * @return nanoseconds waited
     */
    public static long awaitIdle(Duration atMost) {
        long start = System.nanoTime();
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) {
            return 0;
        }
        long deadline = start + atMost.toNanos();
        long before = jit.getTotalCompilationTime();
        while (System.nanoTime() < deadline) {
            try {
                Thread.sleep(WINDOW_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            long now = jit.getTotalCompilationTime();
            // Total compilation time sums the compiler threads: two busy threads count twice.
            if (now - before < QUIET_SHARE * WINDOW_MS) {
                break;
            }
            before = now;
        }
        return System.nanoTime() - start;
    }
}

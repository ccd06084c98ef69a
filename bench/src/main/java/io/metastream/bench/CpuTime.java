package io.metastream.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A second score next to JMH's wall-clock throughput: tasks per second of the benchmark thread's
 * own CPU time, reported as {@code :tasksPerCpuSecond}. With one libtorch intra-op thread every
 * native op runs on the calling thread, so this counts all the work, and it moves far less than
 * wall-clock time when other processes compete for the cores of a shared machine. (It still rises
 * somewhat under contention: shared caches and hyper-threads slow the same instructions.)
 * JMH sums these per-iteration values over the iterations in its summary line; {@link Report}
 * averages them instead.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.EVENTS)
public class CpuTime {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private long tasks;
    private long cpuNanos;
    private long started;

    @Setup(Level.Iteration)
    public void reset() {
        tasks = 0;
        cpuNanos = 0;
    }

    void start() {
        started = THREADS.getCurrentThreadCpuTime();
    }

    void stop(int tasksDone) {
        cpuNanos += THREADS.getCurrentThreadCpuTime() - started;
        tasks += tasksDone;
    }

    /** The metric: tasks per CPU-second of this thread, over the iteration. */
    public double tasksPerCpuSecond() {
        return cpuNanos == 0 ? 0 : tasks * 1e9 / cpuNanos;
    }
}

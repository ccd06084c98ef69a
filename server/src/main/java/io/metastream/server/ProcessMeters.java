package io.metastream.server;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The JVM's and the process's meters beside metastream's: heap and non-heap memory, threads, CPU,
 * garbage collection ({@code jvm_gc_pause_seconds}, {@code jvm_gc_memory_allocated_bytes_total}, ...)
 * and the resident set size, {@code process_resident_memory_bytes}. The RSS is what the heap
 * meters cannot show: libtorch (its natives and every adaptation's tensors) and RocksDB live
 * outside the heap, and it is the RSS a container's memory limit kills on. It is read from
 * {@code /proc/self/status} (Linux); elsewhere it is not registered.
 */
public final class ProcessMeters implements AutoCloseable {
    /** Micrometer's name for the RSS, {@code process_resident_memory_bytes} in Prometheus. */
    static final String RSS = "process.resident.memory";
    /** The name taken when the application's registry already has its own {@link #RSS} meter. */
    static final String RSS_FALLBACK = "metastream.process.resident.memory";
    private static final String RSS_DESCRIPTION = "Resident set size of the process (VmRSS): heap, native "
            + "libraries and their allocations (libtorch, RocksDB), thread stacks";
    private static final Path STATUS = Path.of("/proc/self/status");

    private final JvmGcMetrics gc;

    private ProcessMeters(JvmGcMetrics gc) {
        this.gc = gc;
    }

    /**
     * Binds the meters to {@code registry}; close the result to stop the GC meters' listeners.
     * The GC meters are bound only when the registry has none yet (the application's own, or
     * another pipeline's in the same registry): a second binding would count every collection twice.
     */
    public static ProcessMeters bindTo(MeterRegistry registry) {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        JvmGcMetrics gc = null;
        if (registry.find("jvm.gc.memory.allocated").meter() == null) {
            gc = new JvmGcMetrics();
            gc.bindTo(registry);
        }
        if (residentBytes(STATUS).isPresent()) {
            Meter existing = registry.find(RSS).meter();
            boolean free = existing == null || RSS_DESCRIPTION.equals(existing.getId().getDescription());
            Gauge.builder(free ? RSS : RSS_FALLBACK, STATUS, status -> {
                OptionalLong bytes = residentBytes(status);
                return bytes.isPresent() ? bytes.getAsLong() : Double.NaN;
            }).baseUnit("bytes").description(RSS_DESCRIPTION).strongReference(true).register(registry);
        }
        return new ProcessMeters(gc);
    }

    /** The {@code VmRSS} line of a {@code /proc/<pid>/status} file, in bytes; empty when there is none. */
    static OptionalLong residentBytes(Path status) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("VmRSS:")) {
                    String[] parts = line.substring("VmRSS:".length()).trim().split("\\s+");
                    // The kernel writes kB (KiB) here, whatever the unit's spelling.
                    return OptionalLong.of(Long.parseLong(parts[0]) * 1024);
                }
            }
            return OptionalLong.empty();
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty(); // no procfs (not Linux), or a format this code does not know
        }
    }

    @Override
    public void close() {
        if (gc != null) {
            gc.close();
        }
    }
}

package io.metastream.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the demos and the end-to-end benchmark measure of a pipeline they drive, computed one way. */
public final class Measurements {
    private Measurements() {
    }

    /** The {@code q} quantile of sorted values (nearest rank), 0 for none. */
    public static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    /** Resident set size of this process in MB (Linux), or -1 where /proc is not there. */
    public static long residentMegabytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}

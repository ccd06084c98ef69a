package io.metastream.streamapp.console;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar: redrawn in place on a terminal, printed every 10% otherwise (so CI
 * logs and files stay readable).
 */
public final class ConsoleProgress {
    private static final int WIDTH = 30;
    private final PrintStream out;
    private final String label;
    private final boolean interactive;
    private final long start = System.nanoTime();
    private int lastDecile = -1;
    private long lastDraw;

    public ConsoleProgress(PrintStream out, String label) {
        this.out = out;
        this.label = label;
        this.interactive = System.console() != null;
    }

    /** @param note extra text after the bar, e.g. the current loss */
    public void update(long done, long total, String note) {
        double fraction = total == 0 ? 1 : (double) done / total;
        long now = System.nanoTime();
        double elapsed = (now - start) / 1e9;
        double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
        int filled = (int) Math.round(fraction * WIDTH);
        String line = String.format(Locale.ROOT, "%s [%s%s] %3.0f%% %d/%d %s eta %.0fs", label,
                "#".repeat(filled), ".".repeat(WIDTH - filled), 100 * fraction, done, total, note, eta);
        if (interactive) {
            if (now - lastDraw > 100_000_000L || done == total) {
                out.print("\r" + line);
                lastDraw = now;
                if (done == total) {
                    out.println();
                }
            }
        } else {
            int decile = (int) (fraction * 10);
            if (decile != lastDecile) {
                lastDecile = decile;
                out.println(line);
            }
        }
        out.flush();
    }
}

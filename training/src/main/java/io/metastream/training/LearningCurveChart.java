package io.metastream.training;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A learning curve as a PNG, drawn with plain Java2D so no plotting library is needed: the
 * per-iteration loss in light grey and its moving average over a window of 1% of the run in
 * blue, on a log-scaled loss axis (meta-training losses fall by orders of magnitude).
 */
public final class LearningCurveChart {
    private static final int WIDTH = 800;
    private static final int HEIGHT = 480;
    private static final int LEFT = 70;
    private static final int RIGHT = 20;
    private static final int TOP = 40;
    private static final int BOTTOM = 50;

    private LearningCurveChart() {
    }

    /**
     * @param curve one loss per iteration; non-positive or non-finite values are skipped
     * @return the PNG bytes
     * @throws IllegalArgumentException if the curve is empty
     */
    public static byte[] png(float[] curve, String title) {
        if (curve.length == 0) {
            throw new IllegalArgumentException("empty learning curve");
        }
        double[] smooth = movingAverage(curve, Math.max(1, curve.length / 100));
        double lo = Double.MAX_VALUE;
        double hi = -Double.MAX_VALUE;
        for (float v : curve) {
            if (v > 0 && Float.isFinite(v)) {
                lo = Math.min(lo, Math.log10(v));
                hi = Math.max(hi, Math.log10(v));
            }
        }
        if (lo > hi) {
            lo = -1;
            hi = 1;
        }
        lo = Math.floor(lo);
        hi = Math.max(lo + 1, Math.ceil(hi));
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            drawAxes(g, curve.length, lo, hi);
            g.setStroke(new BasicStroke(1f));
            g.setColor(new Color(200, 200, 200));
            g.draw(path(toDouble(curve), lo, hi));
            g.setStroke(new BasicStroke(2f));
            g.setColor(new Color(31, 119, 180));
            g.draw(path(smooth, lo, hi));
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
            g.drawString(title, LEFT, TOP - 15);
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode the learning curve as PNG", e);
        }
        return out.toByteArray();
    }

    private static void drawAxes(Graphics2D g, int iterations, double lo, double hi) {
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, plotW, plotH);
        for (int e = (int) lo; e <= (int) hi; e++) {
            int y = TOP + (int) Math.round(plotH * (hi - e) / (hi - lo));
            g.setColor(new Color(235, 235, 235));
            g.drawLine(LEFT + 1, y, LEFT + plotW - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "1e%d", e), LEFT - 40, y + 4);
        }
        for (int i = 0; i <= 5; i++) {
            int x = LEFT + plotW * i / 5;
            g.drawLine(x, TOP + plotH, x, TOP + plotH + 5);
            g.drawString(Integer.toString(iterations * i / 5), x - (i == 5 ? 35 : 15), TOP + plotH + 20);
        }
        g.drawString("meta-iteration", LEFT + plotW - 90, HEIGHT - 10);
        g.drawString("query loss after adaptation, log scale: grey per iteration, blue moving average", LEFT,
                HEIGHT - 10);
    }

    private static Path2D path(double[] values, double lo, double hi) {
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;
        Path2D.Double p = new Path2D.Double();
        boolean started = false;
        for (int i = 0; i < values.length; i++) {
            if (!(values[i] > 0) || !Double.isFinite(values[i])) {
                continue;
            }
            double x = LEFT + plotW * (values.length == 1 ? 0.5 : (double) i / (values.length - 1));
            double y = TOP + plotH * (hi - Math.log10(values[i])) / (hi - lo);
            if (started) {
                p.lineTo(x, y);
            } else {
                p.moveTo(x, y);
                started = true;
            }
        }
        return p;
    }

    static double[] movingAverage(float[] v, int window) {
        double[] out = new double[v.length];
        double sum = 0;
        for (int i = 0; i < v.length; i++) {
            sum += v[i];
            if (i >= window) {
                sum -= v[i - window];
            }
            out[i] = sum / Math.min(i + 1, window);
        }
        return out;
    }

    private static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }
}

package io.metastream.learn;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The version of metastream this code was built as: the Maven project version, written into a
 * resource by the build, so that {@code metastream --version}, model provenance and anything else
 * that reports the version share one source instead of copies that drift from the POM.
 */
public final class MetastreamVersion {
    private static final String RESOURCE = "metastream-version.properties";
    private static final String VERSION = read();

    private MetastreamVersion() {
    }

    /**
     * The project version, such as {@code 0.1.0} or {@code 0.2.0-SNAPSHOT}.
     *
     * @return the version the build wrote, never null
     */
    public static String get() {
        return VERSION;
    }

    private static String read() {
        try (InputStream in = MetastreamVersion.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing beside " + MetastreamVersion.class.getName()
                        + ": the class was not built by Maven");
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "").trim();
            // An unfiltered copy (an IDE that copies resources without Maven) still holds the placeholder.
            if (v.isEmpty() || v.contains("${")) {
                throw new IllegalStateException(RESOURCE + " holds no version ('" + v + "'): resources were not "
                        + "filtered by Maven");
            }
            return v;
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE, e);
        }
    }
}

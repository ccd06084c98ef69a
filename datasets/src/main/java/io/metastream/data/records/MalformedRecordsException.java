package io.metastream.data.records;

import java.nio.file.Path;
import java.util.Locale;

/**
 * A data file that cannot be read as task records: a missing or mistyped column or field, a value
 * that is not a finite number, rows of different widths. The message names the file and, where
 * there is one, the line (CSV) or record (Avro, 1-based) and the column or field.
 */
public final class MalformedRecordsException extends RuntimeException {
    private final transient Path file;
    private final long position;

    /**
     * @param file the file at fault, or {@code null} for rows given in memory
     * @param position the 1-based CSV line or Avro record number, or 0 where the fault is the whole file
     */
    public MalformedRecordsException(Path file, long position, String message) {
        this(file, position, message, null);
    }

    public MalformedRecordsException(Path file, long position, String message, Throwable cause) {
        super(where(file, position) + message, cause);
        this.file = file;
        this.position = position;
    }

    private static String where(Path file, long position) {
        if (file == null) {
            return position > 0 ? "row " + position + ": " : "";
        }
        String name = file.toString();
        if (position <= 0) {
            return name + ": ";
        }
        return name + (name.toLowerCase(Locale.ROOT).endsWith(".avro") ? " record " : " line ")
                + position + ": ";
    }

    /** The file at fault, or {@code null} for rows given in memory. */
    public Path file() {
        return file;
    }

    /** The 1-based line (CSV) or record (Avro), or 0 where the fault is the whole file. */
    public long position() {
        return position;
    }
}

package io.metastream.learn.records;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileConstants;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * The Avro form of {@link TaskRecords}: an object container file of generic records, read by field
 * name, so any writer schema with the fields works (the project's {@code LabelledSample} among them).
 */
final class AvroRecords {
    private AvroRecords() {
    }

    /**
     * @param maxRows records this file may still add to what has been read. The byte-level limits
     *     (a string's, a byte array's or a block's claimed length) are Avro's own, set by the
     *     application for the whole JVM.
     */
    static TaskRecords.Parsed parse(Path file, TaskRecords.Limits limits, long maxRows) {
        DataFileReader<GenericRecord> in;
        try {
            in = new DataFileReader<>(file.toFile(), new GenericDatumReader<>());
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("Not an Avro data file")) {
                throw new MalformedRecordsException(file, 0, "not an Avro object container file", e);
            }
            throw new UncheckedIOException("cannot read " + file, e);
        }
        try (in) {
            TaskRecords.Parsed parsed = parse(file, in, limits, maxRows);
            if (!endsOnSync(file)) {
                throw new MalformedRecordsException(file, 0, "truncated: the last block is incomplete ("
                        + parsed.rows().size() + " records read before it)");
            }
            return parsed;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static TaskRecords.Parsed parse(Path file, DataFileReader<GenericRecord> in, TaskRecords.Limits limits,
            long maxRows) throws IOException {
        Schema schema = in.getSchema();
        if (schema.getType() != Schema.Type.RECORD) {
            throw new MalformedRecordsException(file, 0, "holds " + schema.getType() + " values, not records");
        }
        Schema taskType = field(file, schema, CsvRecords.TASK_ID, true);
        if (taskType.getType() != Schema.Type.STRING) {
            throw wrongType(file, CsvRecords.TASK_ID, taskType, "string");
        }
        Schema featuresType = field(file, schema, "features", true);
        if (featuresType.getType() != Schema.Type.ARRAY || !isReal(featuresType.getElementType())) {
            throw wrongType(file, "features", featuresType, "an array of float or double");
        }
        Schema targetType = field(file, schema, CsvRecords.TARGET, true);
        if (!isReal(targetType) && !List.of(Schema.Type.INT, Schema.Type.LONG, Schema.Type.BOOLEAN)
                .contains(targetType.getType())) {
            throw wrongType(file, CsvRecords.TARGET, targetType, "float, double, int, long or boolean");
        }
        Schema timeType = field(file, schema, CsvRecords.EVENT_TIME, false);
        if (timeType != null && timeType.getType() != Schema.Type.LONG) {
            throw wrongType(file, CsvRecords.EVENT_TIME, timeType, "long (epoch milliseconds)");
        }
        // The logical type says the unit; a plain long is taken as milliseconds.
        boolean micros = timeType != null && timeType.getLogicalType() instanceof LogicalTypes.TimestampMicros;
        LogicalType logical = timeType == null ? null : timeType.getLogicalType();
        if (logical != null && !(logical instanceof LogicalTypes.TimestampMillis) && !micros) {
            throw wrongType(file, CsvRecords.EVENT_TIME, timeType, "timestamp-millis or timestamp-micros");
        }

        List<TaskRecords.Row> rows = new ArrayList<>();
        int width = -1;
        Boolean timed = null;
        long n = 0;
        GenericRecord r = null;
        while (true) {
            try {
                if (!in.hasNext()) {
                    break;
                }
                if (n >= maxRows) {
                    throw new MalformedRecordsException(file, n + 1, "more than " + limits.maxRows()
                            + " rows, the most one read may hold");
                }
                r = in.next(r);
            } catch (AvroRuntimeException e) {
                throw new MalformedRecordsException(file, n + 1, "unreadable: " + e.getMessage(), e);
            }
            n++;
            Object task = required(file, n, r, CsvRecords.TASK_ID);
            Collection<?> values = (Collection<?>) required(file, n, r, "features");
            float[] x = new float[values.size()];
            int i = 0;
            for (Object v : values) {
                if (v == null) {
                    throw new MalformedRecordsException(file, n, "features[" + i + "] is null");
                }
                x[i] = finite(file, n, "features[" + i + "]", ((Number) v).floatValue());
                i++;
            }
            if (width < 0) {
                width = x.length;
                if (width == 0) {
                    throw new MalformedRecordsException(file, n, "features is empty");
                }
            } else if (x.length != width) {
                throw new MalformedRecordsException(file, n, x.length + " features, but record 1 has " + width);
            }
            Object target = required(file, n, r, CsvRecords.TARGET);
            float y = target instanceof Boolean b ? (b ? 1f : 0f)
                    : finite(file, n, CsvRecords.TARGET, ((Number) target).floatValue());
            Object time = timeType == null ? null : r.get(CsvRecords.EVENT_TIME);
            if (timed == null) {
                timed = time != null;
            } else if (timed != (time != null)) {
                throw new MalformedRecordsException(file, n, (timed ? "no " : "") + "event_time, but record 1 has "
                        + (timed ? "one" : "none"));
            }
            long ms = time == null ? TaskRecords.NO_TIME
                    : micros ? Math.floorDiv((Long) time, 1000L) : (Long) time;
            String id = task.toString();
            if (id.isEmpty()) {
                throw new MalformedRecordsException(file, n, "empty task_id");
            }
            rows.add(new TaskRecords.Row(id, x, y, ms));
        }
        return new TaskRecords.Parsed(rows, Math.max(width, 0), Boolean.TRUE.equals(timed));
    }

    /**
     * Whether the file ends with its sync marker, as every complete container file does (the
     * header ends with one, and so does each block). The reader takes a truncated last block for
     * the end of the file and would drop its rows without a word.
     */
    private static boolean endsOnSync(Path file) throws IOException {
        byte[] sync = new byte[DataFileConstants.SYNC_SIZE];
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            BinaryDecoder header = DecoderFactory.get().binaryDecoder(in, null);
            header.skipFixed(DataFileConstants.MAGIC.length);
            for (long n = header.readMapStart(); n != 0; n = header.mapNext()) {
                for (long i = 0; i < n; i++) {
                    header.skipString();
                    header.skipBytes();
                }
            }
            header.readFixed(sync);
        }
        try (SeekableByteChannel ch = Files.newByteChannel(file)) {
            ByteBuffer tail = ByteBuffer.allocate(sync.length);
            ch.position(ch.size() - sync.length);
            while (tail.hasRemaining() && ch.read(tail) >= 0) {
                // read until full or end of file
            }
            return Arrays.equals(tail.array(), sync);
        }
    }

    /** The field's type with a {@code ["null", T]} union unwrapped to T, or null if optional and absent. */
    private static Schema field(Path file, Schema record, String name, boolean required) {
        Schema.Field f = record.getField(name);
        if (f == null) {
            if (required) {
                throw new MalformedRecordsException(file, 0, "records have no '" + name + "' field (fields: "
                        + record.getFields().stream().map(Schema.Field::name).toList() + ")");
            }
            return null;
        }
        Schema type = f.schema();
        if (type.getType() == Schema.Type.UNION) {
            List<Schema> branches = type.getTypes().stream().filter(s -> s.getType() != Schema.Type.NULL).toList();
            if (branches.size() != 1) {
                throw wrongType(file, name, type, "one type, optionally in a union with null");
            }
            return branches.get(0);
        }
        return type;
    }

    private static boolean isReal(Schema s) {
        return s.getType() == Schema.Type.FLOAT || s.getType() == Schema.Type.DOUBLE;
    }

    private static MalformedRecordsException wrongType(Path file, String field, Schema type, String expected) {
        return new MalformedRecordsException(file, 0, "field '" + field + "' is " + type + ", expected " + expected);
    }

    private static Object required(Path file, long n, GenericRecord r, String field) {
        Object v = r.get(field);
        if (v == null) {
            throw new MalformedRecordsException(file, n, field + " is null");
        }
        return v;
    }

    private static float finite(Path file, long n, String field, float v) {
        if (!Float.isFinite(v)) {
            throw new MalformedRecordsException(file, n, field + " is " + v + ", not a finite number");
        }
        return v;
    }
}

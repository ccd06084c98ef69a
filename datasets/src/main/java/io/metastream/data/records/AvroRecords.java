package io.metastream.data.records;

import io.metastream.schemas.serde.AvroFraming;
import io.metastream.schemas.serde.RecordDecodeException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.Inflater;
import java.util.zip.InflaterInputStream;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileConstants;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;

/**
 * The Avro form of {@link TaskRecords}: an object container file of generic records, read by field
 * name, so any writer schema with the fields works (the project's {@code LabelledSample} among them).
 *
 * <p>The file is read with its framing checked before anything is allocated from it, because
 * Avro's own {@code DataFileReader} allocates a block's declared size (up to 2 GiB) and any length
 * or count a record claims before it reads a byte: a file of a few hundred bytes could end the JVM
 * with an {@code OutOfMemoryError}. Here:
 * <ul>
 *   <li>the header (magic, metadata, sync marker) is measured with {@link AvroFraming} within the
 *       first {@link #MAX_HEADER_BYTES} of the file;</li>
 *   <li>each block's record count and byte size are checked against what is left of the file
 *       (the block and its sync marker must fit), and its decompressed size against
 *       {@link #MAX_BLOCK_BYTES};</li>
 *   <li>each record in a block is measured with {@link AvroFraming} against the writer schema, so
 *       no string, bytes or array in it can claim more than the block holds, and only then
 *       decoded; a block must hold exactly its records, followed by the header's sync marker.</li>
 * </ul>
 * Codecs: {@code null}, {@code deflate} and {@code bzip2}; the others need libraries this module
 * does not ship.
 */
final class AvroRecords {
    /** The most of the file the header (its metadata, the schema among it) may take. */
    static final int MAX_HEADER_BYTES = 16 << 20;
    /**
     * The most a block may hold, stored or decompressed. Writers cut blocks at about 64 KB
     * ({@link DataFileConstants#DEFAULT_SYNC_INTERVAL}); a thousand times that leaves room for very
     * wide rows and stops a deflate bomb at a size a training heap absorbs.
     */
    static final int MAX_BLOCK_BYTES = 64 << 20;

    /** The container header as the Avro specification defines it. */
    private static final Schema HEADER = new Schema.Parser().parse("""
            {"type":"record","name":"Header","namespace":"org.apache.avro.file","fields":[
              {"name":"magic","type":{"type":"fixed","name":"Magic","size":4}},
              {"name":"meta","type":{"type":"map","values":"bytes"}},
              {"name":"sync","type":{"type":"fixed","name":"Sync","size":16}}]}""");
    /** What starts each block: its record count and its byte size, two longs. */
    private static final Schema BLOCK_START = new Schema.Parser().parse("""
            {"type":"record","name":"BlockStart","fields":[{"name":"count","type":"long"},{"name":"size","type":"long"}]}""");
    private static final int MAX_BLOCK_START_BYTES = 20;

    private AvroRecords() {
    }

    /**
     * @param maxRows records this file may still add to what has been read
     */
    static TaskRecords.Parsed parse(Path file, TaskRecords.Limits limits, long maxRows) {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
            return new Reading(file, in, limits, maxRows).read();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** One pass over one container file. */
    private static final class Reading {
        private final Path file;
        private final FileChannel in;
        private final long fileSize;
        private final TaskRecords.Limits limits;
        private final long maxRows;
        private final List<TaskRecords.Row> rows = new ArrayList<>();
        private int width = -1;
        private Boolean timed;
        /** From the header. */
        private byte[] sync;
        private Schema writer;
        private Codec codec;
        private Fields fields;
        private GenericDatumReader<GenericRecord> reader;

        Reading(Path file, FileChannel in, TaskRecords.Limits limits, long maxRows) throws IOException {
            this.file = file;
            this.in = in;
            this.fileSize = in.size();
            this.limits = limits;
            this.maxRows = maxRows;
        }

        TaskRecords.Parsed read() throws IOException {
            byte[] prefix = bytesAt(0, (int) Math.min(fileSize, MAX_HEADER_BYTES));
            byte[] magic = DataFileConstants.MAGIC;
            if (prefix.length < magic.length || !Arrays.equals(prefix, 0, magic.length, magic, 0, magic.length)) {
                throw new MalformedRecordsException(file, 0, "not an Avro object container file");
            }
            int headerLength;
            try {
                headerLength = AvroFraming.measure(HEADER, prefix, 0, prefix.length);
            } catch (RecordDecodeException e) {
                throw new MalformedRecordsException(file, 0, "malformed container header"
                        + (prefix.length == MAX_HEADER_BYTES ? " (or one over " + (MAX_HEADER_BYTES >> 20)
                        + " MiB, the most a header may take)" : "") + ": " + e.getMessage(), e);
            }
            GenericRecord header = decode(new GenericDatumReader<>(HEADER), prefix, 0, headerLength, 0);
            Map<String, byte[]> meta = new HashMap<>();
            ((Map<?, ?>) header.get("meta")).forEach((k, v) -> {
                ByteBuffer b = (ByteBuffer) v;
                byte[] value = new byte[b.remaining()];
                b.duplicate().get(value);
                meta.put(k.toString(), value);
            });
            sync = ((GenericFixed) header.get("sync")).bytes().clone();
            writer = writerSchema(meta);
            codec = codec(meta);
            fields = fields(file, writer);
            reader = new GenericDatumReader<>(writer);
            for (long pos = headerLength; pos < fileSize;) {
                pos = block(pos);
            }
            return new TaskRecords.Parsed(rows, Math.max(width, 0), Boolean.TRUE.equals(timed));
        }

        /** Reads the block at {@code blockAt} and its rows; returns where the next block starts. */
        private long block(long blockAt) throws IOException {
            long pos = blockAt;
            byte[] start = bytesAt(pos, (int) Math.min(MAX_BLOCK_START_BYTES, fileSize - pos));
            int startLength;
            try {
                startLength = AvroFraming.measure(BLOCK_START, start, 0, start.length);
            } catch (RecordDecodeException e) {
                if (start.length < MAX_BLOCK_START_BYTES) {
                    throw truncated(blockAt, "its count and size are cut short: " + e.getMessage());
                }
                throw new MalformedRecordsException(file, 0, "block at offset " + blockAt
                        + ": malformed count or size: " + e.getMessage(), e);
            }
            BinaryDecoder d = DecoderFactory.get().binaryDecoder(start, 0, startLength, null);
            long count = d.readLong();
            long size = d.readLong();
            pos += startLength;
            long left = fileSize - pos;
            if (count < 0 || size < 0) {
                throw new MalformedRecordsException(file, 0, "block at offset " + blockAt + " claims " + count
                        + " records in " + size + " bytes");
            }
            if (size > left - DataFileConstants.SYNC_SIZE) {
                throw truncated(blockAt, "it claims " + size + " bytes and a " + DataFileConstants.SYNC_SIZE
                        + "-byte sync marker, " + left + " bytes are left");
            }
            if (size > MAX_BLOCK_BYTES) {
                throw new MalformedRecordsException(file, 0, "block at offset " + blockAt + " holds " + size
                        + " bytes, more than the " + (MAX_BLOCK_BYTES >> 20) + " MiB a block may");
            }
            byte[] block = codec.decompress(bytesAt(pos, (int) size), blockAt);
            // Every record takes at least a byte (the task_id's length), so a count above the
            // block's size is a lie that would otherwise only be found record by record.
            if (count > block.length) {
                throw new MalformedRecordsException(file, 0, "block at offset " + blockAt + " claims " + count
                        + " records in " + block.length + " bytes");
            }
            pos += size;
            if (!Arrays.equals(bytesAt(pos, DataFileConstants.SYNC_SIZE), sync)) {
                throw new MalformedRecordsException(file, 0, "block at offset " + blockAt
                        + " is not followed by the header's sync marker (corrupt file)");
            }
            int off = 0;
            for (long i = 0; i < count; i++) {
                long n = rows.size() + 1L;
                if (rows.size() >= maxRows) {
                    throw new MalformedRecordsException(file, n, "more than " + limits.maxRows()
                            + " rows, the most one read may hold");
                }
                int length;
                try {
                    length = AvroFraming.measure(writer, block, off, block.length - off);
                } catch (RecordDecodeException e) {
                    throw new MalformedRecordsException(file, n, "malformed (block at offset " + blockAt
                            + ", byte " + off + " of it): " + e.getMessage(), e);
                }
                add(n, decode(reader, block, off, length, n));
                off += length;
            }
            if (off != block.length) {
                throw new MalformedRecordsException(file, 0, "block at offset " + blockAt + " holds "
                        + (block.length - off) + " bytes after its " + count + " records (corrupt file)");
            }
            return pos + DataFileConstants.SYNC_SIZE;
        }

        private MalformedRecordsException truncated(long blockAt, String detail) {
            return new MalformedRecordsException(file, 0, "truncated: the last block is incomplete ("
                    + rows.size() + " records read before it): the block at offset " + blockAt + ": " + detail);
        }

        private Schema writerSchema(Map<String, byte[]> meta) {
            byte[] json = meta.get(DataFileConstants.SCHEMA);
            if (json == null) {
                throw new MalformedRecordsException(file, 0, "the container header has no "
                        + DataFileConstants.SCHEMA);
            }
            try {
                return new Schema.Parser().parse(new String(json, StandardCharsets.UTF_8));
            } catch (RuntimeException e) {
                // Avro's parser refuses a bad schema with several kinds of exception, not all its own.
                throw new MalformedRecordsException(file, 0, "the header's schema is not valid Avro: "
                        + e.getMessage(), e);
            }
        }

        private Codec codec(Map<String, byte[]> meta) {
            byte[] name = meta.get(DataFileConstants.CODEC);
            String codec = name == null ? DataFileConstants.NULL_CODEC : new String(name, StandardCharsets.UTF_8);
            return switch (codec) {
                case DataFileConstants.NULL_CODEC -> (bytes, at) -> bytes;
                case DataFileConstants.DEFLATE_CODEC -> (bytes, at) -> {
                    Inflater inflater = new Inflater(true); // raw deflate, as the Avro specification has it
                    try {
                        return inflate(new InflaterInputStream(new ByteArrayInputStream(bytes), inflater), at);
                    } finally {
                        inflater.end(); // a stream given its inflater leaves it to the caller to end
                    }
                };
                case DataFileConstants.BZIP2_CODEC -> (bytes, at) -> {
                    try {
                        return inflate(new BZip2CompressorInputStream(new ByteArrayInputStream(bytes)), at);
                    } catch (IOException e) {
                        throw new MalformedRecordsException(file, 0, "block at offset " + at
                                + " is not bzip2 data: " + e.getMessage(), e);
                    }
                };
                default -> throw new MalformedRecordsException(file, 0, "codec '" + codec + "' is not supported ("
                        + DataFileConstants.NULL_CODEC + ", " + DataFileConstants.DEFLATE_CODEC + " and "
                        + DataFileConstants.BZIP2_CODEC + " are)");
            };
        }

        /** Decompresses a block, refusing it as soon as it is larger than {@link #MAX_BLOCK_BYTES}. */
        private byte[] inflate(InputStream compressed, long blockAt) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[64 * 1024];
            try (compressed) {
                for (int n; (n = compressed.read(buffer)) > 0;) {
                    if (out.size() + n > MAX_BLOCK_BYTES) {
                        throw new MalformedRecordsException(file, 0, "block at offset " + blockAt
                                + " decompresses to more than the " + (MAX_BLOCK_BYTES >> 20) + " MiB a block may hold");
                    }
                    out.write(buffer, 0, n);
                }
            } catch (MalformedRecordsException tooLarge) {
                throw tooLarge;
            } catch (IOException | RuntimeException e) {
                // Corrupt compressed bytes: the codec libraries say so with several kinds of exception.
                throw new MalformedRecordsException(file, 0, "block at offset " + blockAt
                        + " cannot be decompressed: " + e.getMessage(), e);
            }
            return out.toByteArray();
        }

        /** Decodes one datum whose framing {@link AvroFraming} has checked. */
        private GenericRecord decode(GenericDatumReader<GenericRecord> reader, byte[] bytes, int off, int length,
                long n) {
            try {
                return reader.read(null, DecoderFactory.get().binaryDecoder(bytes, off, length, null));
            } catch (IOException | AvroRuntimeException e) {
                throw new MalformedRecordsException(file, n, "unreadable: " + e.getMessage(), e);
            }
        }

        /** Exactly {@code length} bytes from {@code position}, which the caller has checked are in the file. */
        private byte[] bytesAt(long position, int length) throws IOException {
            ByteBuffer buffer = ByteBuffer.allocate(length);
            while (buffer.hasRemaining()) {
                if (in.read(buffer, position + buffer.position()) < 0) {
                    throw new IOException("the file ended at offset " + (position + buffer.position())
                            + " (it shrank while being read?)");
                }
            }
            return buffer.array();
        }

        private void add(long n, GenericRecord r) {
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
            Object time = fields.timed() ? r.get(CsvRecords.EVENT_TIME) : null;
            if (timed == null) {
                timed = time != null;
            } else if (timed != (time != null)) {
                throw new MalformedRecordsException(file, n, (timed ? "no " : "") + "event_time, but record 1 has "
                        + (timed ? "one" : "none"));
            }
            long ms = time == null ? TaskRecords.NO_TIME
                    : fields.micros() ? Math.floorDiv((Long) time, 1000L) : (Long) time;
            String id = task.toString();
            if (id.isEmpty()) {
                throw new MalformedRecordsException(file, n, "empty task_id");
            }
            rows.add(new TaskRecords.Row(id, x, y, ms));
        }
    }

    /** A block's bytes as its codec stored them, decompressed. */
    @FunctionalInterface
    private interface Codec {
        byte[] decompress(byte[] stored, long blockAt);
    }

    /** What the writer schema says about the optional event time. */
    private record Fields(boolean timed, boolean micros) {
    }

    /** Checks the writer schema has the fields a row needs, of types that convert. */
    private static Fields fields(Path file, Schema schema) {
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
        return new Fields(timeType != null, micros);
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

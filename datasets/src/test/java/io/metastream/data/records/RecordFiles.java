package io.metastream.data.records;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileConstants;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;

/** Writes rows as the files {@link TaskRecords#read} reads, and makes rows to write. */
final class RecordFiles {
    /** The project's sample record, read from the schemas module so the test follows it. */
    static final Path LABELLED_SAMPLE = Path.of("..", "schemas", "src", "main", "avro", "LabelledSample.avsc");

    private RecordFiles() {
    }

    /** {@code tasks} tasks of 3 to 8 rows, {@code dim} features, targets 0 or 1, times out of order. */
    static List<TaskRecords.Row> binaryRows(int tasks, int dim, long seed) {
        Random r = new Random(seed);
        List<TaskRecords.Row> rows = new ArrayList<>();
        for (int t = 0; t < tasks; t++) {
            int n = 3 + r.nextInt(6);
            for (int i = 0; i < n; i++) {
                float[] x = new float[dim];
                for (int d = 0; d < dim; d++) {
                    x[d] = (float) r.nextGaussian();
                }
                rows.add(new TaskRecords.Row("task-" + t, x, r.nextBoolean() ? 1f : 0f,
                        1_700_000_000_000L + r.nextInt(1_000_000)));
            }
        }
        return rows;
    }

    static Path writeCsv(Path file, List<TaskRecords.Row> rows) {
        return TaskRecords.writeCsv(file, rows);
    }

    static Path write(Path file, String text) {
        try {
            return Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Schema labelledSample() {
        try {
            return new Schema.Parser().parse(LABELLED_SAMPLE.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Rows as LabelledSample records; every row must have an event time. */
    static Path writeLabelledSamples(Path file, List<TaskRecords.Row> rows) {
        return writeAvro(file, labelledSample(), labelledSampleRecords(rows));
    }

    /** Rows as generic LabelledSample records, event ids e0, e1, ... */
    static List<GenericRecord> labelledSampleRecords(List<TaskRecords.Row> rows) {
        Schema schema = labelledSample();
        List<GenericRecord> records = new ArrayList<>();
        int id = 0;
        for (TaskRecords.Row row : rows) {
            GenericRecord rec = new GenericData.Record(schema);
            rec.put("event_id", "e" + id++);
            rec.put("task_id", row.taskId());
            List<Float> x = new ArrayList<>();
            for (float v : row.features()) {
                x.add(v);
            }
            rec.put("features", x);
            rec.put("target", row.target());
            rec.put("event_time", row.eventTimeMs());
            records.add(rec);
        }
        return records;
    }

    static Path writeAvro(Path file, Schema schema, List<GenericRecord> records) {
        try (DataFileWriter<GenericRecord> w = new DataFileWriter<>(new GenericDatumWriter<>(schema))) {
            w.create(schema, file.toFile());
            for (GenericRecord r : records) {
                w.append(r);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** An object container header: magic, {@code avro.schema} and {@code avro.codec}, the sync marker. */
    static byte[] containerHeader(Schema schema, String codec, byte[] sync) {
        Map<String, byte[]> meta = new LinkedHashMap<>();
        meta.put(DataFileConstants.SCHEMA, schema.toString().getBytes(StandardCharsets.UTF_8));
        meta.put(DataFileConstants.CODEC, codec.getBytes(StandardCharsets.UTF_8));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            e.writeFixed(DataFileConstants.MAGIC);
            e.writeMapStart();
            e.setItemCount(meta.size());
            for (Map.Entry<String, byte[]> m : meta.entrySet()) {
                e.startItem();
                e.writeString(m.getKey());
                e.writeBytes(m.getValue());
            }
            e.writeMapEnd();
            e.writeFixed(sync);
            e.flush();
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        return out.toByteArray();
    }

    /** A container block: its record count, its size, the bytes as stored, the sync marker. */
    static byte[] block(long count, byte[] stored, byte[] sync) {
        return concat(varint(count), varint(stored.length), stored, sync);
    }

    /** One datum as Avro's writer encodes it. */
    static byte[] datum(Schema schema, Object value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            new GenericDatumWriter<Object>(schema).write(value, e);
            e.flush();
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        return out.toByteArray();
    }

    /** A zig-zag varint, as Avro writes an int or a long. */
    static byte[] varint(long v) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().directBinaryEncoder(out, null);
        try {
            e.writeLong(v);
            e.flush();
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        return out.toByteArray();
    }

    /** Raw deflate (no zlib wrapper), as Avro's deflate codec stores a block. */
    static byte[] deflate(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeflaterOutputStream d = new DeflaterOutputStream(out, new Deflater(Deflater.BEST_COMPRESSION, true))) {
            d.write(bytes);
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        int n = Arrays.stream(parts).mapToInt(p -> p.length).sum();
        byte[] all = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }
}

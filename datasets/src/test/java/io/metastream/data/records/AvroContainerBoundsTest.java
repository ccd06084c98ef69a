package io.metastream.data.records;

import static io.metastream.data.records.RecordFiles.concat;
import static io.metastream.data.records.RecordFiles.deflate;
import static io.metastream.data.records.RecordFiles.varint;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.file.CodecFactory;
import org.apache.avro.file.DataFileConstants;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Container files built byte by byte, with claims no writer would make: each is refused with a
 * {@link MalformedRecordsException} that names the claim, before anything of the claimed size is
 * allocated (these run at the test JVM's ordinary heap, far below the 1 to 2 GiB claimed).
 */
class AvroContainerBoundsTest {
    private static final Schema ROW = SchemaBuilder.record("Row").fields().requiredString("task_id")
            .name("features").type().array().items().floatType().noDefault().requiredFloat("target").endRecord();
    private static final byte[] SYNC = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    @Test
    void shouldRefuseABlockThatClaimsAGibibyte(@TempDir Path dir) throws IOException {
        byte[] datum = datum("u", 1f, 2f);
        Path f = write(dir.resolve("gib.avro"), header("null"), blockStart(1, 1L << 30), datum, SYNC);

        assertThatThrownBy(() -> TaskRecords.read(f)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("gib.avro: truncated: the last block is incomplete (0 records read before it)")
                .hasMessageContaining("it claims 1073741824 bytes");
    }

    @Test
    void shouldRefuseARecordWhoseTaskIdClaimsTwoGibibytes(@TempDir Path dir) throws IOException {
        // A string length of 2^31, then three bytes: Avro's reader would allocate the 2 GiB first.
        byte[] bomb = concat(varint(1L << 31), "abc".getBytes(StandardCharsets.US_ASCII));
        Path plain = write(dir.resolve("bomb.avro"), header("null"), block(2, concat(datum("u", 1f, 0.5f), bomb)));
        Path deflated = write(dir.resolve("bomb-deflate.avro"), header("deflate"),
                block(2, deflate(concat(datum("u", 1f, 0.5f), bomb))));

        for (Path f : List.of(plain, deflated)) {
            assertThatThrownBy(() -> TaskRecords.read(f)).isInstanceOf(MalformedRecordsException.class)
                    .hasMessageContaining(f.getFileName() + " record 2: malformed")
                    .hasMessageContaining("bounded Avro framing: string of claimed length 2147483648 at offset");
        }
    }

    @Test
    void shouldRefuseAHeaderWhoseMetadataClaimsHugeBytes(@TempDir Path dir) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder e = EncoderFactory.get().directBinaryEncoder(out, null);
        e.writeFixed(DataFileConstants.MAGIC);
        e.writeMapStart();
        e.setItemCount(1);
        e.startItem();
        e.writeString(DataFileConstants.SCHEMA);
        e.writeLong(Integer.MAX_VALUE); // the length of the schema's bytes, then 16 bytes
        e.writeFixed(SYNC);
        e.flush();
        Path f = write(dir.resolve("meta.avro"), out.toByteArray());

        assertThatThrownBy(() -> TaskRecords.read(f)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("meta.avro: malformed container header")
                .hasMessageContaining("bytes of claimed length 2147483647");
    }

    @Test
    void shouldRefuseADeflateBlockThatInflatesBeyondTheBlockLimit(@TempDir Path dir) throws IOException {
        byte[] zeros = new byte[AvroRecords.MAX_BLOCK_BYTES + 1];
        Path f = write(dir.resolve("zip.avro"), header("deflate"), block(1, deflate(zeros)));

        assertThatThrownBy(() -> TaskRecords.read(f)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("decompresses to more than the 64 MiB a block may hold");
    }

    @Test
    void shouldRefuseBlocksThatLieAboutTheirRecordsOrSyncMarker(@TempDir Path dir) throws IOException {
        byte[] two = concat(datum("u", 1f, 0.5f), datum("v", 2f, 0.5f));
        Path count = write(dir.resolve("count.avro"), header("null"), block(1L << 40, two));
        assertThatThrownBy(() -> TaskRecords.read(count)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("claims 1099511627776 records in " + two.length + " bytes");

        Path extra = write(dir.resolve("extra.avro"), header("null"), block(1, two));
        assertThatThrownBy(() -> TaskRecords.read(extra)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("bytes after its 1 records");

        byte[] wrongSync = block(2, two);
        wrongSync[wrongSync.length - 1] ^= 1;
        Path sync = write(dir.resolve("sync.avro"), header("null"), wrongSync);
        assertThatThrownBy(() -> TaskRecords.read(sync)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("not followed by the header's sync marker");

        Path negative = write(dir.resolve("neg.avro"), header("null"), blockStart(-1, two.length), two, SYNC);
        assertThatThrownBy(() -> TaskRecords.read(negative)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("claims -1 records");

        byte[] endless = new byte[24];
        java.util.Arrays.fill(endless, (byte) 0xff); // a varint that never ends
        Path varint = write(dir.resolve("varint.avro"), header("null"), endless);
        assertThatThrownBy(() -> TaskRecords.read(varint)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("malformed count or size").hasMessageContaining("varint longer than 10 bytes");

        Path snappy = write(dir.resolve("snappy.avro"), header("snappy"), block(2, two));
        assertThatThrownBy(() -> TaskRecords.read(snappy)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("codec 'snappy' is not supported");
    }

    @Test
    void shouldReadHandBuiltAndWriterBuiltFilesOfEveryCodecAlike(@TempDir Path dir) throws IOException {
        Path built = write(dir.resolve("built.avro"), header("null"),
                block(2, concat(datum("u", 1f, 2f), datum("v", 3f, 4f))), block(1, datum("u", 5f, 6f)));
        TaskRecords read = TaskRecords.read(built);
        assertThat(read.rowCount()).isEqualTo(3);
        assertThat(read.tasks().get(0).rows()).extracting(TaskRecords.Row::target).containsExactly(1f, 5f);

        // Several blocks (a small sync interval), each codec this reader takes.
        List<TaskRecords.Row> rows = RecordFiles.binaryRows(30, 24, 7);
        TaskRecords reference = null;
        for (CodecFactory codec : List.of(CodecFactory.nullCodec(), CodecFactory.deflateCodec(6),
                CodecFactory.bzip2Codec())) {
            Path f = writeLabelledSamples(dir.resolve(codec + ".avro"), rows, codec);
            TaskRecords t = TaskRecords.read(f);
            assertThat(t.rowCount()).isEqualTo(rows.size());
            if (reference == null) {
                reference = t;
            }
            assertThat(t.fingerprint()).isEqualTo(reference.fingerprint());
        }
    }

    private static Path writeLabelledSamples(Path file, List<TaskRecords.Row> rows, CodecFactory codec) {
        Schema schema = RecordFiles.labelledSample();
        try (DataFileWriter<GenericRecord> w = new DataFileWriter<>(new GenericDatumWriter<GenericRecord>(schema))) {
            w.setCodec(codec);
            w.setSyncInterval(512);
            w.create(schema, file.toFile());
            for (GenericRecord rec : RecordFiles.labelledSampleRecords(rows)) {
                w.append(rec);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** A container header for {@link #ROW} with {@code codec} and {@link #SYNC}. */
    private static byte[] header(String codec) {
        return RecordFiles.containerHeader(ROW, codec, SYNC);
    }

    private static byte[] block(long count, byte[] stored) {
        return RecordFiles.block(count, stored, SYNC);
    }

    private static byte[] blockStart(long count, long size) {
        return concat(varint(count), varint(size));
    }

    /** One {@link #ROW} record, as Avro's writer encodes it. */
    private static byte[] datum(String task, float target, float... features) {
        GenericRecord r = new GenericData.Record(ROW);
        r.put("task_id", task);
        List<Float> x = new ArrayList<>();
        for (float v : features) {
            x.add(v);
        }
        r.put("features", x);
        r.put("target", target);
        return RecordFiles.datum(ROW, r);
    }

    private static Path write(Path file, byte[]... parts) throws IOException {
        return Files.write(file, concat(parts));
    }
}

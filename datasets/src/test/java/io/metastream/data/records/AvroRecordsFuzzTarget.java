package io.metastream.data.records;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;

/**
 * Any bytes as a user's Avro container file: {@link TaskRecords#read} refuses them with a
 * {@link MalformedRecordsException} or returns rows, and a file it reads Avro's own reader reads
 * to as many records (the bounded reader is only ever stricter). Anything else, an
 * {@code OutOfMemoryError} from a believed length above all, is a finding.
 *
 * <p>The first byte chooses how the rest is used: as a whole file (the fuzzer mutates headers,
 * schemas and block framing), or as the records of one block behind a valid header (so it spends
 * its time inside records: lengths, counts, unions, a map to skip), stored plain or deflated.
 */
class AvroRecordsFuzzTarget {
    private static final Schema WRITER = new Schema.Parser().parse("""
            {"type":"record","name":"Sample","fields":[
              {"name":"task_id","type":"string"},
              {"name":"features","type":{"type":"array","items":"double"}},
              {"name":"target","type":["null","float"]},
              {"name":"extra","type":{"type":"map","values":["bytes","long"]}},
              {"name":"event_time","type":{"type":"long","logicalType":"timestamp-millis"}}]}""");
    private static final byte[] SYNC = "fuzz-sync-marker".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] HEADER_NULL = RecordFiles.containerHeader(WRITER, "null", SYNC);
    private static final byte[] HEADER_DEFLATE = RecordFiles.containerHeader(WRITER, "deflate", SYNC);
    private static final TaskRecords.Limits LIMITS = new TaskRecords.Limits(64, 256, 64);
    private static final Path FILE = tempFile();

    @FuzzTest(maxDuration = "15s")
    void readAnyBytes(FuzzedDataProvider data) throws IOException {
        int mode = data.consumeInt(0, 2);
        byte[] bytes;
        if (mode == 0) {
            bytes = data.consumeRemainingAsBytes();
        } else {
            int count = data.consumeInt(0, 16);
            byte[] records = data.consumeRemainingAsBytes();
            bytes = mode == 1 ? RecordFiles.concat(HEADER_NULL, RecordFiles.block(count, records, SYNC))
                    : RecordFiles.concat(HEADER_DEFLATE, RecordFiles.block(count, RecordFiles.deflate(records), SYNC));
        }
        Files.write(FILE, bytes);
        TaskRecords read;
        try {
            read = TaskRecords.read(FILE, LIMITS);
        } catch (MalformedRecordsException refused) {
            return;
        }
        long avro = 0;
        try (DataFileReader<GenericRecord> in = new DataFileReader<>(FILE.toFile(), new GenericDatumReader<>())) {
            for (GenericRecord r = null; in.hasNext(); avro++) {
                r = in.next(r);
            }
        }
        assertEquals(avro, read.rowCount());
    }

    private static Path tempFile() {
        try {
            Path dir = Files.createTempDirectory("avro-fuzz");
            dir.toFile().deleteOnExit();
            Path file = dir.resolve("rows.avro");
            file.toFile().deleteOnExit();
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

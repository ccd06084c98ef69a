package io.metastream.data.records;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Any bytes as a user's training CSV: {@link TaskRecords#read} refuses them with a
 * {@link MalformedRecordsException} naming the file and line, or returns rows; and rows it returns
 * survive {@link TaskRecords#writeCsv} and a second read unchanged (a task id the writer quotes,
 * the reader must read back). Small limits, so the fuzzer reaches them. Anything else is a finding;
 * {@code IllegalArgumentException} is documented only for paths that are not .csv or .avro files.
 */
class CsvRecordsFuzzTarget {
    private static final TaskRecords.Limits LIMITS = new TaskRecords.Limits(64, 256, 64);
    private static final Path DIR = tempDir();

    @FuzzTest(maxDuration = "15s")
    void readAnyBytes(byte[] bytes) throws IOException {
        Path file = Files.write(DIR.resolve("rows.csv"), bytes);
        TaskRecords read;
        try {
            read = TaskRecords.read(file, LIMITS);
        } catch (MalformedRecordsException refused) {
            return;
        }
        List<TaskRecords.Row> rows = rows(read);
        TaskRecords again = TaskRecords.read(TaskRecords.writeCsv(DIR.resolve("again.csv"), rows));
        assertEquals(rows, rows(again));
    }

    private static List<TaskRecords.Row> rows(TaskRecords records) {
        List<TaskRecords.Row> rows = new ArrayList<>();
        records.tasks().forEach(t -> rows.addAll(t.rows()));
        return rows;
    }

    private static Path tempDir() {
        try {
            Path dir = Files.createTempDirectory("csv-fuzz");
            dir.toFile().deleteOnExit();
            dir.resolve("rows.csv").toFile().deleteOnExit();
            dir.resolve("again.csv").toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

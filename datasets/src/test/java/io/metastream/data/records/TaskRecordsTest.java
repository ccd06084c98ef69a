package io.metastream.data.records;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskRecordsTest {
    private static final String HEADER = "task_id,event_time,a,b,target\n";

    @Test
    void shouldReadBackEveryRowOfACsvItWroteGroupedByTaskInTimeOrder(@TempDir Path dir) {
        List<TaskRecords.Row> rows = RecordFiles.binaryRows(20, 24, 1);
        TaskRecords read = TaskRecords.read(RecordFiles.writeCsv(dir.resolve("rows.csv"), rows));

        assertThat(read.inputDim()).isEqualTo(24);
        assertThat(read.rowCount()).isEqualTo(rows.size());
        assertThat(read.taskCount()).isEqualTo(20);
        assertThat(read.binaryTargets()).isTrue();
        assertThat(read.timed()).isTrue();
        assertThat(read.source()).isEqualTo("rows.csv");
        assertThat(read.tasks()).extracting(TaskRecords.Task::id).first().isEqualTo("task-0");
        Map<String, List<TaskRecords.Row>> expected = rows.stream().collect(Collectors.groupingBy(
                TaskRecords.Row::taskId, Collectors.collectingAndThen(Collectors.toList(), l -> l.stream()
                        .sorted(Comparator.comparingLong(TaskRecords.Row::eventTimeMs)).toList())));
        for (TaskRecords.Task t : read.tasks()) {
            assertThat(t.rows()).containsExactlyElementsOf(expected.get(t.id()));
        }
    }

    @Test
    void shouldReadLabelledSampleAvroFilesToTheSameRowsAsTheCsv(@TempDir Path dir) {
        List<TaskRecords.Row> rows = RecordFiles.binaryRows(15, 24, 2);
        TaskRecords csv = TaskRecords.read(RecordFiles.writeCsv(dir.resolve("rows.csv"), rows));
        TaskRecords avro = TaskRecords.read(RecordFiles.writeLabelledSamples(dir.resolve("rows.avro"), rows));

        assertThat(avro.inputDim()).isEqualTo(24);
        assertThat(avro.rowCount()).isEqualTo(rows.size());
        assertThat(avro.binaryTargets()).isTrue();
        for (int i = 0; i < csv.taskCount(); i++) {
            assertThat(avro.tasks().get(i).rows()).containsExactlyElementsOf(csv.tasks().get(i).rows());
        }
        assertThat(avro.fingerprint()).isEqualTo(csv.fingerprint()).hasSize(16);
    }

    @Test
    void shouldReadAvroWithDoubleFeaturesBooleanTargetsAndNoEventTime(@TempDir Path dir) {
        Schema schema = SchemaBuilder.record("Click").fields()
                .requiredString("task_id")
                .name("features").type().array().items().doubleType().noDefault()
                .requiredBoolean("target")
                .endRecord();
        List<GenericRecord> records = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            GenericRecord r = new GenericData.Record(schema);
            r.put("task_id", i < 2 ? "u" : "v");
            r.put("features", List.of(i + 0.5, -1.0));
            r.put("target", i % 2 == 0);
            records.add(r);
        }
        TaskRecords read = TaskRecords.read(RecordFiles.writeAvro(dir.resolve("clicks.avro"), schema, records));

        assertThat(read.timed()).isFalse();
        assertThat(read.tasks().get(0).rows()).containsExactly(
                new TaskRecords.Row("u", new float[] {0.5f, -1f}, 1f),
                new TaskRecords.Row("u", new float[] {1.5f, -1f}, 0f));
    }

    @Test
    void shouldConvertTimestampMicrosAndReadIntTargets(@TempDir Path dir) {
        Schema micros = org.apache.avro.LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
        Schema schema = SchemaBuilder.record("S").fields()
                .requiredString("task_id")
                .name("features").type().array().items().floatType().noDefault()
                .requiredInt("target")
                .name("event_time").type(micros).noDefault()
                .endRecord();
        GenericRecord r = new GenericData.Record(schema);
        r.put("task_id", "t");
        r.put("features", List.of(1f));
        r.put("target", 3);
        r.put("event_time", 5_000_123L);
        TaskRecords read = TaskRecords.read(RecordFiles.writeAvro(dir.resolve("m.avro"), schema, List.of(r)));

        TaskRecords.Row row = read.tasks().get(0).rows().get(0);
        assertThat(row.eventTimeMs()).isEqualTo(5_000L);
        assertThat(row.target()).isEqualTo(3f);
        assertThat(read.binaryTargets()).isFalse();
    }

    @Test
    void shouldSortByTimeStablyAndParseIsoInstants(@TempDir Path dir) {
        Path f = RecordFiles.write(dir.resolve("t.csv"), HEADER
                + "u,2024-01-01T00:00:02Z,1,0,1\n"
                + "u,1704067200000,2,0,0\n" // 2024-01-01T00:00:00Z
                + "\n"
                + "u,2024-01-01T00:00:02Z,3,0,1\n"
                + "u,2024-01-01T01:00:01+01:00,4,0,0\n"); // 00:00:01Z
        assertThat(TaskRecords.read(f).tasks().get(0).rows()).extracting(r -> r.features()[0])
                .containsExactly(2f, 4f, 1f, 3f);
    }

    @Test
    void shouldKeepFileOrderWithoutEventTimesAndTreatEveryOtherColumnAsAFeature(@TempDir Path dir) {
        Path f = RecordFiles.write(dir.resolve("t.csv"), "\uFEFFx1, target ,task_id,x2\n3,1,u,9\n1,0,v,8\n2,1,u,7\n");
        TaskRecords read = TaskRecords.read(f);
        assertThat(read.timed()).isFalse();
        assertThat(read.tasks().get(0).rows()).containsExactly(
                new TaskRecords.Row("u", new float[] {3, 9}, 1), new TaskRecords.Row("u", new float[] {2, 7}, 1));
    }

    @Test
    void shouldNameFileLineAndColumnOfABadValue(@TempDir Path dir) {
        Path f = RecordFiles.write(dir.resolve("bad.csv"), HEADER + "u,1,1,2,1\nu,2,1,oops,0\n");
        assertThatThrownBy(() -> TaskRecords.read(f)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("bad.csv line 3: column 4 (b): 'oops' is not a number")
                .extracting(e -> ((MalformedRecordsException) e).position()).isEqualTo(3L);
    }

    @Test
    void shouldRefuseNaNInfinityAndWrongColumnCounts(@TempDir Path dir) {
        Path nan = RecordFiles.write(dir.resolve("nan.csv"), HEADER + "u,1,NaN,2,1\n");
        assertThatThrownBy(() -> TaskRecords.read(nan)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("nan.csv line 2: column 3 (a): 'NaN' is not a finite number");
        Path inf = RecordFiles.write(dir.resolve("inf.csv"), HEADER + "u,1,1,2,1e39\n");
        assertThatThrownBy(() -> TaskRecords.read(inf)).hasMessageContaining("line 2: column 5 (target)");
        Path width = RecordFiles.write(dir.resolve("w.csv"), HEADER + "u,1,1,2,1\n\nu,1,1,2\n");
        assertThatThrownBy(() -> TaskRecords.read(width)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("w.csv line 4: 4 columns, but the header has 5");
    }

    @Test
    void shouldReadQuotedFieldsAsRfc4180HasThem(@TempDir Path dir) {
        Path f = RecordFiles.write(dir.resolve("q.csv"), HEADER
                + "\"u,1\",1,\"1.5\",2,1\n"
                + "\"say \"\"hi\"\"\", 2 ,3, \"4\" ,0\n"
                + "\"two\nlines\",3,5,6,1\n"
                + "\" padded \",4,7,8,0\n");
        TaskRecords read = TaskRecords.read(f);
        assertThat(read.tasks()).extracting(TaskRecords.Task::id)
                .containsExactly("u,1", "say \"hi\"", "two\nlines", " padded ");
        assertThat(read.tasks().get(0).rows()).containsExactly(new TaskRecords.Row("u,1", new float[] {1.5f, 2}, 1, 1));
        assertThat(read.tasks().get(1).rows().get(0).features()).containsExactly(3f, 4f);
        // A quoted field over two lines: the row after it is numbered by its own line.
        Path bad = RecordFiles.write(dir.resolve("bad.csv"), HEADER + "\"two\nlines\",3,5,6,1\nv,4,x,8,0\n");
        assertThatThrownBy(() -> TaskRecords.read(bad)).hasMessageContaining("bad.csv line 4: column 3 (a)");
    }

    @Test
    void shouldReadBackTaskIdsWithCommasQuotesAndLineBreaksItWrote(@TempDir Path dir) {
        List<String> ids = List.of("shop 7, Berlin", "say \"hi\"", " padded ", "two\nlines", "plain", "ünïcödé;x");
        List<TaskRecords.Row> rows = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            rows.add(new TaskRecords.Row(ids.get(i), new float[] {i, -0.1f * i, Float.MIN_VALUE}, i % 2, 1000L + i));
        }
        TaskRecords read = TaskRecords.read(TaskRecords.writeCsv(dir.resolve("ids.csv"), rows));
        assertThat(read.tasks()).extracting(TaskRecords.Task::id).containsExactlyElementsOf(ids);
        assertThat(read.tasks()).flatExtracting(TaskRecords.Task::rows).containsExactlyElementsOf(rows);
        assertThat(read.fingerprint()).isEqualTo(TaskRecords.of(rows).fingerprint());

        // Rows without an event time are written with an empty one, and read back without.
        List<TaskRecords.Row> untimed = List.of(new TaskRecords.Row("a,b", new float[] {1}, 0),
                new TaskRecords.Row("c", new float[] {2}, 1));
        TaskRecords back = TaskRecords.read(TaskRecords.writeCsv(dir.resolve("untimed.csv"), untimed));
        assertThat(back.timed()).isFalse();
        assertThat(back.tasks()).flatExtracting(TaskRecords.Task::rows).containsExactlyElementsOf(untimed);
    }

    @Test
    void shouldRefuseAFieldOrRowOverTheLimitsNamingTheLine(@TempDir Path dir) throws Exception {
        // The default limits, against a real file: a 100,000-character task id on line 3.
        Path longField = RecordFiles.write(dir.resolve("field.csv"), HEADER + "u,1,1,2,1\n"
                + "x".repeat(100_000) + ",2,1,2,1\n");
        assertThatThrownBy(() -> TaskRecords.read(longField)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("field.csv line 3: a field longer than 65536 characters")
                .extracting(e -> ((MalformedRecordsException) e).position()).isEqualTo(3L);

        TaskRecords.Limits small = new TaskRecords.Limits(16, 40, 3);
        Path longRow = RecordFiles.write(dir.resolve("row.csv"), HEADER + "u,1,1,2,1\n"
                + "u,1,1234567890.25,1234567890.25,1234567890.25\n");
        assertThatThrownBy(() -> TaskRecords.read(longRow, small)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("row.csv line 3: row longer than 40 characters");
        Path wide = RecordFiles.write(dir.resolve("wide.csv"), HEADER + "u,1,1,2,1,9,9\n");
        assertThatThrownBy(() -> TaskRecords.read(wide, small))
                .hasMessageContaining("wide.csv line 2: more than 5 columns, but the header has 5");
        Path many = RecordFiles.write(dir.resolve("many.csv"), HEADER + "u,1,1,2,1\n".repeat(4));
        assertThatThrownBy(() -> TaskRecords.read(many, small)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("many.csv line 5: more than 3 rows");
        assertThat(TaskRecords.read(many, new TaskRecords.Limits(16, 40, 4)).rowCount()).isEqualTo(4);

        // The row limit counts over a directory's files, Avro records included.
        Path both = Files.createDirectory(dir.resolve("both"));
        RecordFiles.write(both.resolve("1.csv"), HEADER + "u,1,1,2,1\nu,2,1,2,1\n");
        RecordFiles.writeLabelledSamples(both.resolve("2.avro"), List.of(new TaskRecords.Row("v", new float[] {1, 2}, 0, 3),
                new TaskRecords.Row("v", new float[] {1, 2}, 0, 4)));
        assertThatThrownBy(() -> TaskRecords.read(both, small)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("2.avro record 2: more than 3 rows");
    }

    @Test
    void shouldRefuseBrokenQuotingAndMixedEventTimesNamingTheLine(@TempDir Path dir) {
        Path open = RecordFiles.write(dir.resolve("open.csv"), HEADER + "u,1,1,2,1\n\"v,2,1,2,1\n");
        assertThatThrownBy(() -> TaskRecords.read(open)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("open.csv line 4: not CSV: Missing closing quote");
        Path after = RecordFiles.write(dir.resolve("after.csv"), HEADER + "\"u\"x,1,1,2,1\n");
        assertThatThrownBy(() -> TaskRecords.read(after)).hasMessageContaining("after.csv line 2: not CSV");
        Path mixed = RecordFiles.write(dir.resolve("mixed.csv"), HEADER + "u,1,1,2,1\nu,,1,2,1\n");
        assertThatThrownBy(() -> TaskRecords.read(mixed)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("mixed.csv line 3: column 2 (event_time): no event time, but line 2 has one");
    }

    @Test
    void shouldRefuseAHeaderWithoutTargetOrFeatures(@TempDir Path dir) {
        Path noTarget = RecordFiles.write(dir.resolve("a.csv"), "task_id,x\nu,1\n");
        assertThatThrownBy(() -> TaskRecords.read(noTarget))
                .hasMessageContaining("a.csv line 1: no 'target' column (header: task_id,x)");
        Path noFeatures = RecordFiles.write(dir.resolve("b.csv"), "task_id,target,event_time\nu,1,1\n");
        assertThatThrownBy(() -> TaskRecords.read(noFeatures)).hasMessageContaining("no feature columns");
        Path badTime = RecordFiles.write(dir.resolve("c.csv"), HEADER + "u,yesterday,1,2,1\n");
        assertThatThrownBy(() -> TaskRecords.read(badTime)).hasMessageContaining(
                "c.csv line 2: column 2 (event_time): 'yesterday' is neither epoch milliseconds nor an ISO-8601");
        Path packed = RecordFiles.write(dir.resolve("d.csv"), "task_id,features,target\nu,1;2;3,1\n");
        assertThatThrownBy(() -> TaskRecords.read(packed)).hasMessageContaining("one a column");
    }

    @Test
    void shouldNameTheAvroRecordAndFieldAtFault(@TempDir Path dir) throws Exception {
        List<TaskRecords.Row> rows = new ArrayList<>(RecordFiles.binaryRows(2, 24, 3));
        rows.add(new TaskRecords.Row("x", new float[23], 1f, 1L));
        Path f = RecordFiles.writeLabelledSamples(dir.resolve("w.avro"), rows);
        assertThatThrownBy(() -> TaskRecords.read(f)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("w.avro record " + rows.size() + ": 23 features, but record 1 has 24");

        Schema noTarget = SchemaBuilder.record("S").fields().requiredString("task_id")
                .name("features").type().array().items().floatType().noDefault().endRecord();
        Path g = RecordFiles.writeAvro(dir.resolve("nt.avro"), noTarget, List.of());
        assertThatThrownBy(() -> TaskRecords.read(g)).hasMessageContaining("nt.avro: records have no 'target' field");

        Schema stringTarget = SchemaBuilder.record("S").fields().requiredString("task_id")
                .name("features").type().array().items().floatType().noDefault().requiredString("target").endRecord();
        Path h = RecordFiles.writeAvro(dir.resolve("st.avro"), stringTarget, List.of());
        assertThatThrownBy(() -> TaskRecords.read(h)).hasMessageContaining("field 'target' is \"string\"");

        byte[] whole = Files.readAllBytes(f);
        Path truncated = dir.resolve("t.avro");
        Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length - 40));
        assertThatThrownBy(() -> TaskRecords.read(truncated)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("t.avro: truncated: the last block is incomplete (0 records read before it)");

        Path notAvro = RecordFiles.write(dir.resolve("n.avro"), "task_id,target\n");
        assertThatThrownBy(() -> TaskRecords.read(notAvro))
                .hasMessageContaining("n.avro: not an Avro object container file");
    }

    @Test
    void shouldReadADirectoryOfFilesAndRefuseOneOfAnotherWidth(@TempDir Path dir) throws Exception {
        RecordFiles.write(dir.resolve("1.csv"), HEADER + "u,3,1,1,1\nv,1,2,2,0\n");
        RecordFiles.writeLabelledSamples(dir.resolve("2.avro"), List.of(new TaskRecords.Row("u", new float[] {5, 5}, 0, 2)));
        RecordFiles.write(dir.resolve("notes.txt"), "ignored");
        TaskRecords read = TaskRecords.read(dir);
        assertThat(read.rowCount()).isEqualTo(3);
        assertThat(read.tasks().get(0).rows()).extracting(r -> r.features()[0]).containsExactly(5f, 1f);
        assertThat(read.source()).isEqualTo(dir.getFileName() + "/ (2 files)");

        RecordFiles.write(dir.resolve("3.csv"), "task_id,a,target\nu,1,1\n");
        assertThatThrownBy(() -> TaskRecords.read(dir)).isInstanceOf(MalformedRecordsException.class)
                .hasMessageContaining("3.csv: 1 features, but 1.csv has 2");
        Files.delete(dir.resolve("3.csv"));
        RecordFiles.write(dir.resolve("4.csv"), "task_id,a,b,target\nu,1,1,1\n");
        assertThatThrownBy(() -> TaskRecords.read(dir)).hasMessageContaining("4.csv: rows have no event time");
        assertThatThrownBy(() -> TaskRecords.read(dir.resolve("notes.txt")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("neither .csv nor .avro");
        assertThatThrownBy(() -> TaskRecords.read(dir.resolve("missing")))
                .hasMessageContaining("no such file or directory");
    }

    @Test
    void shouldSplitByTaskDisjointlyAndTheSameForASeed() {
        TaskRecords all = TaskRecords.of(RecordFiles.binaryRows(50, 4, 4));
        TaskRecords.Split s = all.split(0.2, 7);
        Set<String> train = ids(s.train());
        Set<String> test = ids(s.test());

        assertThat(test).hasSize(10).doesNotContainAnyElementsOf(train);
        assertThat(train.size() + test.size()).isEqualTo(50);
        assertThat(s.train().rowCount() + s.test().rowCount()).isEqualTo(all.rowCount());
        assertThat(ids(all.split(0.2, 7).test())).isEqualTo(test);
        assertThat(ids(all.split(0.2, 8).test())).isNotEqualTo(test);
        // The split depends on the set of tasks, not on the order the rows came in.
        List<TaskRecords.Row> reversed = new ArrayList<>(RecordFiles.binaryRows(50, 4, 4));
        java.util.Collections.reverse(reversed);
        assertThat(ids(TaskRecords.of(reversed).split(0.2, 7).test())).isEqualTo(test);
        assertThat(s.test().source()).isEqualTo("rows split(test=0.2,seed=7):test");
        assertThatThrownBy(() -> all.split(1, 7)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldRefuseInconsistentRowsGivenInMemory() {
        assertThatThrownBy(() -> TaskRecords.of(List.of(new TaskRecords.Row("u", new float[2], 1, 5),
                new TaskRecords.Row("u", new float[2], 1)))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("row 1 (task u) has no event time");
        assertThatThrownBy(() -> TaskRecords.of(List.of(new TaskRecords.Row("u", new float[2], 1),
                new TaskRecords.Row("v", new float[3], 1)))).hasMessageContaining("row 1 (task v) has 3 features");
        assertThatThrownBy(() -> new TaskRecords.Row("u", new float[] {Float.NaN}, 1))
                .isInstanceOf(IllegalArgumentException.class);
        float[] x = {1};
        TaskRecords.Row row = new TaskRecords.Row("u", x, 1);
        x[0] = 2;
        row.features()[0] = 3;
        assertThat(row.features()).containsExactly(1f);
    }

    private static Set<String> ids(TaskRecords r) {
        return new HashSet<>(r.tasks().stream().map(TaskRecords.Task::id).toList());
    }
}

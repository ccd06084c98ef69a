package io.metastream.data.records;

import io.metastream.learn.SampleSet;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

/**
 * An immutable in-memory data set of labelled rows keyed by task (a user, a device, a shop), for
 * meta-training on a user's own data. Tasks are in the order they first appear; each task's rows
 * are sorted by event time (a stable sort, so ties and rows without a time keep their file order),
 * because a deployment adapts a task on its earliest rows and predicts its later ones.
 *
 * <p>Either every row has an event time or none has: a task with some timed rows could not be put
 * in any order that means something. File formats (see {@link #read}):
 * <ul>
 *   <li>CSV ({@code .csv}), UTF-8, comma-separated, with a header, quoted as RFC 4180 has it (a
 *       field with a comma, a quote or a line break in double quotes, a quote inside doubled).
 *       Required columns {@code task_id} and {@code target}; optional {@code event_time}, as epoch
 *       milliseconds or an ISO-8601 instant ({@code 2024-05-01T12:00:00Z}), empty in every row or
 *       in none; every other column is a numeric feature, in header order. Blank lines and spaces
 *       around unquoted fields are skipped.</li>
 *   <li>Avro object container files ({@code .avro}) of records with the fields {@code task_id}
 *       (string), {@code features} (array of float or double), {@code target} (float, double, int,
 *       long or boolean) and optionally {@code event_time} (long: epoch milliseconds, or the
 *       {@code timestamp-millis} or {@code timestamp-micros} logical type); other fields are
 *       ignored, so a file of the project's {@code LabelledSample} records reads as is.</li>
 * </ul>
 * A read is bounded ({@link Limits}): a file from elsewhere cannot make it buffer an endless field
 * or line, or hold more rows than the limit; it is refused with the line or record at fault.
 */
public final class TaskRecords {
    /** The {@link Row#eventTimeMs()} of a row without an event time. */
    public static final long NO_TIME = Long.MIN_VALUE;

    /**
     * What one {@link #read} may take in, so that a hostile or broken file is refused before it
     * exhausts memory rather than after.
     *
     * @param maxFieldChars the longest CSV field (a task id, a number)
     * @param maxLineChars the longest CSV row, all its fields and separators together
     * @param maxRows the most rows (CSV rows or Avro records) in one read, over all files of a directory
     */
    public record Limits(int maxFieldChars, int maxLineChars, long maxRows) {
        /**
         * Fields of 64 Ki characters, rows of 16 Mi characters (a million features or so), 20
         * million rows: far beyond any task id, number or data set this trains on in one process,
         * and within a heap of a few GiB.
         */
        public static final Limits DEFAULT = new Limits(64 * 1024, 16 * 1024 * 1024, 20_000_000L);

        /** @throws IllegalArgumentException if a limit is not positive */
        public Limits {
            if (maxFieldChars < 1 || maxLineChars < 1 || maxRows < 1) {
                throw new IllegalArgumentException("limits must be positive: " + maxFieldChars + ", " + maxLineChars
                        + ", " + maxRows);
            }
        }
    }

    /**
     * One labelled row. The features are copied in and out, so a row cannot be changed.
     *
     * @param eventTimeMs epoch milliseconds, or {@link #NO_TIME}
     */
    public record Row(String taskId, float[] features, float target, long eventTimeMs) {
        /** @throws IllegalArgumentException for an empty task id or a value that is not finite */
        public Row {
            Objects.requireNonNull(taskId, "taskId");
            if (taskId.isEmpty()) {
                throw new IllegalArgumentException("empty task id");
            }
            features = features.clone();
            for (int i = 0; i < features.length; i++) {
                if (!Float.isFinite(features[i])) {
                    throw new IllegalArgumentException("feature " + i + " of task " + taskId + " is " + features[i]);
                }
            }
            if (!Float.isFinite(target)) {
                throw new IllegalArgumentException("target of task " + taskId + " is " + target);
            }
        }

        /** A row without an event time. */
        public Row(String taskId, float[] features, float target) {
            this(taskId, features, target, NO_TIME);
        }

        @Override
        public float[] features() {
            return features.clone();
        }

        public boolean hasEventTime() {
            return eventTimeMs != NO_TIME;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Row r && taskId.equals(r.taskId) && Arrays.equals(features, r.features)
                    && Float.compare(target, r.target) == 0 && eventTimeMs == r.eventTimeMs;
        }

        @Override
        public int hashCode() {
            return Objects.hash(taskId, Arrays.hashCode(features), target, eventTimeMs);
        }

        @Override
        public String toString() {
            return "Row[" + taskId + ", " + Arrays.toString(features) + " -> " + target
                    + (hasEventTime() ? " @" + eventTimeMs : "") + "]";
        }
    }

    /** One task's rows, in time order. */
    public static final class Task {
        private final String id;
        private final List<Row> rows;

        private Task(String id, List<Row> rows) {
            this.id = id;
            this.rows = List.copyOf(rows);
        }

        public String id() {
            return id;
        }

        /** The rows, earliest first; unmodifiable. */
        public List<Row> rows() {
            return rows;
        }

        public int size() {
            return rows.size();
        }

        /** Rows {@code from} (inclusive) to {@code to} (exclusive) as a support or query set of copies. */
        public SampleSet support(int from, int to) {
            return TaskRecords.support(rows.subList(from, to));
        }

        @Override
        public String toString() {
            return "Task[" + id + ", " + rows.size() + " rows]";
        }
    }

    /** A split by task: no task has rows on both sides. */
    public record Split(TaskRecords train, TaskRecords test) {
    }

    private final String source;
    private final List<Task> tasks;
    private final int inputDim;
    private final int rowCount;
    private final boolean timed;
    private volatile String fingerprint;

    private TaskRecords(String source, List<Task> tasks) {
        this.source = source;
        this.tasks = List.copyOf(tasks);
        Row first = this.tasks.get(0).rows().get(0);
        this.inputDim = first.features.length;
        this.timed = first.hasEventTime();
        this.rowCount = this.tasks.stream().mapToInt(Task::size).sum();
    }

    /**
     * Rows given in memory, e.g. read from a topic by the caller.
     *
     * @throws IllegalArgumentException if there are no rows, rows differ in width or have no
     *     features, or some rows have an event time and others not
     */
    public static TaskRecords of(List<Row> rows) {
        return of(rows, "rows");
    }

    /** As {@link #of(List)}, with {@code source} naming the data in {@link #source()}. */
    public static TaskRecords of(List<Row> rows, String source) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("no rows");
        }
        Row first = rows.get(0);
        if (first.features.length == 0) {
            throw new IllegalArgumentException("rows have no features");
        }
        for (int i = 1; i < rows.size(); i++) {
            Row r = rows.get(i);
            if (r.features.length != first.features.length) {
                throw new IllegalArgumentException("row " + i + " (task " + r.taskId() + ") has " + r.features.length
                        + " features, row 0 has " + first.features.length);
            }
            if (r.hasEventTime() != first.hasEventTime()) {
                throw new IllegalArgumentException("row " + i + " (task " + r.taskId() + ") "
                        + (r.hasEventTime() ? "has" : "has no") + " event time, row 0 "
                        + (first.hasEventTime() ? "has" : "has none"));
            }
        }
        return grouped(source, rows);
    }

    private static TaskRecords grouped(String source, List<Row> rows) {
        Map<String, List<Row>> byTask = new LinkedHashMap<>();
        for (Row r : rows) {
            byTask.computeIfAbsent(r.taskId(), id -> new ArrayList<>()).add(r);
        }
        List<Task> tasks = new ArrayList<>(byTask.size());
        for (Map.Entry<String, List<Row>> e : byTask.entrySet()) {
            List<Row> taskRows = e.getValue();
            taskRows.sort(Comparator.comparingLong(Row::eventTimeMs)); // List.sort is stable
            tasks.add(new Task(e.getKey(), taskRows));
        }
        return new TaskRecords(source, tasks);
    }

    /**
     * Writes {@code rows} as a CSV file that {@link #read} reads back exactly: columns task_id,
     * event_time (empty for rows without one), f0..fN, target.
     */
    public static Path writeCsv(Path file, List<Row> rows) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("no rows to write to " + file);
        }
        return CsvRecords.write(file, rows);
    }

    /**
     * Reads a {@code .csv} or {@code .avro} file, or every such file directly in a directory (in
     * name order; other files are ignored), which must agree in feature width and in whether rows
     * have an event time. A task's rows may be spread over several files.
     *
     * @throws MalformedRecordsException naming the file (and line or record) at fault, also for a
     *     read beyond {@link Limits#DEFAULT}
     * @throws IllegalArgumentException if the path does not exist or is a file of another kind
     * @throws UncheckedIOException if a file cannot be read
     */
    public static TaskRecords read(Path fileOrDir) {
        return read(fileOrDir, Limits.DEFAULT);
    }

    /** As {@link #read(Path)}, within {@code limits}. */
    public static TaskRecords read(Path fileOrDir, Limits limits) {
        Objects.requireNonNull(limits, "limits");
        if (Files.isDirectory(fileOrDir)) {
            return readDirectory(fileOrDir, limits);
        }
        if (!Files.isRegularFile(fileOrDir)) {
            throw new IllegalArgumentException("no such file or directory: " + fileOrDir);
        }
        Parsed p = parse(fileOrDir, limits, limits.maxRows());
        if (p.rows().isEmpty()) {
            throw new MalformedRecordsException(fileOrDir, 0, "no rows");
        }
        return grouped(String.valueOf(fileOrDir.getFileName()), p.rows());
    }

    private static TaskRecords readDirectory(Path dir, Limits limits) {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(f -> Files.isRegularFile(f) && format(f) != null).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        if (files.isEmpty()) {
            throw new MalformedRecordsException(dir, 0, "no .csv or .avro files");
        }
        List<Row> rows = new ArrayList<>();
        Parsed reference = null;
        Path referenceFile = null;
        for (Path f : files) {
            Parsed p = parse(f, limits, limits.maxRows() - rows.size());
            if (p.rows().isEmpty()) {
                continue;
            }
            if (reference == null) {
                reference = p;
                referenceFile = f;
            } else if (p.width() != reference.width()) {
                throw new MalformedRecordsException(f, 0, p.width() + " features, but "
                        + referenceFile.getFileName() + " has " + reference.width());
            } else if (p.timed() != reference.timed()) {
                throw new MalformedRecordsException(f, 0, (p.timed() ? "rows have" : "rows have no")
                        + " event time, but in " + referenceFile.getFileName() + " they "
                        + (reference.timed() ? "have" : "have none"));
            }
            rows.addAll(p.rows());
        }
        if (rows.isEmpty()) {
            throw new MalformedRecordsException(dir, 0, "no rows in " + files.size() + " files");
        }
        return grouped(dir.getFileName() + "/ (" + files.size() + " files)", rows);
    }

    /** A file's rows, all of one width and all timed or none. */
    record Parsed(List<Row> rows, int width, boolean timed) {
    }

    private static Parsed parse(Path file, Limits limits, long maxRows) {
        String format = format(file);
        if (format == null) {
            throw new IllegalArgumentException(file + " is neither .csv nor .avro");
        }
        return format.equals("csv") ? CsvRecords.parse(file, limits, maxRows)
                : AvroRecords.parse(file, limits, maxRows);
    }

    private static String format(Path file) {
        String name = String.valueOf(file.getFileName()).toLowerCase(Locale.ROOT);
        return name.endsWith(".csv") ? "csv" : name.endsWith(".avro") ? "avro" : null;
    }

    /** The tasks, in order of first appearance. */
    public List<Task> tasks() {
        return tasks;
    }

    public int taskCount() {
        return tasks.size();
    }

    /** The number of features of every row. */
    public int inputDim() {
        return inputDim;
    }

    public int rowCount() {
        return rowCount;
    }

    /** Whether the rows carry event times (all do, or none). */
    public boolean timed() {
        return timed;
    }

    /** Whether every target is 0 or 1, so the data suit a logistic loss. */
    public boolean binaryTargets() {
        for (Task t : tasks) {
            for (Row r : t.rows) {
                if (r.target() != 0f && r.target() != 1f) {
                    return false;
                }
            }
        }
        return true;
    }

    /** What the rows came from: a file name, a directory, {@code rows}, or a split of one of these. */
    public String source() {
        return source;
    }

    /**
     * The first 16 hex digits of a SHA-256 over every task id, feature, target and event time in
     * order: the same data read from CSV or Avro has the same fingerprint.
     */
    public String fingerprint() {
        String f = fingerprint;
        if (f == null) {
            f = digest();
            fingerprint = f;
        }
        return f;
    }

    private String digest() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        ByteBuffer buf = ByteBuffer.allocate(4 * inputDim + 12);
        for (Task t : tasks) {
            sha.update(t.id.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            for (Row r : t.rows) {
                buf.clear();
                for (float v : r.features) {
                    buf.putFloat(v);
                }
                buf.putFloat(r.target).putLong(r.eventTimeMs);
                sha.update(buf.array(), 0, buf.position());
            }
        }
        return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    }

    /**
     * Splits by task: {@code round(testFraction * tasks)} tasks (at least one, and at least one
     * left to train on) go to the test side, chosen by a shuffle seeded with {@code seed} of the
     * task ids in sorted order, so the split depends on the seed and the set of tasks, not on the
     * order of the rows. Both sides keep this data set's task order.
     *
     * @throws IllegalArgumentException if {@code testFraction} is not in (0, 1) or there are fewer
     *     than two tasks
     */
    public Split split(double testFraction, long seed) {
        if (!(testFraction > 0 && testFraction < 1)) {
            throw new IllegalArgumentException("testFraction must be in (0, 1), got " + testFraction);
        }
        if (tasks.size() < 2) {
            throw new IllegalArgumentException("cannot split " + tasks.size() + " task by task");
        }
        List<String> ids = new ArrayList<>(tasks.stream().map(Task::id).sorted().toList());
        Collections.shuffle(ids, new Random(seed));
        int n = (int) Math.max(1, Math.min(ids.size() - 1, Math.round(testFraction * ids.size())));
        Set<String> test = new HashSet<>(ids.subList(0, n));
        List<Task> trainTasks = new ArrayList<>();
        List<Task> testTasks = new ArrayList<>();
        for (Task t : tasks) {
            (test.contains(t.id) ? testTasks : trainTasks).add(t);
        }
        String how = String.format(Locale.ROOT, "split(test=%s,seed=%d)", testFraction, seed);
        return new Split(new TaskRecords(source + " " + how + ":train", trainTasks),
                new TaskRecords(source + " " + how + ":test", testTasks));
    }

    static SampleSet support(List<Row> rows) {
        float[][] x = new float[rows.size()][];
        float[] y = new float[rows.size()];
        for (int i = 0; i < x.length; i++) {
            Row r = rows.get(i);
            x[i] = r.features.clone();
            y[i] = r.target;
        }
        return new SampleSet(x, y);
    }

    @Override
    public String toString() {
        return "TaskRecords[" + source + ", " + tasks.size() + " tasks, " + rowCount + " rows, " + inputDim
                + " features]";
    }
}

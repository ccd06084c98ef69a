package io.metastream.learn.records;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The CSV form of {@link TaskRecords}: a header, then one row a line. */
final class CsvRecords {
    static final String TASK_ID = "task_id";
    static final String TARGET = "target";
    static final String EVENT_TIME = "event_time";

    private CsvRecords() {
    }

    /** Writes {@code rows} in the layout {@link #parse} reads: task_id, event_time, f0..fN, target. */
    static Path write(Path file, java.util.List<TaskRecords.Row> rows) {
        int dim = rows.get(0).features().length;
        StringBuilder s = new StringBuilder(TASK_ID + "," + EVENT_TIME);
        for (int d = 0; d < dim; d++) {
            s.append(",f").append(d);
        }
        s.append(',').append(TARGET).append('\n');
        for (TaskRecords.Row row : rows) {
            s.append(row.taskId()).append(',').append(row.hasEventTime() ? String.valueOf(row.eventTimeMs()) : "");
            for (float v : row.features()) {
                s.append(',').append(v); // Float.toString round-trips exactly
            }
            s.append(',').append(row.target()).append('\n');
        }
        try {
            return java.nio.file.Files.writeString(file, s);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static TaskRecords.Parsed parse(Path file) {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return parse(file, in);
        } catch (java.nio.charset.MalformedInputException e) {
            throw new MalformedRecordsException(file, 0, "not UTF-8 text", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static TaskRecords.Parsed parse(Path file, BufferedReader in) throws IOException {
        String line;
        int number = 0;
        String[] header = null;
        while (header == null && (line = in.readLine()) != null) {
            number++;
            if (number == 1 && line.startsWith("\uFEFF")) {
                line = line.substring(1); // a byte-order mark, as spreadsheet exports write
            }
            if (!line.isBlank()) {
                header = header(file, number, line);
            }
        }
        if (header == null) {
            throw new MalformedRecordsException(file, 0, "empty file: no header line");
        }
        Map<String, Integer> index = new HashMap<>();
        for (int c = 0; c < header.length; c++) {
            if (index.put(header[c], c) != null) {
                throw new MalformedRecordsException(file, number, "column '" + header[c] + "' appears twice");
            }
        }
        for (String required : List.of(TASK_ID, TARGET)) {
            if (!index.containsKey(required)) {
                throw new MalformedRecordsException(file, number, "no '" + required + "' column (header: "
                        + String.join(",", header) + ")");
            }
        }
        int taskCol = index.get(TASK_ID);
        int targetCol = index.get(TARGET);
        int timeCol = index.getOrDefault(EVENT_TIME, -1);
        int[] featureCols = new int[header.length - (timeCol >= 0 ? 3 : 2)];
        int f = 0;
        for (int c = 0; c < header.length; c++) {
            if (c != taskCol && c != targetCol && c != timeCol) {
                featureCols[f++] = c;
            }
        }
        if (featureCols.length == 0) {
            throw new MalformedRecordsException(file, number, "no feature columns besides " + TASK_ID + ", "
                    + TARGET + (timeCol >= 0 ? ", " + EVENT_TIME : ""));
        }
        List<TaskRecords.Row> rows = new ArrayList<>();
        while ((line = in.readLine()) != null) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            Line l = new Line(file, number, header);
            String[] cells = l.cells(line);
            String task = cells[taskCol].trim();
            if (task.isEmpty()) {
                throw l.error(taskCol, "empty task id");
            }
            float[] x = new float[featureCols.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = l.number(featureCols[i], cells[featureCols[i]]);
            }
            float y = l.number(targetCol, cells[targetCol]);
            long time = timeCol >= 0 ? l.time(timeCol, cells[timeCol]) : TaskRecords.NO_TIME;
            rows.add(new TaskRecords.Row(task, x, y, time));
        }
        return new TaskRecords.Parsed(rows, featureCols.length, timeCol >= 0);
    }

    private static String[] header(Path file, int number, String line) {
        if (line.indexOf('"') >= 0) {
            throw new MalformedRecordsException(file, number, "quoted fields are not supported");
        }
        String[] names = line.split(",", -1);
        for (int c = 0; c < names.length; c++) {
            names[c] = names[c].trim();
            if (names[c].isEmpty()) {
                throw new MalformedRecordsException(file, number, "column " + (c + 1) + " has no name");
            }
        }
        return names;
    }

    /** A data line, for errors that say where: file, line, 1-based column and its name. */
    private record Line(Path file, int number, String[] header) {
        String[] cells(String text) {
            int quote = text.indexOf('"');
            if (quote >= 0) {
                throw new MalformedRecordsException(file, number, "quoted fields are not supported (a '\"' at "
                        + "character " + (quote + 1) + ")");
            }
            String[] cells = text.split(",", -1);
            if (cells.length != header.length) {
                throw new MalformedRecordsException(file, number, cells.length + " columns, but the header has "
                        + header.length);
            }
            return cells;
        }

        float number(int column, String cell) {
            String s = cell.trim();
            float v;
            try {
                v = Float.parseFloat(s);
            } catch (NumberFormatException e) {
                throw error(column, (s.isEmpty() ? "empty" : "'" + s + "' is not a number")
                        + (s.indexOf(';') >= 0 ? " (features go one a column, not ';'-separated in one)" : ""));
            }
            if (!Float.isFinite(v)) {
                throw error(column, "'" + s + "' is not a finite number");
            }
            return v;
        }

        long time(int column, String cell) {
            String s = cell.trim();
            try {
                return s.matches("-?\\d+") ? Long.parseLong(s) : Instant.parse(s).toEpochMilli();
            } catch (NumberFormatException | DateTimeParseException | ArithmeticException e) {
                throw error(column, "'" + s + "' is neither epoch milliseconds nor an ISO-8601 instant");
            }
        }

        MalformedRecordsException error(int column, String what) {
            return new MalformedRecordsException(file, number, "column " + (column + 1) + " (" + header[column]
                    + "): " + what);
        }
    }
}

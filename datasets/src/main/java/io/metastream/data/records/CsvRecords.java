package io.metastream.data.records;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.dataformat.csv.CsvFactory;
import com.fasterxml.jackson.dataformat.csv.CsvGenerator;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The CSV form of {@link TaskRecords}: a header, then one row a record, as RFC 4180 has it (fields
 * with a comma, a quote or a line break are quoted, a quote inside doubled). Read and written with
 * Jackson's CSV module, so whatever this class writes (a task id with a comma, say) it reads back.
 * Reading is bounded by {@link TaskRecords.Limits}: Jackson refuses a field over the limit before
 * it has buffered more, and each row is checked for its length and count as it is read.
 */
final class CsvRecords {
    static final String TASK_ID = "task_id";
    static final String TARGET = "target";
    static final String EVENT_TIME = "event_time";

    private CsvRecords() {
    }

    private static CsvFactory factory(int maxFieldChars) {
        return CsvFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(maxFieldChars).build())
                // Spaces around an unquoted field are dropped, as this reader always did; inside quotes they stay.
                .enable(CsvParser.Feature.TRIM_SPACES)
                .enable(CsvParser.Feature.SKIP_EMPTY_LINES)
                .build();
    }

    /** Writes {@code rows} in the layout {@link #parse} reads: task_id, event_time, f0..fN, target. */
    static Path write(Path file, List<TaskRecords.Row> rows) {
        int dim = rows.get(0).features().length;
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
                CsvGenerator csv = factory(StreamReadConstraints.DEFAULT_MAX_STRING_LEN)
                        .createGenerator(out)) {
            csv.setSchema(CsvSchema.emptySchema());
            csv.writeStartArray();
            csv.writeString(TASK_ID);
            csv.writeString(EVENT_TIME);
            for (int d = 0; d < dim; d++) {
                csv.writeString("f" + d);
            }
            csv.writeString(TARGET);
            csv.writeEndArray();
            for (TaskRecords.Row row : rows) {
                csv.writeStartArray();
                csv.writeString(row.taskId()); // quoted by the generator where it must be
                csv.writeString(row.hasEventTime() ? String.valueOf(row.eventTimeMs()) : "");
                for (float v : row.features()) {
                    csv.writeString(Float.toString(v)); // Float.toString round-trips exactly
                }
                csv.writeString(Float.toString(row.target()));
                csv.writeEndArray();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return file;
    }

    /**
     * @param maxRows rows this file may still add to what has been read (a directory's earlier files
     *     count against the same limit)
     */
    static TaskRecords.Parsed parse(Path file, TaskRecords.Limits limits, long maxRows) {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            in.mark(1);
            if (in.read() != '\uFEFF') { // a byte-order mark, as spreadsheet exports write, is skipped
                in.reset();
            }
            try (CsvParser csv = factory(limits.maxFieldChars()).createParser(in)) {
                csv.setSchema(CsvSchema.emptySchema());
                return new Reading(file, csv, limits, maxRows).parse();
            }
        } catch (MalformedInputException e) {
            throw new MalformedRecordsException(file, 0, "not UTF-8 text", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** One pass over one file's rows. */
    private static final class Reading {
        private final Path file;
        private final CsvParser csv;
        private final TaskRecords.Limits limits;
        private final long maxRows;
        /** The physical line (1-based) on which the row being read starts. */
        private int line;

        Reading(Path file, CsvParser csv, TaskRecords.Limits limits, long maxRows) {
            this.file = file;
            this.csv = csv;
            this.limits = limits;
            this.maxRows = maxRows;
        }

        TaskRecords.Parsed parse() throws IOException {
            String[] header = null;
            while (header == null) {
                List<String> cells = nextRow(Integer.MAX_VALUE);
                if (cells == null) {
                    throw new MalformedRecordsException(file, 0, "empty file: no header line");
                }
                if (!blank(cells)) {
                    header = header(cells);
                }
            }
            int headerLine = line;
            Map<String, Integer> index = new HashMap<>();
            for (int c = 0; c < header.length; c++) {
                if (index.put(header[c], c) != null) {
                    throw new MalformedRecordsException(file, headerLine, "column '" + header[c] + "' appears twice");
                }
            }
            for (String required : List.of(TASK_ID, TARGET)) {
                if (!index.containsKey(required)) {
                    throw new MalformedRecordsException(file, headerLine, "no '" + required + "' column (header: "
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
                throw new MalformedRecordsException(file, headerLine, "no feature columns besides " + TASK_ID + ", "
                        + TARGET + (timeCol >= 0 ? ", " + EVENT_TIME : ""));
            }
            List<TaskRecords.Row> rows = new ArrayList<>();
            Boolean timed = null;
            int firstTimeLine = 0;
            List<String> cells;
            while ((cells = nextRow(header.length)) != null) {
                if (blank(cells)) {
                    continue;
                }
                Line l = new Line(file, line, header);
                if (cells.size() != header.length) {
                    throw new MalformedRecordsException(file, line, cells.size() + " columns, but the header has "
                            + header.length);
                }
                if (rows.size() >= maxRows) {
                    throw new MalformedRecordsException(file, line, "more than " + limits.maxRows()
                            + " rows, the most one read may hold");
                }
                String task = cells.get(taskCol);
                if (task.isEmpty()) {
                    throw l.error(taskCol, "empty task id");
                }
                float[] x = new float[featureCols.length];
                for (int i = 0; i < x.length; i++) {
                    x[i] = l.number(featureCols[i], cells.get(featureCols[i]));
                }
                float y = l.number(targetCol, cells.get(targetCol));
                long time = TaskRecords.NO_TIME;
                if (timeCol >= 0) {
                    // An empty cell is a row without a time, as write() puts it; a file has all or none.
                    boolean has = !cells.get(timeCol).isEmpty();
                    if (timed == null) {
                        timed = has;
                        firstTimeLine = line;
                    } else if (timed != has) {
                        throw l.error(timeCol, (has ? "an event time, but line " : "no event time, but line ")
                                + firstTimeLine + (timed ? " has one" : " has none") + " (all rows or none)");
                    }
                    if (has) {
                        time = l.time(timeCol, cells.get(timeCol));
                    }
                }
                rows.add(new TaskRecords.Row(task, x, y, time));
            }
            return new TaskRecords.Parsed(rows, featureCols.length, Boolean.TRUE.equals(timed));
        }

        /**
         * The next row's fields, or null at the end of the file; refuses a row longer than the limit
         * or with more than {@code maxCells} fields as soon as it gets there.
         */
        private List<String> nextRow(int maxCells) throws IOException {
            try {
                JsonToken t = csv.nextToken();
                while (t != null && t != JsonToken.START_ARRAY) {
                    t = csv.nextToken();
                }
                if (t == null) {
                    return null;
                }
                List<String> cells = new ArrayList<>();
                long start = -1;
                while ((t = csv.nextToken()) == JsonToken.VALUE_STRING) {
                    if (start < 0) {
                        JsonLocation at = csv.currentTokenLocation();
                        start = at.getCharOffset();
                        line = at.getLineNr();
                    }
                    if (csv.currentLocation().getCharOffset() - start > limits.maxLineChars()) {
                        throw new MalformedRecordsException(file, line, "row longer than " + limits.maxLineChars()
                                + " characters, the most a row may have");
                    }
                    if (cells.size() >= maxCells) {
                        throw new MalformedRecordsException(file, line, "more than " + maxCells
                                + " columns, but the header has " + maxCells);
                    }
                    cells.add(csv.getText());
                }
                return cells;
            } catch (JsonProcessingException e) {
                // A field over the limit (Jackson stops reading it there), a quote left open, text after
                // a closing quote: named with the line the parser stopped on.
                JsonLocation at = e.getLocation() != null ? e.getLocation() : csv.currentLocation();
                String what = e instanceof StreamConstraintsException
                        ? "a field longer than " + limits.maxFieldChars() + " characters, the most a field may have"
                        : "not CSV: " + e.getOriginalMessage();
                throw new MalformedRecordsException(file, Math.max(at.getLineNr(), line), what, e);
            }
        }

        private static boolean blank(List<String> cells) {
            return cells.size() == 1 && cells.get(0).isEmpty();
        }

        private String[] header(List<String> cells) {
            String[] names = cells.toArray(new String[0]);
            for (int c = 0; c < names.length; c++) {
                if (names[c].isEmpty()) {
                    throw new MalformedRecordsException(file, line, "column " + (c + 1) + " has no name");
                }
            }
            return names;
        }
    }

    /** A data line, for errors that say where: file, line, 1-based column and its name. */
    private record Line(Path file, int number, String[] header) {
        float number(int column, String s) {
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

        long time(int column, String s) {
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

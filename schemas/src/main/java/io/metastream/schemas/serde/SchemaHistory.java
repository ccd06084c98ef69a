package io.metastream.schemas.serde;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;

/**
 * Every schema a record type has ever been written with, read from the class path at
 * {@code io/metastream/schemas/history/<RecordName>/v1.avsc, v2.avsc, ...}. Decoders register
 * them all so that bytes written by an older producer still decode (resolved to the current
 * schema). Adding a field means adding the next {@code vN.avsc}; {@code SchemaHistoryTest}
 * fails when the newest history entry and the generated class disagree.
 */
public final class SchemaHistory {
    private static final String ROOT = "io/metastream/schemas/history/";

    private SchemaHistory() {
    }

    /**
     * @return the historical schemas of {@code recordName}, oldest first; empty if none is kept
     * @throws UncheckedIOException if a history file exists but cannot be read
     */
    public static List<Schema> of(String recordName) {
        List<Schema> schemas = new ArrayList<>();
        ClassLoader loader = SchemaHistory.class.getClassLoader();
        for (int v = 1; ; v++) {
            String path = ROOT + recordName + "/v" + v + ".avsc";
            try (InputStream in = loader.getResourceAsStream(path)) {
                if (in == null) {
                    return schemas;
                }
                schemas.add(new Schema.Parser().parse(in));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read schema history file " + path, e);
            }
        }
    }
}

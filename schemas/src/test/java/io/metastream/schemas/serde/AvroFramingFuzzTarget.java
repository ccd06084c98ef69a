package io.metastream.schemas.serde;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.DecoderFactory;

/**
 * The framing check's promise, for writer schemas a registry may serve (maps, unions, enums,
 * fixed, nested and recursive records): bytes it lets through never make Avro's own reader
 * throw an Error; what it refuses it refuses with a {@link RecordDecodeException}.
 */
class AvroFramingFuzzTarget {
    private static final List<Schema> WRITERS = List.of(
            new Schema.Parser().parse("""
                    {"type":"record","name":"Wide","fields":[
                      {"name":"s","type":"string"},{"name":"b","type":"bytes"},
                      {"name":"m","type":{"type":"map","values":{"type":"array","items":"float"}}},
                      {"name":"u","type":["null","long","string",{"type":"fixed","name":"F","size":3}]},
                      {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
                      {"name":"n","type":{"type":"array","items":"null"}},
                      {"name":"d","type":"double"},{"name":"t","type":"boolean"}]}"""),
            new Schema.Parser().parse("""
                    {"type":"record","name":"Node","fields":[
                      {"name":"v","type":"int"},{"name":"next","type":["null","Node"]},
                      {"name":"kids","type":{"type":"array","items":"Node"}}]}"""));

    @FuzzTest(maxDuration = "15s")
    void framingThenAvro(FuzzedDataProvider data) {
        Schema writer = WRITERS.get(data.consumeInt(0, WRITERS.size() - 1));
        byte[] body = data.consumeRemainingAsBytes();
        try {
            AvroFraming.check(writer, body, 0, body.length);
        } catch (RecordDecodeException refused) {
            return;
        }
        try {
            new GenericDatumReader<Object>(writer).read(null, DecoderFactory.get().binaryDecoder(body, null));
        } catch (IOException | RuntimeException malformedInOtherWays) {
            // e.g. invalid UTF-8 is Avro's to refuse; only an Error would be a finding
        }
    }
}

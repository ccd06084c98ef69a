package io.metastream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.state.PendingQuery;
import java.time.Instant;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

/**
 * {@code after_samples} (PredictionRequest v2, PendingQuery v2) next to the records written before
 * it: a query an older producer wrote, and a query an older instance left waiting in its store,
 * decode with the count null (the timestamp rule alone); a new query resolves against the older
 * reader schema, which drops the count. The golden file's bytes were checked against the Avro
 * specification by an independent encoder (Python: body by hand, CRC-64-AVRO fingerprint of the
 * v1 parsing canonical form).
 */
class ReadYourWritesEvolutionTest {
    private static final Instant TIME = Instant.ofEpochMilli(1_700_000_000_123L);

    @Test
    void shouldDecodeAQueryWrittenBeforeTheCountWithoutOne() {
        Schema v1 = SchemaHistory.of("PredictionRequest").get(0);
        assertThat(v1.getField("after_samples")).isNull();
        GenericRecord old = new GenericData.Record(v1);
        old.put("query_id", "q-1");
        old.put("task_id", "t-7");
        old.put("features", List.of(0.5f));
        old.put("event_time", TIME.toEpochMilli());
        byte[] bytes = EvolutionBytes.singleObject(v1, old);
        assertThat(bytes).as("the v1 history file still writes what v1 producers wrote")
                .isEqualTo(EvolutionBytes.golden("prediction-request-v1.bin"));

        PredictionRequest decoded = AvroCodec.of(PredictionRequest.class)
                .decode(EvolutionBytes.golden("prediction-request-v1.bin"));
        assertThat(decoded.getAfterSamples()).isNull();
        assertThat(decoded.getQueryId()).isEqualTo("q-1");
        assertThat(decoded.getEventTime()).isEqualTo(TIME);
    }

    @Test
    void shouldReadAQueryLeftWaitingByAnOlderInstanceWithoutACount() {
        Schema v1 = SchemaHistory.of("PendingQuery").get(0);
        GenericRecord old = new GenericData.Record(v1);
        old.put("query_id", "q-1");
        old.put("task_id", "t-7");
        old.put("features", List.of(0.5f));
        old.put("received_timestamp", TIME.toEpochMilli());
        old.put("arrived_at", TIME.toEpochMilli() + 3);
        PendingQuery decoded = AvroCodec.of(PendingQuery.class).decode(EvolutionBytes.singleObject(v1, old));
        assertThat(decoded.getAfterSamples()).isNull();
        assertThat(decoded.getArrivedAt()).isEqualTo(TIME.plusMillis(3));
    }

    @Test
    void shouldKeepTheCountAndLetAnOlderReaderDropIt() {
        PredictionRequest q = PredictionRequest.newBuilder().setQueryId("q-2").setTaskId("t-7")
                .setFeatures(List.of(1f)).setEventTime(TIME).setAfterSamples(12L).build();
        AvroCodec<PredictionRequest> codec = AvroCodec.of(PredictionRequest.class);
        assertThat(codec.decode(codec.encode(q)).getAfterSamples()).isEqualTo(12L);
        GenericRecord asV1 = EvolutionBytes.resolve(q, SchemaHistory.of("PredictionRequest").get(0));
        assertThat(asV1.get("query_id").toString()).isEqualTo("q-2");
        assertThat(asV1.getSchema().getField("after_samples")).isNull();

        PendingQuery p = PendingQuery.newBuilder().setQueryId("q-2").setTaskId("t-7").setFeatures(List.of(1f))
                .setReceivedTimestamp(TIME).setArrivedAt(TIME).setAfterSamples(12L).build();
        AvroCodec<PendingQuery> pending = AvroCodec.of(PendingQuery.class);
        assertThat(pending.decode(pending.encode(p)).getAfterSamples()).isEqualTo(12L);
    }
}

package io.metastream.schemas.serde;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.SupportSet;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.specific.SpecificData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Golden check: the newest schema in each record's history is the schema the code writes. A
 * schema change without a new history entry would make today's bytes undecodable by tomorrow's
 * history-driven decoders, so it fails here first.
 */
class SchemaHistoryTest {
    @ParameterizedTest
    @ValueSource(classes = {LabelledSample.class, PredictionRequest.class, Prediction.class,
            AdaptationEvent.class, DeadLetter.class, SupportSet.class, AdaptedTask.class,
            io.metastream.schemas.state.PendingQuery.class, io.metastream.schemas.ModelChange.class,
            io.metastream.schemas.ModelSwapEvent.class, io.metastream.schemas.ArtifactChunk.class})
    void shouldKeepCurrentSchemaAsNewestHistoryEntry(Class<?> type) {
        Schema current = SpecificData.get().getSchema(type);
        List<Schema> history = SchemaHistory.of(current.getName());
        assertThat(history).as("history of %s", current.getName()).isNotEmpty();
        Schema newest = history.get(history.size() - 1);
        assertThat(SchemaNormalization.parsingFingerprint64(newest))
                .as("newest history entry of %s matches the generated class", current.getName())
                .isEqualTo(SchemaNormalization.parsingFingerprint64(current));
    }
}

package io.metastream.schemas.serde;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.PredictionRequest;

/**
 * Any bytes on samples, queries or the models topic: the decoder refuses them with a
 * {@link RecordDecodeException} or returns a record, and nothing else; any other throwable (an
 * {@code OutOfMemoryError} from a length it believed, say) is a finding.
 */
class SingleObjectFuzzTarget {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    private static final AvroCodec<ModelChange> CHANGES = AvroCodec.of(ModelChange.class);

    @FuzzTest(maxDuration = "15s")
    void decodeAnyBytes(byte[] bytes) {
        for (AvroCodec<?> codec : new AvroCodec<?>[] {SAMPLES, QUERIES, CHANGES}) {
            try {
                codec.decode(bytes);
            } catch (RecordDecodeException refused) {
                // the only way to say no
            }
        }
    }
}

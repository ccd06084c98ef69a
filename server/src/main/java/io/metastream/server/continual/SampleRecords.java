package io.metastream.server.continual;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.RecordDecodeException;
import io.metastream.streams.RejectReason;
import io.metastream.streams.internals.InputChecks;

/**
 * A record of the samples topic as training data: it is used only if the pipeline would have put
 * it in a support set, by the pipeline's own checks ({@link InputChecks}): at most
 * {@code input.max.record.bytes}, a decodable {@code LabelledSample}, a task id equal to the key,
 * the base's input size, finite features and target, and neither event time nor record timestamp
 * more than {@code input.max.future.ms} ahead. Everything else the pipeline dead-letters; a trainer
 * skips it and counts it.
 */
public final class SampleRecords {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);

    private SampleRecords() {
    }

    /** The sample, or why it is not training data. */
    public record Checked(LabelledSample sample, RejectReason refused, String detail) {
        public boolean accepted() {
            return refused == null;
        }

        static Checked refused(InputChecks.Rejection r) {
            return new Checked(null, r.reason(), r.detail());
        }
    }

    /**
     * @param inputDim the served base's input size, or 0 when the caller checks the size itself
     *     (reading data for a base that does not exist yet)
     */
    public static Checked check(byte[] key, byte[] value, long recordTimestampMs, int inputDim, int maxRecordBytes,
            long maxFutureMs, long nowMs) {
        InputChecks.Rejection tooBig = InputChecks.size(value, maxRecordBytes);
        if (tooBig != null) {
            return Checked.refused(tooBig);
        }
        LabelledSample s;
        try {
            s = SAMPLES.decode(value);
        } catch (RecordDecodeException e) {
            return new Checked(null, RejectReason.UNDECODABLE, e.getMessage());
        }
        int dim = inputDim > 0 ? inputDim : s.getFeatures().size();
        InputChecks.Rejection r = InputChecks.sample(s, true, key, dim, recordTimestampMs, maxFutureMs, nowMs);
        return r != null ? Checked.refused(r) : new Checked(s, null, null);
    }
}

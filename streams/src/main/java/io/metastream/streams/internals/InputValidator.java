package io.metastream.streams.internals;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.RecordDecodeException;
import io.metastream.streams.RejectReason;
import io.metastream.streams.TopologySettings;
import java.util.List;

/**
 * Decodes and checks raw input records. Sources read bytes, not records, so that every failure,
 * decoding included, is seen here with its offset and becomes a dead letter instead of a
 * stream-thread exception.
 */
public final class InputValidator {

    /** Either the decoded record or why it was refused. */
    record Outcome<T>(T record, RejectReason reason, String errorClass, String detail) {
        static <T> Outcome<T> accepted(T record) {
            return new Outcome<>(record, null, null, null);
        }

        static <T> Outcome<T> rejected(RejectReason reason, String errorClass, String detail) {
            return new Outcome<>(null, reason, errorClass, detail);
        }

        boolean isAccepted() {
            return reason == null;
        }
    }

    private InputValidator() {
    }

    /** @param classifies whether the base served classifies: its samples must carry a label */
    static Outcome<LabelledSample> sample(InputDecoder<LabelledSample> decoder, String topic, byte[] key, byte[] value,
            long timestampMs, int inputDim, boolean classifies, TopologySettings.Limits limits, long nowMs) {
        Outcome<LabelledSample> tooBig = checkSize(value, limits);
        if (tooBig != null) {
            return tooBig;
        }
        LabelledSample s;
        try {
            s = decoder.decode(topic, key, value, timestampMs);
        } catch (RecordDecodeException e) {
            return decodeFailure(e);
        }
        Outcome<LabelledSample> refused = rejected(InputChecks.sample(s, decoder.keyIsTaskId(), key, inputDim,
                timestampMs, limits.maxFutureMs(), nowMs));
        if (refused == null) {
            refused = rejected(InputChecks.label(s, classifies));
        }
        return refused != null ? refused : Outcome.accepted(s);
    }

    static Outcome<PredictionRequest> query(InputDecoder<PredictionRequest> decoder, String topic, byte[] key,
            byte[] value, long timestampMs, int inputDim, TopologySettings.Limits limits, long nowMs) {
        Outcome<PredictionRequest> tooBig = checkSize(value, limits);
        if (tooBig != null) {
            return tooBig;
        }
        PredictionRequest q;
        try {
            q = decoder.decode(topic, key, value, timestampMs);
        } catch (RecordDecodeException e) {
            return decodeFailure(e);
        }
        Outcome<PredictionRequest> common = check(decoder.keyIsTaskId(), key, q.getTaskId(), q.getFeatures(), inputDim,
                q.getEventTime().toEpochMilli(), timestampMs, limits, nowMs);
        if (common != null) {
            return common;
        }
        if (q.getAfterSamples() != null && q.getAfterSamples() < 0) {
            return Outcome.rejected(RejectReason.NEGATIVE_AFTER_SAMPLES, "InputValidator",
                    "after_samples is " + q.getAfterSamples() + "; a count of samples sent is 0 or more");
        }
        return Outcome.accepted(q);
    }

    private static <T> Outcome<T> decodeFailure(RecordDecodeException e) {
        RejectReason reason = switch (e.reason()) {
            case UNKNOWN_SCHEMA -> RejectReason.UNKNOWN_SCHEMA;
            case INCOMPATIBLE_SCHEMA -> RejectReason.INCOMPATIBLE_SCHEMA;
            case REGISTRY_ERROR -> RejectReason.REGISTRY_ERROR;
            default -> RejectReason.UNDECODABLE;
        };
        Throwable root = e.getCause() != null ? e.getCause() : e;
        return Outcome.rejected(reason, root.getClass().getName(), e.getMessage());
    }

    /** Checked before decoding, so an oversized record costs no parsing. */
    private static <T> Outcome<T> checkSize(byte[] value, TopologySettings.Limits limits) {
        return rejected(InputChecks.size(value, limits.maxRecordBytes()));
    }

    /** {@link InputChecks#common}, shared with the other readers of the samples topic. */
    private static <T> Outcome<T> check(boolean keyIsTaskId, byte[] key, String taskId, List<Float> features, int inputDim,
            long eventTimeMs, long recordTimestampMs, TopologySettings.Limits limits, long nowMs) {
        return rejected(InputChecks.common(keyIsTaskId, key, taskId, features, inputDim, eventTimeMs,
                recordTimestampMs, limits.maxFutureMs(), nowMs));
    }

    private static <T> Outcome<T> rejected(InputChecks.Rejection rejection) {
        return rejection == null ? null : Outcome.rejected(rejection.reason(), "InputValidator", rejection.detail());
    }
}

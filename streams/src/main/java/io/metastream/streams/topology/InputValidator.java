package io.metastream.streams.topology;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.RecordDecodeException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Decodes and checks raw input records. Sources read bytes, not records, so that every failure,
 * decoding included, is seen here with its offset and becomes a dead letter instead of a
 * stream-thread exception.
 */
final class InputValidator {

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

    static Outcome<LabelledSample> sample(InputDecoder<LabelledSample> decoder, String topic, byte[] key, byte[] value,
            long timestampMs, int inputDim, TopologySettings.Limits limits, long nowMs) {
        Outcome<LabelledSample> tooBig = checkSize(value, limits);
        if (tooBig != null) {
            return tooBig;
        }
        LabelledSample s;
        try {
            s = decoder.decode(topic, key, value, timestampMs);
        } catch (RecordDecodeException e) {
            return decodeFailure(e);
        } catch (StackOverflowError | OutOfMemoryError e) {
            // A decoder (the application's serde, say) that a record drives into an Error: that
            // record is poison, not the thread. Kept as a dead letter; the thread carries on.
            return Outcome.rejected(RejectReason.POISON, e.getClass().getName(), "decoding threw " + e);
        }
        Outcome<LabelledSample> common = check(decoder.keyIsTaskId(), key, s.getTaskId(), s.getFeatures(), inputDim,
                s.getEventTime().toEpochMilli(), limits, nowMs);
        if (common != null) {
            return common;
        }
        if (!Float.isFinite(s.getTarget())) {
            return Outcome.rejected(RejectReason.NON_FINITE, "InputValidator", "target is " + s.getTarget());
        }
        return Outcome.accepted(s);
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
        } catch (StackOverflowError | OutOfMemoryError e) {
            // A decoder (the application's serde, say) that a record drives into an Error: that
            // record is poison, not the thread. Kept as a dead letter; the thread carries on.
            return Outcome.rejected(RejectReason.POISON, e.getClass().getName(), "decoding threw " + e);
        }
        Outcome<PredictionRequest> common = check(decoder.keyIsTaskId(), key, q.getTaskId(), q.getFeatures(), inputDim,
                q.getEventTime().toEpochMilli(), limits, nowMs);
        return common != null ? common : Outcome.accepted(q);
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
        if (value != null && value.length > limits.maxRecordBytes()) {
            return Outcome.rejected(RejectReason.OVERSIZED, "InputValidator",
                    value.length + " bytes, more than input.max.record.bytes=" + limits.maxRecordBytes());
        }
        return null;
    }

    /**
     * @param keyIsTaskId whether the record key must equal the task id (not when the application's
     *     mapping defines the key)
     * @return a rejection, or null when the task id, key, features and time are acceptable
     */
    private static <T> Outcome<T> check(boolean keyIsTaskId, byte[] key, String taskId, List<Float> features, int inputDim,
            long eventTimeMs, TopologySettings.Limits limits, long nowMs) {
        if (taskId == null || taskId.isBlank()) {
            return Outcome.rejected(RejectReason.MISSING_TASK_ID, "InputValidator", "task_id is empty");
        }
        String keyText = key == null ? null : new String(key, StandardCharsets.UTF_8);
        if (keyIsTaskId && !taskId.equals(keyText)) {
            return Outcome.rejected(RejectReason.KEY_MISMATCH, "InputValidator",
                    "record key '" + keyText + "' differs from task_id '" + taskId + "'");
        }
        if (features.size() != inputDim) {
            return Outcome.rejected(RejectReason.WRONG_DIMENSION, "InputValidator",
                    "expected " + inputDim + " features, got " + features.size());
        }
        for (int i = 0; i < features.size(); i++) {
            if (!Float.isFinite(features.get(i))) {
                return Outcome.rejected(RejectReason.NON_FINITE, "InputValidator",
                        "feature " + i + " is " + features.get(i));
            }
        }
        if (eventTimeMs > nowMs + limits.maxFutureMs()) {
            return Outcome.rejected(RejectReason.FUTURE_TIMESTAMP, "InputValidator", "event time "
                    + java.time.Instant.ofEpochMilli(eventTimeMs) + " is more than input.max.future.ms="
                    + limits.maxFutureMs() + " ahead of " + java.time.Instant.ofEpochMilli(nowMs));
        }
        return null;
    }
}

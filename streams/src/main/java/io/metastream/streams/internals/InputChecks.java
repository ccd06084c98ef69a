package io.metastream.streams.internals;

import io.metastream.schemas.LabelledSample;
import io.metastream.streams.RejectReason;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

/**
 * The checks a decoded input record must pass before anything uses it: one place, so the pipeline
 * ({@link InputValidator}) and whatever else reads the samples topic (the continual meta-trainer)
 * refuse the same records for the same reasons. Pure functions of the record, the base's input size,
 * the limits and the wall clock.
 */
public final class InputChecks {
    /** Why a record is refused: the dead-letter reason and a line for a person. */
    public record Rejection(RejectReason reason, String detail) {
    }

    private InputChecks() {
    }

    /** Checked before decoding, so an oversized record costs no parsing; null when within the limit. */
    public static Rejection size(byte[] value, int maxRecordBytes) {
        if (value != null && value.length > maxRecordBytes) {
            return new Rejection(RejectReason.OVERSIZED,
                    value.length + " bytes, more than input.max.record.bytes=" + maxRecordBytes);
        }
        return null;
    }

    /**
     * A decoded sample: {@link #common} and a finite target.
     *
     * @return the rejection, or null when the sample may be used
     */
    /**
     * A sample's class label: at most {@link io.metastream.streams.TaskSample#MAX_LABEL_BYTES} long
     * whatever the base (the support set stores it), and present (not empty) for a base that
     * {@code classifies}.
     */
    public static Rejection label(LabelledSample s, boolean classifies) {
        String label = s.getLabel();
        if (label != null) {
            int bytes = label.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            if (bytes > io.metastream.streams.TaskSample.MAX_LABEL_BYTES) {
                return new Rejection(RejectReason.LABEL_TOO_LONG, "the label has " + bytes + " UTF-8 bytes, at most "
                        + io.metastream.streams.TaskSample.MAX_LABEL_BYTES);
            }
        }
        if (classifies && (label == null || label.isEmpty())) {
            return new Rejection(RejectReason.MISSING_LABEL, "the base served classifies: every sample needs a label, this one has none");
        }
        return null;
    }

    public static Rejection sample(LabelledSample s, boolean keyIsTaskId, byte[] key, int inputDim,
            long recordTimestampMs, long maxFutureMs, long nowMs) {
        Rejection common = common(keyIsTaskId, key, s.getTaskId(), s.getFeatures(), inputDim,
                s.getEventTime().toEpochMilli(), recordTimestampMs, maxFutureMs, nowMs);
        if (common != null) {
            return common;
        }
        if (!Float.isFinite(s.getTarget())) {
            return new Rejection(RejectReason.NON_FINITE, "target is " + s.getTarget());
        }
        return null;
    }

    /**
     * What samples and queries share: a task id, a key equal to it (when {@code keyIsTaskId}: an
     * application's mapping defines its own key), {@code inputDim} finite features, and neither the
     * event time nor the record timestamp more than {@code maxFutureMs} ahead of {@code nowMs}. The
     * record timestamp counts as much as the event time: it is what queries wait on (the samples
     * watermark), so a future-dated one would stop a partition's queries from waiting for the
     * samples produced before them.
     *
     * @return the rejection, or null when the record is acceptable
     */
    public static Rejection common(boolean keyIsTaskId, byte[] key, String taskId, List<Float> features,
            int inputDim, long eventTimeMs, long recordTimestampMs, long maxFutureMs, long nowMs) {
        if (taskId == null || taskId.isBlank()) {
            return new Rejection(RejectReason.MISSING_TASK_ID, "task_id is empty");
        }
        String keyText = key == null ? null : new String(key, StandardCharsets.UTF_8);
        if (keyIsTaskId && !taskId.equals(keyText)) {
            return new Rejection(RejectReason.KEY_MISMATCH,
                    "record key '" + keyText + "' differs from task_id '" + taskId + "'");
        }
        if (features.size() != inputDim) {
            return new Rejection(RejectReason.WRONG_DIMENSION,
                    "expected " + inputDim + " features, got " + features.size());
        }
        for (int i = 0; i < features.size(); i++) {
            if (!Float.isFinite(features.get(i))) {
                return new Rejection(RejectReason.NON_FINITE, "feature " + i + " is " + features.get(i));
            }
        }
        // Saturating: a limit near Long.MAX_VALUE must not wrap around and refuse everything.
        long latest = nowMs > Long.MAX_VALUE - maxFutureMs ? Long.MAX_VALUE : nowMs + maxFutureMs;
        if (eventTimeMs > latest) {
            return future("event time", eventTimeMs, maxFutureMs, nowMs);
        }
        if (recordTimestampMs > latest) {
            return future("record timestamp", recordTimestampMs, maxFutureMs, nowMs);
        }
        return null;
    }

    private static Rejection future(String which, long timeMs, long maxFutureMs, long nowMs) {
        return new Rejection(RejectReason.FUTURE_TIMESTAMP, which + " " + Instant.ofEpochMilli(timeMs)
                + " is more than input.max.future.ms=" + maxFutureMs + " ahead of " + Instant.ofEpochMilli(nowMs));
    }
}

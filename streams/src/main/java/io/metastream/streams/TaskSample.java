package io.metastream.streams;

import java.util.Arrays;
import java.util.Objects;

/**
 * One labelled example of a task, as a {@link SampleMapping} reads it from an application's own
 * record: what the support sets hold. Checked after mapping like every sample (feature count
 * against the base, finite values, event time).
 *
 * @param eventId unique per sample: a redelivered sample with the same id is kept once
 * @param eventTimeMs when it happened (epoch millis); the record timestamp is the usual choice
 * @param label the sample's class, for a base that classifies (which then ignores {@code target});
 *     null for a regression base. A classifying base refuses a sample without one (a dead letter,
 *     {@link RejectReason#MISSING_LABEL}).
 */
public record TaskSample(String taskId, String eventId, float[] features, float target, long eventTimeMs,
        String label) {
    /**
     * The longest class label, in UTF-8 bytes: a name (a folder, an intent, a character), stored with
     * every sample of a task and every adapted state, not a document. A longer one is a
     * {@link RejectReason#LABEL_TOO_LONG} dead letter, whatever the base.
     */
    public static final int MAX_LABEL_BYTES = 200;

    public TaskSample {
        Objects.requireNonNull(eventId, "event id");
    }

    /** This sample with class label {@code label}. */
    public TaskSample withLabel(String label) {
        return new TaskSample(taskId, eventId, features, target, eventTimeMs, label);
    }

    /** A labelled example for a classifying base, with the producer's own event id. */
    public static TaskSample labelled(String taskId, String eventId, float[] features, String label,
            long eventTimeMs) {
        return new TaskSample(taskId, eventId, features, 0f, eventTimeMs, label);
    }

    /** A sample without a class label: for a regression base. */
    public TaskSample(String taskId, String eventId, float[] features, float target, long eventTimeMs) {
        this(taskId, eventId, features, target, eventTimeMs, null);
    }

    /**
     * A labelled example for a classifying base, its event id derived from its content (task, time,
     * features, label), so a redelivered copy is still kept once.
     */
    public static TaskSample labelled(String taskId, float[] features, String label, long eventTimeMs) {
        return new TaskSample(taskId, taskId + "@" + eventTimeMs + "#"
                + Integer.toHexString(31 * Arrays.hashCode(features) + Objects.hashCode(label)), features, 0f,
                eventTimeMs, label);
    }

    /**
     * A sample whose event id is derived from its content (task, time, features, target), so a
     * redelivered copy is still kept once; for records without an id of their own.
     */
    public TaskSample(String taskId, float[] features, float target, long eventTimeMs) {
        this(taskId, taskId + "@" + eventTimeMs + "#"
                + Integer.toHexString(31 * Arrays.hashCode(features) + Float.hashCode(target)),
                features, target, eventTimeMs);
    }
}

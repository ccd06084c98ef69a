package io.metastream.streams;

/** Why a record was sent to the dead-letter topic. Stable names: they are counted and alerted on. */
public enum RejectReason {
    /** Not an Avro single-object-encoded record of the topic's type (bad header, truncated, empty). */
    UNDECODABLE,
    /**
     * Single-object encoded with a schema fingerprint this build has never known, or in the
     * registry wire format with an id the schema registry does not know.
     */
    UNKNOWN_SCHEMA,
    /** A registry schema id whose schema cannot be read as the topic's record type (or is not Avro). */
    INCOMPATIBLE_SCHEMA,
    /** The record's task id is missing or blank. */
    MISSING_TASK_ID,
    /** The record key differs from the task id in the value, which would break co-partitioning. */
    KEY_MISMATCH,
    /** The feature vector's length differs from the base model's input size. */
    WRONG_DIMENSION,
    /** A feature or the target is NaN or infinite. */
    NON_FINITE,
    /**
     * A valid query whose prediction is not finite even from the base (the task's adapted state, if
     * any, answered a non-finite value first): its finite features overflow the model, say
     * {@code x = 3e38}. Nothing non-finite is published; the query lands here, once, instead of an
     * answer.
     */
    NON_FINITE_PREDICTION,
    /** The record is larger than {@code input.max.record.bytes}. */
    OVERSIZED,
    /** The event time or the record timestamp is further ahead of the wall clock than {@code input.max.future.ms}. */
    FUTURE_TIMESTAMP,
    /** A processor threw while handling the record (e.g. corrupt state); the record was isolated. */
    PROCESSING_ERROR,
    /** The broker refused an output record (e.g. too large) produced while handling this input. */
    PRODUCTION_ERROR,
    /**
     * Handling the record threw an {@link Error} (out of memory, stack overflow): the record is
     * isolated here instead of killing the stream thread, which would read it again and die again.
     */
    POISON,
    /**
     * The schema registry could not be asked about the record's schema id after bounded retries.
     * The record may be valid; its bytes are kept whole in the dead letter to replay.
     */
    REGISTRY_ERROR,
    /** A sample without a class label (or an empty one), sent while the base served classifies. */
    MISSING_LABEL,
    /** A sample's class label is longer than {@value TaskSample#MAX_LABEL_BYTES} bytes of UTF-8, whatever the base. */
    LABEL_TOO_LONG,
    /** A query's {@code after_samples} is negative: no count of samples sent can be. */
    NEGATIVE_AFTER_SAMPLES
}

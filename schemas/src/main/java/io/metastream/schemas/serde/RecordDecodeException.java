package io.metastream.schemas.serde;

/**
 * Bytes that could not be turned into a record. Carries a stable reason code so that the
 * pipeline can count and route rejects without parsing messages.
 */
public final class RecordDecodeException extends RuntimeException {
    /** Why decoding failed. */
    public enum Reason {
        /** Neither Avro single-object encoding nor the registry's wire format (wrong or missing header). */
        BAD_HEADER,
        /** A well-formed header whose schema fingerprint is not in the schema history, or whose registry id the registry does not know. */
        UNKNOWN_SCHEMA,
        /** The header was fine but the body was truncated or malformed. */
        MALFORMED_BODY,
        /** No bytes at all (a null or empty value). */
        EMPTY,
        /**
         * The writer's schema is known (a registry id) but cannot be read as this record type: it
         * lacks a field without a default, changes a type, or is not an Avro schema.
         */
        INCOMPATIBLE_SCHEMA,
        /**
         * The schema registry could not be asked about the record's schema id, after bounded
         * retries (down, refusing our credentials, or answering the id with an error). The record
         * may be valid: it is kept whole in its dead letter, to replay once the registry answers.
         */
        REGISTRY_ERROR
    }

    private final Reason reason;

    public RecordDecodeException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

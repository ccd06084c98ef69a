package io.metastream.streams;

/** State-store names; each is also the stem of its changelog topic. */
public final class StoreNames {
    /** Task id to its retained support set. */
    public static final String SUPPORT_SETS = "support-sets";
    /** Task id to its adapted state and the base version it belongs to. */
    public static final String ADAPTED_TASKS = "adapted-tasks";
    /** Task id of a task whose support set changed since it was last adapted, to when it changed. */
    public static final String DIRTY_TASKS = "dirty-tasks";

    /**
     * Every task of {@link #SUPPORT_SETS} keyed by when its set was last written (8 bytes, big-endian,
     * sign bit flipped) and then its id, with an empty value: the tasks idle longest come first, so
     * expiry and eviction read only the keys they remove.
     */
    public static final String TASK_INDEX = "task-index";

    /** {@code <task id> NUL <query id>} of a query waiting for its task's batched adaptation. */
    public static final String PENDING_QUERIES = "pending-queries";

    /**
     * In memory, not logged: the highest record timestamp of a valid sample processed on this stream
     * task's samples partition, so queries can wait for the samples that precede them.
     */
    public static final String SAMPLE_WATERMARK = "sample-watermark";

    private StoreNames() {
    }
}

package io.metastream.store;

/**
 * A compare-and-set alias move found the alias somewhere other than where the caller expected it:
 * someone else moved it in between (an operator, another process, the continual trainer). Nothing
 * was changed. The message names the model, the alias, the expected and actual versions, and the
 * move that was not made.
 */
public final class AliasConflictException extends ModelStoreException {
    private final String model;
    private final String alias;
    private final String expected;
    private final String actual;

    /**
     * @param expected the version the caller expected; null for "not set yet"
     * @param actual the version the alias points at; null if it was never set
     * @param wanted the version the caller wanted to move it to
     */
    public AliasConflictException(String model, String alias, String expected, String actual, String wanted) {
        super("alias '" + alias + "' of " + model + " moved since it was read: expected " + describe(expected)
                + ", actual " + describe(actual) + "; the move to " + wanted + " was not made");
        this.model = model;
        this.alias = alias;
        this.expected = expected;
        this.actual = actual;
    }

    private static String describe(String version) {
        return version == null ? "(not set)" : version;
    }

    public String model() {
        return model;
    }

    public String alias() {
        return alias;
    }

    /** The version the caller expected; null for "not set yet". */
    public String expected() {
        return expected;
    }

    /** The version the alias points at; null if it was never set. */
    public String actual() {
        return actual;
    }
}

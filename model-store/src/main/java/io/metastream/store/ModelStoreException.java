package io.metastream.store;

/**
 * Base of every failure raised by a {@link ModelStore}: an I/O error while reading or writing the
 * store (wrapped, with the model it concerns in the message) or one of the specific subclasses.
 */
public class ModelStoreException extends RuntimeException {
    public ModelStoreException(String message) {
        super(message);
    }

    public ModelStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.metastream.store;

/** A model name, version or alias that the store does not hold. */
public final class ModelNotFoundException extends ModelStoreException {
    public ModelNotFoundException(String message) {
        super(message);
    }
}

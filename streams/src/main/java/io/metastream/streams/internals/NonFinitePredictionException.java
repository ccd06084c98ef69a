package io.metastream.streams.internals;

/**
 * The model cannot answer a request with a finite value, not even the unadapted base: the
 * request's features are finite but extreme (say 3e38) and overflow it. A client error, so an
 * {@link IllegalArgumentException}; nothing non-finite is ever returned instead.
 */
public final class NonFinitePredictionException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public NonFinitePredictionException(String message) {
        super(message);
    }
}

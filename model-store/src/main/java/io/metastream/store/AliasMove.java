package io.metastream.store;

import java.time.Instant;

/**
 * One line of a model's alias history: at {@code time}, {@code alias} moved from {@code from}
 * (null when it was first set) to {@code to}; {@code action} is {@code set}, {@code move} or
 * {@code rollback}.
 */
public record AliasMove(Instant time, String alias, String from, String to, String action) {
}

package io.metastream.streams.internals;

import java.util.function.BiConsumer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * A walk over a support-set store in key order, at most a budget of tasks per step, each step
 * resuming after the last task the previous one visited: how the stores derived from the support
 * sets (the task index, the adapted states' dirty marks) are checked against them when a stream
 * task starts, without holding an iterator open between punctuations.
 */
final class SupportSetWalk {
    private final ReadOnlyKeyValueStore<String, PackedSupportSet> sets;
    /** The last task visited; null before the first step. */
    private String cursor;

    SupportSetWalk(ReadOnlyKeyValueStore<String, PackedSupportSet> sets) {
        this.sets = sets;
    }

    /**
     * Visits up to {@code budget} tasks after the last one visited.
     *
     * @return whether the walk has reached the end of the store
     */
    boolean step(int budget, BiConsumer<String, PackedSupportSet> visit) {
        int seen = 0;
        try (KeyValueIterator<String, PackedSupportSet> it = cursor == null ? sets.all() : sets.range(cursor, null)) {
            while (seen < budget && it.hasNext()) {
                KeyValue<String, PackedSupportSet> kv = it.next();
                if (kv.key.equals(cursor)) {
                    continue; // the range starts at the last task of the previous step
                }
                visit.accept(kv.key, kv.value);
                cursor = kv.key;
                seen++;
            }
            return !it.hasNext();
        }
    }
}

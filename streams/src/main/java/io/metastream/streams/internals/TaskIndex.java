package io.metastream.streams.internals;

import io.metastream.streams.StoreNames;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Typed access to the {@value StoreNames#TASK_INDEX} store: one key per task, {@code (last updated,
 * task id)}, no value. RocksDB keeps keys in byte order, so the task updated least recently is the
 * first key and "every task idle since before T" is a prefix of the store: expiry and eviction read
 * the keys they act on and nothing else, and never decode a support set to find them.
 *
 * <p>The time is 8 bytes big-endian with the sign bit flipped, so byte order is numeric order for
 * every {@code long}. One meta key, a single {@code 0xFF} byte, sorts after every task key (no
 * wall-clock time starts with that byte) and records that a walk found every task of the store
 * indexed (see {@link TaskRetention}: the index has no changelog and is checked against the
 * support sets whenever a stream task starts).
 */
public final class TaskIndex {
    private static final Bytes COMPLETE = Bytes.wrap(new byte[] {(byte) 0xFF});
    private static final byte[] NOTHING = new byte[0];
    private static final int TIME_BYTES = Long.BYTES;

    private final KeyValueStore<Bytes, byte[]> store;
    /**
     * No entry is older than this: scans start here rather than at the first key, so they do not
     * walk over the deletions at the front that RocksDB has not compacted away yet (the known cost
     * of using it as a queue). Lowered by every put of an older time (a clock set back, a backfill).
     */
    private long floorMs = Long.MIN_VALUE;

    TaskIndex(KeyValueStore<Bytes, byte[]> store) {
        this.store = store;
    }

    /** One task of the index. */
    record Entry(long updatedMs, String taskId) {
        Bytes key() {
            return TaskIndex.key(updatedMs, taskId);
        }
    }

    static Bytes key(long updatedMs, String taskId) {
        byte[] id = taskId.getBytes(StandardCharsets.UTF_8);
        return Bytes.wrap(ByteBuffer.allocate(TIME_BYTES + id.length).putLong(updatedMs ^ Long.MIN_VALUE).put(id)
                .array());
    }

    /** The entry a key holds; null for the meta key. */
    static Entry entry(Bytes key) {
        byte[] b = key.get();
        if (b.length <= TIME_BYTES) {
            return null;
        }
        long time = ByteBuffer.wrap(b, 0, TIME_BYTES).getLong() ^ Long.MIN_VALUE;
        return new Entry(time, new String(b, TIME_BYTES, b.length - TIME_BYTES, StandardCharsets.UTF_8));
    }

    void put(long updatedMs, String taskId) {
        floorMs = Math.min(floorMs, updatedMs);
        store.put(key(updatedMs, taskId), NOTHING);
    }

    void delete(Entry entry) {
        store.delete(entry.key());
    }

    boolean contains(long updatedMs, String taskId) {
        return store.get(key(updatedMs, taskId)) != null;
    }

    /**
     * Up to {@code max} entries updated before {@code beforeMs} (all times when {@link Long#MAX_VALUE}),
     * least recently updated first, skipping {@code except} (null: none).
     */
    List<Entry> oldest(long beforeMs, int max, String except) {
        List<Entry> out = new ArrayList<>(Math.min(max, 1024));
        if (max <= 0) {
            return out;
        }
        boolean first = true;
        try (KeyValueIterator<Bytes, byte[]> it = store.range(floorKey(), null)) {
            while (it.hasNext() && out.size() < max) {
                Entry e = entry(it.next().key);
                if (e != null && first) {
                    floorMs = e.updatedMs();
                    first = false;
                }
                if (e == null || e.updatedMs() >= beforeMs) {
                    break; // the meta key sorts last; times only grow from here
                }
                if (!e.taskId().equals(except)) {
                    out.add(e);
                }
            }
        }
        return out;
    }

    /** The smallest key of time {@link #floorMs}: 8 bytes, before every entry of that time. */
    private Bytes floorKey() {
        return Bytes.wrap(ByteBuffer.allocate(TIME_BYTES).putLong(floorMs ^ Long.MIN_VALUE).array());
    }

    /** Counts the task entries: one pass over the keys, no support set decoded. */
    long count() {
        long n = 0;
        try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
            while (it.hasNext()) {
                KeyValue<Bytes, byte[]> kv = it.next();
                if (entry(kv.key) != null) {
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Records that a walk over the support sets found every task indexed. Nothing reads it back: the
     * index has no changelog, so every start walks again; it tells whoever inspects the store.
     */
    void markComplete() {
        store.put(COMPLETE, NOTHING);
    }
}

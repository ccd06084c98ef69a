package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.TopologySettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.Test;

/**
 * The per-instance bound across stream tasks: several stream tasks of one instance share one count,
 * each evicts only its own tasks, a stream task opened on existing state counts it in, and the
 * excess a rebalance brings is trimmed on the next expiry punctuations. In-memory stores, which
 * keep keys in the same byte order as RocksDB.
 */
class TaskRetentionTest {
    private static final long TTL = 3_600_000L;
    private final AtomicLong instance = new AtomicLong();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final MetastreamMetrics metrics = MetastreamMetrics.of(registry, "");

    /** One stream task's stores and its retention. */
    private final class StreamTask {
        final KeyValueStore<String, PackedSupportSet> sets = store("sets", Serdes.String(), PackedSupportSet.SERDE);
        final KeyValueStore<String, AdaptedTask> adapted = store("adapted", Serdes.String(),
                new AvroSerde<>(AdaptedTask.class));
        final KeyValueStore<String, Long> dirty = store("dirty", Serdes.String(), Serdes.Long());
        final KeyValueStore<Bytes, byte[]> index = store("index", Serdes.Bytes(), Serdes.ByteArray());
        TaskStateStore tasks;
        TaskRetention retention;

        StreamTask open(long maxTasks, int budget) {
            TopologySettings.Limits d = TopologySettings.Limits.defaults();
            retention = new TaskRetention(sets, adapted, dirty, new TaskIndex(index), instance,
                    new TopologySettings.Limits(d.maxRecordBytes(), d.maxFutureMs(), d.deadLetterMaxValueBytes(), TTL,
                            d.expiryIntervalMs(), maxTasks, budget), metrics, "test");
            tasks = new TaskStateStore(sets, adapted, dirty, 20, retention);
            tasks.open();
            return this;
        }

        List<String> sample(String task, long nowMs) {
            LabelledSample s = LabelledSample.newBuilder().setEventId(task + "@" + nowMs).setTaskId(task)
                    .setFeatures(List.of(1f)).setTarget(1f).setEventTime(Instant.ofEpochMilli(nowMs)).build();
            TaskStateStore.Appended appended = tasks.append(s, nowMs);
            tasks.markDirty(task, nowMs);
            return appended.evicted();
        }
    }

    private static <K, V> KeyValueStore<K, V> store(String name, org.apache.kafka.common.serialization.Serde<K> keys,
            org.apache.kafka.common.serialization.Serde<V> values) {
        KeyValueStore<K, V> store = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name), keys, values)
                .withLoggingDisabled().build();
        MockProcessorContext<Object, Object> context = new MockProcessorContext<>();
        store.init(context.getStateStoreContext(), store);
        return store;
    }

    @Test
    void shouldBoundTheInstanceAcrossStreamTasksEvictingOnlyTheirOwnTasks() {
        StreamTask p0 = new StreamTask().open(4, 100);
        StreamTask p1 = new StreamTask().open(4, 100);
        assertThat(p0.sample("a", 1)).isEmpty();
        assertThat(p0.sample("b", 2)).isEmpty();
        assertThat(p0.sample("c", 3)).isEmpty();
        assertThat(p1.sample("x", 4)).isEmpty();
        assertThat(instance.get()).isEqualTo(4);

        assertThat(p1.sample("y", 5)).as("p1 evicts its own least recently updated").containsExactly("x");
        assertThat(p1.sets.get("x")).isNull();
        assertThat(p1.dirty.get("x")).isNull();
        assertThat(p0.sample("d", 6)).containsExactly("a");
        assertThat(instance.get()).isEqualTo(4);

        // p1 holds one task only: the new one is kept and the instance is one over, not a task lost.
        StreamTask p2 = new StreamTask().open(4, 100);
        assertThat(p2.sample("z", 7)).isEmpty();
        assertThat(instance.get()).isEqualTo(5);
        assertThat(registry.get("metastream.tasks.removed").tag("cause", "evicted").counter().count()).isEqualTo(2.0);
    }

    @Test
    void shouldCountExistingStateWhenOpenedAndTrimTheExcessOfARebalance() {
        StreamTask p0 = new StreamTask().open(100, 100);
        for (int i = 0; i < 6; i++) {
            p0.sample("t" + i, i);
        }
        p0.retention.close();
        assertThat(instance.get()).isZero();

        // The same state handed to a stream task of an instance that already holds 4 tasks, bound 6.
        StreamTask p1 = new StreamTask().open(6, 2);
        for (int i = 0; i < 4; i++) {
            p1.sample("u" + i, 100 + i);
        }
        p0.open(6, 2);
        assertThat(instance.get()).as("its index counted in on open").isEqualTo(10);

        long now = 200; // nothing idle for the TTL: only the excess goes
        // Excess 4: p0's share is ceil(4 * 6 / 10) = 3, at most 2 per punctuation.
        assertThat(p0.retention.expire(now)).containsExactly("t0", "t1");
        assertThat(p0.retention.expire(now)).as("excess 2 of 8: share ceil(2 * 4 / 8) = 1").containsExactly("t2");
        assertThat(p1.retention.expire(now)).as("excess 1 of 7: share ceil(1 * 4 / 7) = 1").containsExactly("u0");
        assertThat(instance.get()).isEqualTo(6);
        assertThat(p0.retention.expire(now)).isEmpty();
        assertThat(p1.retention.expire(now)).isEmpty();
    }

    @Test
    void shouldDropAStaleIndexEntryWithoutRemovingAnActiveTask() {
        StreamTask p0 = new StreamTask().open(100, 100);
        p0.sample("a", 1);
        // An entry left behind (say, a crash between two stores' writes): its task was written later.
        p0.index.put(TaskIndex.key(0, "a"), new byte[0]);
        p0.index.put(TaskIndex.key(0, "gone"), new byte[0]);
        assertThat(p0.retention.expire(TTL + 1)).as("only stale entries were that old").isEmpty();
        assertThat(p0.sets.get("a")).isNotNull();
        assertThat(p0.index.get(TaskIndex.key(1, "a"))).isNotNull();
        assertThat(p0.index.get(TaskIndex.key(0, "a"))).isNull();
        assertThat(p0.index.get(TaskIndex.key(0, "gone"))).isNull();
        assertThat(p0.retention.expire(TTL + 2)).containsExactly("a");
    }

    @Test
    void shouldStillFindATaskUpdatedAtAnEarlierTimeThanTheScansHaveReached() {
        StreamTask p0 = new StreamTask().open(100, 100);
        p0.sample("a", 100);
        assertThat(p0.retention.expire(TTL + 50)).isEmpty(); // scans now start at time 100
        p0.sample("b", 50); // the wall clock was set back
        assertThat(p0.retention.expire(TTL + 60)).containsExactly("b");
        assertThat(p0.retention.expire(TTL + 101)).containsExactly("a");
    }
}

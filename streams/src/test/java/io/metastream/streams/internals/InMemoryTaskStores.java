package io.metastream.streams.internals;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.state.AdaptedTask;
import java.time.Instant;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * A {@link MockProcessorContext} holding one pipeline's task stores under their pipeline names, in
 * memory (which keeps keys in RocksDB's byte order), for unit tests of the processors' collaborators.
 */
final class InMemoryTaskStores {
    final MockProcessorContext<String, SpecificRecord> context = new MockProcessorContext<>();
    final KeyValueStore<String, PackedSupportSet> sets;
    final KeyValueStore<String, AdaptedTask> adapted;
    final KeyValueStore<String, Long> dirty;
    final KeyValueStore<Bytes, byte[]> index;

    InMemoryTaskStores(PipelineNames names) {
        sets = add(names.supportSets(), Serdes.String(), PackedSupportSet.SERDE);
        adapted = add(names.adaptedTasks(), Serdes.String(), new AvroSerde<>(AdaptedTask.class));
        dirty = add(names.dirtyTasks(), Serdes.String(), Serdes.Long());
        index = add(names.taskIndex(), Serdes.Bytes(), Serdes.ByteArray());
    }

    private <K, V> KeyValueStore<K, V> add(String name, Serde<K> keys, Serde<V> values) {
        KeyValueStore<K, V> store = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name), keys, values)
                .withLoggingDisabled().build();
        store.init(context.getStateStoreContext(), store);
        context.addStateStore(store);
        return store;
    }

    /** A one-feature sample of {@code task} at event time {@code timeMs}. */
    static LabelledSample sample(String task, String eventId, long timeMs, float x, float y) {
        return LabelledSample.newBuilder().setEventId(eventId).setTaskId(task).setFeatures(List.of(x)).setTarget(y)
                .setEventTime(Instant.ofEpochMilli(timeMs)).build();
    }
}

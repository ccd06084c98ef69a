package io.metastream.app.topology;

import io.metastream.app.kafka.Topics;

import io.metastream.app.model.ActiveModel;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.PendingQuery;
import io.metastream.schemas.state.SupportSet;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The pipeline, top to bottom:
 * <pre>
 *  samples ─► ingest-samples ─► support-sets (RocksDB) ─► punctuator: dirty tasks ─► adaptation engine
 *               │ bad ─► dead-letters       (batched across stream threads) ─► next punctuation ─► adaptations
 *                                                                                       └─► adapted-tasks (RocksDB)
 *  queries ─► answer-queries ─► predictions (adapted state, or the base when cold)
 *               └─► pending-queries (RocksDB) ─► punctuator, once the samples before each query are in:
 *                                                 batched adaptation + batched prediction ─► predictions
 *               │ bad ─► dead-letters
 * </pre>
 * Both input processors share the three stores, so samples and queries of a partition are handled
 * by one stream task. Built by the same factory in production, the demo and the tests.
 */
public final class MetastreamTopology {
    static final String SAMPLES_SOURCE = "samples-source";
    static final String QUERIES_SOURCE = "queries-source";
    static final String INGEST_SAMPLES = "ingest-samples";
    static final String ANSWER_QUERIES = "answer-queries";
    static final String PREDICTIONS_SINK = "predictions-sink";
    static final String ADAPTATIONS_SINK = "adaptations-sink";
    static final String DEAD_LETTERS_SINK = "dead-letters-sink";

    private MetastreamTopology() {
    }

    /**
     * @param engine where background adaptation runs: shared by every stream thread of the
     *     instance, which closes it after the streams
     */
    public static Topology build(Topics topics, TopologySettings settings, ActiveModel model,
            AdaptationEngine engine) {
        Topology topology = new Topology();
        topology.addSource(SAMPLES_SOURCE, Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
                topics.samples().name());
        topology.addSource(QUERIES_SOURCE, Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(),
                topics.queries().name());

        topology.addProcessor(INGEST_SAMPLES, () -> new SampleProcessor(model, engine, settings), SAMPLES_SOURCE);
        topology.addProcessor(ANSWER_QUERIES, () -> new QueryProcessor(model, engine, settings), QUERIES_SOURCE);

        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(StoreNames.SUPPORT_SETS),
                Serdes.String(), new AvroSerde<>(SupportSet.class)), INGEST_SAMPLES, ANSWER_QUERIES);
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(StoreNames.ADAPTED_TASKS),
                Serdes.String(), new AvroSerde<>(AdaptedTask.class)), INGEST_SAMPLES, ANSWER_QUERIES);
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(StoreNames.DIRTY_TASKS),
                Serdes.String(), Serdes.Long()), INGEST_SAMPLES, ANSWER_QUERIES);

        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(StoreNames.PENDING_QUERIES),
                Serdes.String(), new AvroSerde<>(PendingQuery.class)), ANSWER_QUERIES);

        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(StoreNames.SAMPLE_WATERMARK),
                Serdes.String(), Serdes.Long()).withLoggingDisabled(), INGEST_SAMPLES, ANSWER_QUERIES);

        topology.addSink(PREDICTIONS_SINK, topics.predictions().name(), topics.predictions().keySerde().serializer(),
                topics.predictions().valueSerde().serializer(), ANSWER_QUERIES);
        topology.addSink(ADAPTATIONS_SINK, topics.adaptations().name(), topics.adaptations().keySerde().serializer(),
                topics.adaptations().valueSerde().serializer(), INGEST_SAMPLES, ANSWER_QUERIES);
        topology.addSink(DEAD_LETTERS_SINK, topics.deadLetters().name(), topics.deadLetters().keySerde().serializer(),
                topics.deadLetters().valueSerde().serializer(), INGEST_SAMPLES, ANSWER_QUERIES);
        return topology;
    }
}

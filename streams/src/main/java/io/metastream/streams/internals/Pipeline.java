package io.metastream.streams.internals;

import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.PendingQuery;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.TopologySettings;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * One pipeline as its processors see it: what both share, and the nodes, stores and sinks that
 * {@link #addTo} wires. {@code MetastreamTopology.Builder} is the public way in; this is its plan.
 */
public record Pipeline(PipelineNames names, TopologySettings settings, ActiveModel model, AdaptationEngine engine,
        String samplesTopic, InputDecoder<LabelledSample> samples, String queriesTopic,
        InputDecoder<PredictionRequest> queries, MetastreamMetrics metrics, AtomicLong instanceTasks) {
    public static final String SAMPLES_SOURCE = "samples-source";
    public static final String QUERIES_SOURCE = "queries-source";
    public static final String INGEST_SAMPLES = "ingest-samples";
    public static final String ANSWER_QUERIES = "answer-queries";
    public static final String PREDICTIONS_SINK = "predictions-sink";
    public static final String ADAPTATIONS_SINK = "adaptations-sink";
    public static final String DEAD_LETTERS_SINK = "dead-letters-sink";

    /** Adds this pipeline's sources, guarded processors, stores and sinks to {@code topology}. */
    public Topology addTo(Topology topology, String predictionsTopic, Serializer<Prediction> predictions,
            String adaptationsTopic, Serializer<AdaptationEvent> adaptations, String deadLettersTopic,
            Serializer<DeadLetter> deadLetters) {
        Serde<byte[]> bytes = Serdes.ByteArray();
        PipelineNames n = names;
        topology.addSource(n.of(SAMPLES_SOURCE), bytes.deserializer(), bytes.deserializer(), samplesTopic);
        topology.addSource(n.of(QUERIES_SOURCE), bytes.deserializer(), bytes.deserializer(), queriesTopic);

        topology.addProcessor(n.of(INGEST_SAMPLES), () -> new PoisonGuard(new SampleProcessor(this), this),
                n.of(SAMPLES_SOURCE));
        topology.addProcessor(n.of(ANSWER_QUERIES), () -> new PoisonGuard(new QueryProcessor(this), this),
                n.of(QUERIES_SOURCE));

        String[] both = {n.of(INGEST_SAMPLES), n.of(ANSWER_QUERIES)};
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(n.supportSets()),
                Serdes.String(), PackedSupportSet.SERDE), both);
        // Derived from the support sets and the base, so recomputed rather than changelogged; the
        // dirty marks say which of them are behind, so they go with them (TaskStateStore).
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(n.adaptedTasks()),
                Serdes.String(), new AvroSerde<>(AdaptedTask.class)).withLoggingDisabled(), both);
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(n.dirtyTasks()),
                Serdes.String(), Serdes.Long()).withLoggingDisabled(), both);
        // Derived from the support sets too: rebuilt by a walk over them when a stream task starts (TaskRetention).
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(n.taskIndex()),
                Serdes.Bytes(), Serdes.ByteArray()).withLoggingDisabled(), n.of(INGEST_SAMPLES));
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(n.pendingQueries()),
                Serdes.String(), new AvroSerde<>(PendingQuery.class)), n.of(ANSWER_QUERIES));
        topology.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(n.sampleWatermark()),
                Serdes.String(), Serdes.Long()).withLoggingDisabled(), both);

        Serializer<String> keys = Serdes.String().serializer();
        topology.addSink(n.of(PREDICTIONS_SINK), predictionsTopic, keys, predictions, n.of(ANSWER_QUERIES));
        topology.addSink(n.of(ADAPTATIONS_SINK), adaptationsTopic, keys, adaptations, both);
        topology.addSink(n.of(DEAD_LETTERS_SINK), deadLettersTopic, keys, deadLetters, both);
        return topology;
    }
}

package io.metastream.streams;

import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.streams.internals.InputDecoder;
import io.metastream.streams.internals.Pipeline;
import io.metastream.streams.internals.PipelineNames;
import io.metastream.streams.internals.TaskRetention;
import io.metastream.streams.internals.WarmUp;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.Topology;

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
 * by one stream task. The sample processor alone keeps the {@value StoreNames#TASK_INDEX} beside them,
 * the order in which tasks expire or are evicted ({@link TaskRetention}). Built by the same factory in production, the demo, the tests and applications
 * that embed metastream in their own topology ({@link #builder}), where every node and store name
 * carries the pipeline's prefix ({@link PipelineNames}).
 */
public final class MetastreamTopology {

    private MetastreamTopology() {
    }

    /**
     * metastream's own topology: Avro records on {@code topics}, unprefixed names.
     *
     * @param engine where background adaptation runs: shared by every stream thread of the
     *     instance, which closes it after the streams
     */
    public static Topology build(Topics topics, TopologySettings settings, ActiveModel model,
            AdaptationEngine engine) {
        return builder(model, engine).settings(settings).topics(topics).addTo(new Topology());
    }

    /** A pipeline to add to an application's topology; inputs and outputs default to metastream's Avro. */
    /**
     * Runs the hot path on {@code rounds} rounds of synthetic tasks (at most 10 s), writing nothing:
     * call it after building the topology and before {@code KafkaStreams.start()}, so the first
     * records are not processed by cold code ({@code warmup.rounds}; {@code MetastreamApp} does this).
     *
     * @return the rounds run
     */
    public static int warmUp(ActiveModel model, AdaptationEngine engine, TopologySettings settings, int rounds) {
        return WarmUp.run(model, engine, settings, rounds, 10_000).rounds();
    }

    public static Builder builder(ActiveModel model, AdaptationEngine engine) {
        return new Builder(model, engine);
    }

    /** What one pipeline reads and writes; {@link #addTo} adds its nodes and stores. */
    public static final class Builder {
        private final ActiveModel model;
        private final AdaptationEngine engine;
        private PipelineNames names = PipelineNames.unprefixed();
        private TopologySettings settings = TopologySettings.defaults();
        private String samplesTopic = "samples";
        /** null: metastream's own Avro records, decoded as {@link #schemaRegistry} says. */
        private InputDecoder<LabelledSample> samples;
        private String queriesTopic = "queries";
        private InputDecoder<PredictionRequest> queries;
        private String predictionsTopic = "predictions";
        /** null: metastream's own Avro {@code Prediction}. */
        private Serializer<Prediction> predictions;
        private String adaptationsTopic = "adaptations";
        private String deadLettersTopic = "dead-letters";
        private MetastreamMetrics metrics = MetastreamMetrics.none();
        private SchemaRegistryClient registry;
        private boolean registryOutputs;

        private Builder(ActiveModel model, AdaptationEngine engine) {
            this.model = Objects.requireNonNull(model, "model");
            this.engine = Objects.requireNonNull(engine, "engine");
        }

        /** Prefixes every node and store name, so one application can hold several pipelines. */
        public Builder prefix(String prefix) {
            this.names = new PipelineNames(prefix);
            return this;
        }

        public Builder settings(TopologySettings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
            return this;
        }

        /** metastream's Avro records on all five topics of {@code topics}. */
        public Builder topics(Topics topics) {
            samplesTopic = topics.samples().name();
            samples = null;
            queriesTopic = topics.queries().name();
            queries = null;
            predictionsTopic = topics.predictions().name();
            predictions = null;
            adaptationsTopic = topics.adaptations().name();
            deadLettersTopic = topics.deadLetters().name();
            return this;
        }

        /** Samples as metastream's {@code LabelledSample} Avro records, keyed by task id. */
        public Builder samples(String topic) {
            samplesTopic = topic;
            samples = null;
            return this;
        }

        /** Samples as the application's own records, read by its serdes and {@code mapping}. */
        public <K, V> Builder samples(String topic, Serde<K> keySerde, Serde<V> valueSerde,
                SampleMapping<K, V> mapping) {
            samplesTopic = topic;
            samples = InputDecoder.samples(keySerde, valueSerde, mapping);
            return this;
        }

        public Builder queries(String topic) {
            queriesTopic = topic;
            queries = null;
            return this;
        }

        public <K, V> Builder queries(String topic, Serde<K> keySerde, Serde<V> valueSerde,
                QueryMapping<K, V> mapping) {
            queriesTopic = topic;
            queries = InputDecoder.queries(keySerde, valueSerde, mapping);
            return this;
        }

        /** Predictions as metastream's {@code Prediction} Avro records, keyed by task id. */
        public Builder predictions(String topic) {
            predictionsTopic = topic;
            predictions = null;
            return this;
        }

        /** Predictions as the application's own records (keyed by task id), written by {@code mapping}. */
        public <V> Builder predictions(String topic, Serde<V> valueSerde, PredictionMapping<V> mapping) {
            Objects.requireNonNull(mapping, "mapping");
            Serializer<V> out = valueSerde.serializer();
            predictionsTopic = topic;
            predictions = (t, p) -> p == null ? null : out.serialize(t, mapping.fromPrediction(p));
            return this;
        }

        /** Where adaptation events go (metastream's Avro {@code AdaptationEvent}). */
        public Builder adaptations(String topic) {
            adaptationsTopic = topic;
            return this;
        }

        /** Where rejected records go, with their bytes and the reason (Avro {@code DeadLetter}). */
        public Builder deadLetters(String topic) {
            deadLettersTopic = topic;
            return this;
        }

        /**
         * Reads metastream's own sample and query records in the schema registry's wire format
         * (magic byte 0, a 4-byte schema id) as well as in single-object encoding; an id the
         * registry does not know is an {@code UNKNOWN_SCHEMA} dead letter, a schema that cannot be
         * read as the record an {@code INCOMPATIBLE_SCHEMA} one. With {@code writeOutputs},
         * predictions, adaptation events and dead letters are written in the registry's format too,
         * their schemas registered under {@code <topic>-value}. An application's own serdes and
         * mappings are left as they are.
         */
        public Builder schemaRegistry(SchemaRegistryClient registry, boolean writeOutputs) {
            this.registry = Objects.requireNonNull(registry, "registry");
            this.registryOutputs = writeOutputs;
            return this;
        }

        /** Where this pipeline's meters go ({@link MetastreamMetrics#of}); none by default. */
        public Builder metrics(MetastreamMetrics metrics) {
            this.metrics = Objects.requireNonNull(metrics, "metrics");
            return this;
        }

        public PipelineNames names() {
            return names;
        }

        /**
         * Adds the pipeline's sources, processors, stores and sinks to {@code topology} (an
         * application's own, e.g. from {@code StreamsBuilder.build()}).
         *
         * @return {@code topology}
         */
        public Topology addTo(Topology topology) {
            // One count per instance: every stream task of the KafkaStreams running this topology adds to it.
            AtomicLong instanceTasks = new AtomicLong();
            metrics.tasksHeld(instanceTasks::get);
            Pipeline pipeline = new Pipeline(names, settings, model, engine, samplesTopic,
                    samples != null ? samples : InputDecoder.avro(LabelledSample.class, registry), queriesTopic,
                    queries != null ? queries : InputDecoder.avro(PredictionRequest.class, registry), metrics,
                    instanceTasks);
            return pipeline.addTo(topology, predictionsTopic,
                    predictions != null ? predictions : output(Prediction.class), adaptationsTopic,
                    output(AdaptationEvent.class), deadLettersTopic, output(DeadLetter.class));
        }

        private <T extends SpecificRecord> Serializer<T> output(Class<T> type) {
            return (registryOutputs ? AvroSerde.withRegistry(type, registry) : new AvroSerde<>(type)).serializer();
        }
    }
}

package io.metastream.streams;

import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.ArtifactChunk;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.serde.SchemaRegistryClient;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The topics of one pipeline. Every topic is keyed by task id (a UTF-8 string); values are Avro
 * single-object encoded, except the models topic (key {@code <model>/<alias>}, compacted),
 * model-events (key: instance id) and model-artifacts (compacted; see {@link ModelArtifacts}). Samples and queries must be co-partitioned (same partition count, same
 * partitioner) so one stream task owns a task's support set and answers its queries.
 */
public record Topics(Topic<String, LabelledSample> samples, Topic<String, PredictionRequest> queries,
        Topic<String, Prediction> predictions, Topic<String, AdaptationEvent> adaptations,
        Topic<String, DeadLetter> deadLetters, Topic<String, ModelChange> models,
        Topic<String, ModelSwapEvent> modelEvents, Topic<String, ArtifactChunk> modelArtifacts) {

    /** These names, with the model-artifacts topic named {@code model-artifacts}. */
    public static Topics named(String samples, String queries, String predictions, String adaptations,
            String deadLetters, String models, String modelEvents) {
        return named(samples, queries, predictions, adaptations, deadLetters, models, modelEvents, "model-artifacts");
    }

    public static Topics named(String samples, String queries, String predictions, String adaptations,
            String deadLetters, String models, String modelEvents, String modelArtifacts) {
        return new Topics(
                new Topic<>(samples, Serdes.String(), new AvroSerde<>(LabelledSample.class)),
                new Topic<>(queries, Serdes.String(), new AvroSerde<>(PredictionRequest.class)),
                new Topic<>(predictions, Serdes.String(), new AvroSerde<>(Prediction.class)),
                new Topic<>(adaptations, Serdes.String(), new AvroSerde<>(AdaptationEvent.class)),
                new Topic<>(deadLetters, Serdes.String(), new AvroSerde<>(DeadLetter.class)),
                new Topic<>(models, Serdes.String(), new AvroSerde<>(ModelChange.class)),
                new Topic<>(modelEvents, Serdes.String(), new AvroSerde<>(ModelSwapEvent.class)),
                new Topic<>(modelArtifacts, Serdes.String(), new AvroSerde<>(ArtifactChunk.class)));
    }

    /**
     * The same topics with values in the schema registry's wire format (metastream's records,
     * registered under {@code <topic>-value}); their deserializers read single-object encoding too.
     */
    public Topics withRegistry(SchemaRegistryClient registry) {
        return new Topics(
                new Topic<>(samples.name(), Serdes.String(), AvroSerde.withRegistry(LabelledSample.class, registry)),
                new Topic<>(queries.name(), Serdes.String(), AvroSerde.withRegistry(PredictionRequest.class, registry)),
                new Topic<>(predictions.name(), Serdes.String(), AvroSerde.withRegistry(Prediction.class, registry)),
                new Topic<>(adaptations.name(), Serdes.String(),
                        AvroSerde.withRegistry(AdaptationEvent.class, registry)),
                new Topic<>(deadLetters.name(), Serdes.String(), AvroSerde.withRegistry(DeadLetter.class, registry)),
                models, modelEvents, modelArtifacts);
    }

    public static Topics defaults() {
        return named("samples", "queries", "predictions", "adaptations", "dead-letters", "models", "model-events");
    }

    public static Topics from(MetastreamConfig config) {
        return named(config.getString(MetastreamConfig.TOPIC_SAMPLES_CONFIG),
                config.getString(MetastreamConfig.TOPIC_QUERIES_CONFIG),
                config.getString(MetastreamConfig.TOPIC_PREDICTIONS_CONFIG),
                config.getString(MetastreamConfig.TOPIC_ADAPTATIONS_CONFIG),
                config.getString(MetastreamConfig.TOPIC_DEAD_LETTERS_CONFIG),
                config.getString(MetastreamConfig.TOPIC_MODELS_CONFIG),
                config.getString(MetastreamConfig.TOPIC_MODEL_EVENTS_CONFIG),
                config.getString(MetastreamConfig.TOPIC_MODEL_ARTIFACTS_CONFIG));
    }

    /** Every topic name, inputs first. */
    public List<String> names() {
        return List.of(samples.name(), queries.name(), predictions.name(), adaptations.name(), deadLetters.name(),
                models.name(), modelEvents.name(), modelArtifacts.name());
    }

    /** The key of a {@link ModelChange}: one compacted entry per model alias. */
    public static String modelKey(String modelName, String alias) {
        return modelName + "/" + alias;
    }
}

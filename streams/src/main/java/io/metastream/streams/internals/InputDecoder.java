package io.metastream.streams.internals;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.RecordDecodeException;
import io.metastream.schemas.serde.RegistryAvroCodec;
import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.streams.QueryMapping;
import io.metastream.streams.SampleMapping;
import io.metastream.streams.TaskQuery;
import io.metastream.streams.TaskSample;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;

/**
 * Turns the raw bytes of an input record into metastream's own sample or query record: Avro single
 * object encoding by default (and the schema registry's wire format when a registry is given), or
 * the application's serdes followed by its mapping. Sources read
 * bytes so that a failure here is seen by the processor, with its offset, and becomes a dead letter.
 */
public abstract class InputDecoder<T> {
    /** Decodes a record, or throws {@link RecordDecodeException}. */
    abstract T decode(String topic, byte[] key, byte[] value, long timestampMs);

    /**
     * Whether the record key must be the task id as UTF-8: metastream's own records carry the task
     * id twice and a mismatch would break co-partitioning; a mapping defines its own key.
     */
    abstract boolean keyIsTaskId();

    /**
     * metastream's own Avro record: single-object encoding, and also the schema registry's wire
     * format when {@code registry} is not null.
     */
    public static <T extends SpecificRecord> InputDecoder<T> avro(Class<T> type, SchemaRegistryClient registry) {
        if (registry == null) {
            AvroCodec<T> codec = AvroCodec.of(type);
            return new Avro<>(bytes -> {
                if (RegistryAvroCodec.isRegistryFormat(bytes)) {
                    throw new RecordDecodeException(RecordDecodeException.Reason.BAD_HEADER, "the schema registry's "
                            + "wire format (magic byte 0), but no schema.registry.url is configured", null);
                }
                return codec.decode(bytes);
            });
        }
        return new Avro<>(RegistryAvroCodec.of(type, registry)::decode);
    }

    public static <K, V> InputDecoder<LabelledSample> samples(Serde<K> keySerde, Serde<V> valueSerde,
            SampleMapping<K, V> mapping) {
        Objects.requireNonNull(mapping, "mapping");
        return new Mapped<>(keySerde, valueSerde, (k, v, ts) -> {
            TaskSample s = Objects.requireNonNull(mapping.toSample(k, v, ts), "the mapping returned no sample");
            return LabelledSample.newBuilder().setEventId(s.eventId()).setTaskId(s.taskId()).setFeatures(boxed(s.features()))
                    .setTarget(s.target()).setEventTime(Instant.ofEpochMilli(s.eventTimeMs())).setLabel(s.label())
                    .build();
        });
    }

    public static <K, V> InputDecoder<PredictionRequest> queries(Serde<K> keySerde, Serde<V> valueSerde,
            QueryMapping<K, V> mapping) {
        Objects.requireNonNull(mapping, "mapping");
        return new Mapped<>(keySerde, valueSerde, (k, v, ts) -> {
            TaskQuery q = Objects.requireNonNull(mapping.toQuery(k, v, ts), "the mapping returned no query");
            return PredictionRequest.newBuilder().setQueryId(Objects.requireNonNull(q.queryId(), "query id"))
                    .setTaskId(q.taskId()).setFeatures(boxed(q.features()))
                    .setEventTime(Instant.ofEpochMilli(q.eventTimeMs())).setAfterSamples(q.afterSamples()).build();
        });
    }

    private static List<Float> boxed(float[] features) {
        Objects.requireNonNull(features, "features");
        List<Float> out = new ArrayList<>(features.length);
        for (float f : features) {
            out.add(f);
        }
        return out;
    }

    private static final class Avro<T extends SpecificRecord> extends InputDecoder<T> {
        private final Function<byte[], T> codec;

        Avro(Function<byte[], T> codec) {
            this.codec = codec;
        }

        @Override
        T decode(String topic, byte[] key, byte[] value, long timestampMs) {
            return codec.apply(value);
        }

        @Override
        boolean keyIsTaskId() {
            return true;
        }
    }

    private interface Conversion<K, V, T> {
        T convert(K key, V value, long timestampMs);
    }

    private static final class Mapped<K, V, T> extends InputDecoder<T> {
        private final Deserializer<K> keys;
        private final Deserializer<V> values;
        private final Conversion<K, V, T> conversion;

        Mapped(Serde<K> keySerde, Serde<V> valueSerde, Conversion<K, V, T> conversion) {
            this.keys = Objects.requireNonNull(keySerde, "key serde").deserializer();
            this.values = Objects.requireNonNull(valueSerde, "value serde").deserializer();
            this.conversion = conversion;
        }

        @Override
        T decode(String topic, byte[] key, byte[] value, long timestampMs) {
            if (value == null || value.length == 0) {
                throw new RecordDecodeException(RecordDecodeException.Reason.EMPTY, "no value", null);
            }
            try {
                K k = keys.deserialize(topic, key);
                V v = values.deserialize(topic, value);
                return conversion.convert(k, v, timestampMs);
            } catch (RuntimeException e) {
                throw new RecordDecodeException(RecordDecodeException.Reason.MALFORMED_BODY,
                        "the application's serde or mapping refused the record: " + e, e);
            }
        }

        @Override
        boolean keyIsTaskId() {
            return false;
        }
    }
}

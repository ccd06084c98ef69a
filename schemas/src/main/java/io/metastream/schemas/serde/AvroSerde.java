package io.metastream.schemas.serde;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka Serde over {@link AvroCodec}: single-object encoding, every historical schema readable.
 * No registry server is needed because the fingerprint in each message selects the writer schema
 * from the schema history shipped with the code. {@link #withRegistry} writes the schema
 * registry's wire format instead (the schema registered under {@code <topic>-value}) and reads
 * both. Deserialization failures surface as Kafka's {@link SerializationException} with the
 * {@link RecordDecodeException} as cause.
 */
public final class AvroSerde<T extends SpecificRecord> implements Serde<T> {
    private final AvroCodec<T> codec;
    private final RegistryAvroCodec<T> registry;

    public AvroSerde(Class<T> type) {
        this.codec = AvroCodec.of(type);
        this.registry = null;
    }

    private AvroSerde(Class<T> type, SchemaRegistryClient client) {
        this.codec = AvroCodec.of(type);
        this.registry = RegistryAvroCodec.of(type, client);
    }

    /** Writes the registry wire format, registering the schema under {@code <topic>-value}; reads both formats. */
    public static <T extends SpecificRecord> AvroSerde<T> withRegistry(Class<T> type, SchemaRegistryClient client) {
        return new AvroSerde<>(type, client);
    }

    /** The single-object codec (also for a serde with a registry, whose state stores keep that encoding). */
    public AvroCodec<T> codec() {
        return codec;
    }

    @Override
    public Serializer<T> serializer() {
        if (registry != null) {
            return (topic, record) -> record == null ? null
                    : registry.encode(RegistryAvroCodec.valueSubject(topic), record);
        }
        return (topic, record) -> record == null ? null : codec.encode(record);
    }

    @Override
    public Deserializer<T> deserializer() {
        return (topic, bytes) -> {
            if (bytes == null) {
                return null;
            }
            try {
                return registry != null ? registry.decode(bytes) : codec.decode(bytes);
            } catch (RecordDecodeException e) {
                throw new SerializationException("topic " + topic + ": " + e.getMessage(), e);
            }
        };
    }
}

package io.metastream.schemas.serde;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka Serde over {@link AvroCodec}: single-object encoding, every historical schema readable.
 * No registry server is needed because the fingerprint in each message selects the writer schema
 * from the schema history shipped with the code. Deserialization failures surface as Kafka's
 * {@link SerializationException} with the {@link RecordDecodeException} as cause.
 */
public final class AvroSerde<T extends SpecificRecord> implements Serde<T> {
    private final AvroCodec<T> codec;

    public AvroSerde(Class<T> type) {
        this.codec = AvroCodec.of(type);
    }

    public AvroCodec<T> codec() {
        return codec;
    }

    @Override
    public Serializer<T> serializer() {
        return (topic, record) -> record == null ? null : codec.encode(record);
    }

    @Override
    public Deserializer<T> deserializer() {
        return (topic, bytes) -> {
            if (bytes == null) {
                return null;
            }
            try {
                return codec.decode(bytes);
            } catch (RecordDecodeException e) {
                throw new SerializationException("topic " + topic + ": " + e.getMessage(), e);
            }
        };
    }
}

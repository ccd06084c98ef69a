package io.metastream.embedded;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Producers of traffic into a pipeline (the demo's simulated users, the MovieLens replay). */
public final class Producers {
    private Producers() {
    }

    /**
     * String keys, Avro bytes as values; idempotent with {@code acks=all}, so a retried send
     * neither duplicates nor reorders a task's records, and a 2 ms linger to batch at demo rates.
     */
    public static KafkaProducer<String, byte[]> traffic(String bootstrapServers) {
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 2);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }
}

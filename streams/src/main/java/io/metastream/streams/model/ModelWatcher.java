package io.metastream.streams.model;

import io.metastream.streams.kafka.Topics;
import io.metastream.learn.BaseModel;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.store.ModelStore;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import io.metastream.streams.kafka.AssignedConsumerThread;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the compacted models topic and hot-swaps the served base when its alias moves. Every
 * instance reads the whole topic (assigned, not subscribed: no consumer group, so no instance
 * misses a change), loads and verifies the new version on this thread while the stream threads
 * keep serving the old one, then swaps atomically. A version that fails to load or verify is
 * refused and the current base keeps serving. Each outcome is published to model-events.
 */
public final class ModelWatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelWatcher.class);

    private final Topics topics;
    private final ModelStore store;
    private final String modelName;
    private final String alias;
    private final ActiveModel model;
    private final String instanceId;
    private final KafkaProducer<String, byte[]> producer;
    private final AssignedConsumerThread reader;

    public ModelWatcher(String bootstrapServers, Topics topics, ModelStore store, String modelName, String alias,
            ActiveModel model, String instanceId) {
        this.topics = topics;
        this.store = store;
        this.modelName = modelName;
        this.alias = alias;
        this.model = model;
        this.instanceId = instanceId;
        this.producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer());
        this.reader = new AssignedConsumerThread("model-watcher", bootstrapServers, Map.of(),
                List.of(topics.models().name()), this::follow);
    }

    /** Reads the models topic from the start (its compacted state), then follows it. */
    public ModelWatcher start() {
        reader.start();
        return this;
    }

    /** Only the newest change of this model's alias in a poll matters. */
    private void follow(ConsumerRecords<String, byte[]> records) {
        String key = Topics.modelKey(modelName, alias);
        String target = null;
        for (ConsumerRecord<String, byte[]> r : records) {
            if (key.equals(r.key()) && r.value() != null) {
                try {
                    target = topics.models().valueSerde().deserializer().deserialize(r.topic(), r.value()).getVersion();
                } catch (RuntimeException e) {
                    LOG.error("unreadable model change at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                            e.getMessage());
                }
            }
        }
        if (target != null) {
            apply(target);
        }
    }

    /** Loads, verifies and swaps in {@code version}; on any failure keeps the current base. */
    void apply(String version) {
        BaseModel current = model.base();
        String requested = modelName + "@" + version;
        long start = System.nanoTime();
        String status;
        String reason = null;
        if (current.version().equals(requested)) {
            status = "UNCHANGED";
        } else {
            try {
                model.swap(BaseModelArtifacts.load(store, modelName, version));
                status = "SWAPPED";
                LOG.info("now serving {} (was {})", requested, current.version());
            } catch (RuntimeException e) {
                status = "REFUSED";
                reason = e.getClass().getSimpleName() + ": " + e.getMessage();
                LOG.error("refused {}; still serving {}: {}", requested, current.version(), reason);
            }
        }
        ModelSwapEvent event = ModelSwapEvent.newBuilder().setInstanceId(instanceId).setModelName(modelName)
                .setAlias(alias).setFromVersion(current.version()).setToVersion(requested).setStatus(status)
                .setReason(reason).setLoadMicros((System.nanoTime() - start) / 1_000).setAt(Instant.now()).build();
        producer.send(new ProducerRecord<>(topics.modelEvents().name(), instanceId,
                topics.modelEvents().valueSerde().serializer().serialize(topics.modelEvents().name(), event)));
    }

    @Override
    public void close() {
        reader.close();
        reader.failure().ifPresent(f -> LOG.error("model watcher had stopped; the base did not change since", f));
        producer.close(Duration.ofSeconds(5));
    }
}

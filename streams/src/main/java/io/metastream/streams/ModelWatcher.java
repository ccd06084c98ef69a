package io.metastream.streams;

import io.metastream.learn.BaseModel;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.store.ModelNotFoundException;
import io.metastream.store.ModelStore;
import io.metastream.streams.internals.AssignedConsumerThread;
import io.metastream.streams.internals.TopicSnapshot;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
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
 * keep serving the old one, then swaps atomically. A version that fails to load or verify, or
 * whose manifest digest differs from the one announced with it, is refused and the current base
 * keeps serving. The store's alias wins over an older announcement (see {@link #apply(ModelChange)}).
 * Each outcome is published to model-events.
 *
 * <p>A watcher that stops following would stop hot swaps with no sign, so its consumer restarts
 * after a failure (backoff from 200 ms doubling to 30 s): each failure is logged and published to
 * model-events as {@code WATCHER_FAILED} with the error, each recovery as {@code WATCHER_RESTARTED},
 * and {@link #isFollowing()} says whether it follows now (for readiness checks and metrics).
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
    private volatile Consumer<ModelSwapEvent> listener = event -> { };
    private volatile ModelArtifacts artifacts;
    private volatile Duration fetchTimeout = Duration.ofSeconds(60);

    /**
     * @param clientProperties {@code bootstrap.servers} and the security settings of its producer
     *     and consumer ({@code MetastreamConfig.clientProperties()})
     */
    public ModelWatcher(Map<String, Object> clientProperties, Topics topics, ModelStore store, String modelName,
            String alias, ActiveModel model, String instanceId) {
        String bootstrapServers = (String) clientProperties.get(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG);
        Map<String, Object> producerProps = new HashMap<>(clientProperties);
        producerProps.put(ProducerConfig.ACKS_CONFIG, "all");
        this.topics = topics;
        this.store = store;
        this.modelName = modelName;
        this.alias = alias;
        this.model = model;
        this.instanceId = instanceId;
        this.producer = new KafkaProducer<>(producerProps, new StringSerializer(), new ByteArraySerializer());
        this.reader = new AssignedConsumerThread("model-watcher", bootstrapServers, clientProperties,
                List.of(topics.models().name()), this::follow)
                .restartOnFailure(Duration.ofMillis(200), Duration.ofSeconds(30), new AssignedConsumerThread.FailureListener() {
                    @Override
                    public void failed(RuntimeException error, int consecutiveFailures, Duration backoff) {
                        LOG.error("model watcher failed ({} in a row); restarting in {} ms; hot swaps wait until then",
                                consecutiveFailures, backoff.toMillis(), error);
                        publishWatcherEvent("WATCHER_FAILED", error.getClass().getSimpleName() + ": "
                                + error.getMessage() + " (failure " + consecutiveFailures + " in a row, restarting in "
                                + backoff.toMillis() + " ms)");
                    }

                    @Override
                    public void recovered(int failures) {
                        LOG.info("model watcher follows {} again after {} failure(s)", topics.models().name(), failures);
                        publishWatcherEvent("WATCHER_RESTARTED", "following again after " + failures + " failure(s)");
                    }
                });
    }

    /** Whether the watcher follows the models topic now; false while it waits to restart or once closed. */
    public boolean isFollowing() {
        return reader.isFollowing();
    }

    /** How many times its consumer failed and was restarted. */
    public int restarts() {
        return reader.restarts();
    }

    /** Makes the watcher's consumer fail once, as a broken one would: for tests and failure drills. */
    public void simulateConsumerFailure(RuntimeException error) {
        reader.simulateFailure(error);
    }

    /**
     * Publishes an event about this instance (not a model change) on model-events, e.g. a stalled
     * adaptation engine: the watcher owns this instance's producer of that topic.
     */
    public void publishInstanceEvent(String status, String reason) {
        publishWatcherEvent(status, reason);
    }

    private void publishWatcherEvent(String status, String reason) {
        String serving = model.base().version();
        ModelSwapEvent event = ModelSwapEvent.newBuilder().setInstanceId(instanceId).setModelName(modelName)
                .setAlias(alias).setFromVersion(serving).setToVersion(serving).setStatus(status).setReason(reason)
                .setLoadMicros(0).setAt(Instant.now()).build();
        publish(event);
    }

    /**
     * Fetches a version the store lacks from the model-artifacts topic before loading it, so the
     * store acts as this instance's cache; without this, every announced version must already be
     * in the store.
     */
    public ModelWatcher fetchingFrom(ModelArtifacts artifacts, Duration timeout) {
        this.artifacts = Objects.requireNonNull(artifacts, "artifacts");
        this.fetchTimeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /**
     * The newest change of {@code modelName}'s {@code alias} on the models topic, read to its end
     * now: what a starting instance serves when its store does not name the alias itself.
     *
     * @throws IllegalStateException if the topic cannot be read within {@code timeout}
     */
    public static Optional<ModelChange> latestChange(Map<String, Object> clientProperties, Topics topics,
            String modelName, String alias, Duration timeout) {
        String key = Topics.modelKey(modelName, alias);
        ModelChange[] latest = new ModelChange[1];
        try {
            TopicSnapshot.read(clientProperties, topics.models().name(), timeout, r -> {
                if (key.equals(r.key())) {
                    try {
                        latest[0] = r.value() == null ? null
                                : topics.models().valueSerde().deserializer().deserialize(r.topic(), r.value());
                    } catch (RuntimeException e) {
                        LOG.error("unreadable model change at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                                e.getMessage());
                    }
                }
            });
        } catch (TopicSnapshot.TopicMissingException e) {
            return Optional.empty();
        }
        return Optional.ofNullable(latest[0]);
    }

    /** Also hands every event it publishes to {@code listener} (metrics, say), on the watcher's thread. */
    public ModelWatcher onEvent(Consumer<ModelSwapEvent> listener) {
        this.listener = Objects.requireNonNull(listener, "listener");
        return this;
    }

    private void publish(ModelSwapEvent event) {
        try {
            listener.accept(event);
        } catch (RuntimeException e) {
            LOG.error("model event listener failed on {}", event.getStatus(), e);
        }
        producer.send(new ProducerRecord<>(topics.modelEvents().name(), instanceId,
                topics.modelEvents().valueSerde().serializer().serialize(topics.modelEvents().name(), event)),
                (metadata, e) -> {
                    if (e != null) {
                        LOG.error("could not publish {} to {}", event.getStatus(), topics.modelEvents().name(), e);
                    }
                });
    }

    /** Reads the models topic from the start (its compacted state), then follows it. */
    public ModelWatcher start() {
        reader.start();
        return this;
    }

    /** Only the newest change of this model's alias in a poll matters. */
    private void follow(ConsumerRecords<String, byte[]> records) {
        String key = Topics.modelKey(modelName, alias);
        ModelChange target = null;
        for (ConsumerRecord<String, byte[]> r : records) {
            if (key.equals(r.key()) && r.value() != null) {
                try {
                    target = topics.models().valueSerde().deserializer().deserialize(r.topic(), r.value());
                } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
                    // One unreadable change is skipped, not retried: the watcher must outlive it.
                    LOG.error("unreadable model change at {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                            e.getMessage());
                    publishWatcherEvent("CHANGE_UNREADABLE", "skipped " + r.topic() + "-" + r.partition() + "@"
                            + r.offset() + ": " + e.getClass().getSimpleName());
                }
            }
        }
        if (target != null) {
            apply(target);
        }
    }

    /**
     * Serves what {@code change} announces, reconciled with the store: the store's alias is moved
     * (and forced to disk) before a change is announced, so when the two differ the store holds a
     * later move, one whose announcement is still on its way or was lost to a crash, and the
     * watcher serves the store's alias rather than go back to the older announcement. The
     * announced digest is checked when the announced version is served.
     */
    void apply(ModelChange change) {
        String version = change.getVersion();
        String digest = change.getArtifactDigest();
        String note = null;
        try {
            String inStore = store.alias(modelName, alias).orElse(null);
            if (inStore != null && !inStore.equals(version)) {
                note = "the store's " + alias + " is " + inStore + ", the models topic said " + version
                        + ": serving the store's, the later move";
                version = inStore;
                digest = null;
            }
        } catch (ModelNotFoundException e) {
            // A cache that holds no version of the model yet: the announcement decides.
        } catch (RuntimeException e) {
            LOG.warn("cannot read {}'s alias {} from the store; going by the announcement: {}", modelName, alias,
                    e.getMessage());
        }
        apply(version, digest, note);
    }

    /**
     * Loads, verifies and swaps in {@code version}; on any failure, a digest other than
     * {@code digest} included, keeps the current base.
     *
     * @param digest the announced digest; null accepts the store's own checksums alone
     * @param note why this version (a reconciliation), for the event's reason; may be null
     */
    void apply(String version, String digest, String note) {
        BaseModel current = model.base();
        String requested = modelName + "@" + version;
        long start = System.nanoTime();
        String status;
        String reason = note;
        if (current.version().equals(requested)) {
            status = "UNCHANGED";
        } else {
            try {
                ModelArtifacts from = artifacts;
                if (from != null && from.fetch(store, modelName, version, digest, fetchTimeout)) {
                    reason = (note == null ? "" : note + "; ") + "fetched from " + from.topic();
                }
                model.swap(BaseModelArtifacts.load(store, modelName, version, digest));
                status = "SWAPPED";
                LOG.info("now serving {} (was {}){}", requested, current.version(), note == null ? "" : "; " + note);
            } catch (RuntimeException e) {
                status = "REFUSED";
                reason = e.getClass().getSimpleName() + ": " + e.getMessage() + (note == null ? "" : "; " + note);
                LOG.error("refused {}; still serving {}: {}", requested, current.version(), reason);
            }
        }
        ModelSwapEvent event = ModelSwapEvent.newBuilder().setInstanceId(instanceId).setModelName(modelName)
                .setAlias(alias).setFromVersion(current.version()).setToVersion(requested).setStatus(status)
                .setReason(reason).setLoadMicros((System.nanoTime() - start) / 1_000).setAt(Instant.now()).build();
        publish(event);
    }

    @Override
    public void close() {
        reader.close();
        if (reader.restarts() > 0) {
            LOG.info("model watcher closed after {} restart(s)", reader.restarts());
        }
        producer.close(Duration.ofSeconds(5));
    }
}

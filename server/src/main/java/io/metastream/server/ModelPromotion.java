package io.metastream.server;

import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.ModelChange;
import io.metastream.store.AliasConflictException;
import io.metastream.store.ModelStore;
import io.metastream.streams.ModelArtifacts;
import io.metastream.streams.ModelWatcher;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.CompactedTopic;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Moves a model alias and tells the fleet. Every move is a compare-and-set on the version the
 * caller expects the alias at ({@link ModelStore#compareAndSetAlias}); a caller that lost a race
 * gets an {@link AliasConflictException} naming both versions, and nothing is written or announced.
 *
 * <p>The three writes happen in this order, so a crash can never leave an announced version the
 * store does not have:
 * <ol>
 * <li>the version is verified (optionally) and its digest read: the sha256 of its manifest;</li>
 * <li>the store moves the alias and appends the history line, both forced to disk, under the
 *     store's lock;</li>
 * <li>with a cluster, the version's files go to the compacted model-artifacts topic
 *     ({@link ModelArtifacts}), then a {@link ModelChange} with the digest to the compacted models
 *     topic, each acknowledged by all in-sync replicas.</li>
 * </ol>
 * A crash between 2 and 3 leaves the alias moved but unannounced: running instances keep serving
 * the old version, an instance that starts serves the store's alias, and the watcher never goes
 * back to an older announcement than the store's alias ({@link ModelWatcher}). Running the same
 * promotion again finds the alias already there, moves nothing, and announces it.
 */
public final class ModelPromotion {
    private ModelPromotion() {
    }

    /**
     * Points {@code alias} at {@code version}, if it still points where it did when this call read it.
     *
     * @param verify load and verify the version first and refuse to promote it if it fails
     * @param bootstrapServers where to announce the change; null to only move the alias in the store
     * @return the change that was made
     * @throws AliasConflictException if the alias moved while the version was being verified
     */
    public static ModelChange promote(ModelStore store, String name, String alias, String version, boolean verify,
            String bootstrapServers, Topics topics) {
        return promote(store, name, alias, version, verify, client(bootstrapServers), topics);
    }

    /**
     * {@link #promote(ModelStore, String, String, String, boolean, String, Topics)} announced by a
     * producer with {@code clientProperties} (bootstrap servers and security settings, as
     * {@code MetastreamConfig.clientProperties()} gives them); null to only move the alias.
     */
    public static ModelChange promote(ModelStore store, String name, String alias, String version, boolean verify,
            Map<String, Object> clientProperties, Topics topics) {
        return compareAndPromote(store, name, alias, store.alias(name, alias).orElse(null), version, verify,
                clientProperties, topics);
    }

    /**
     * Points {@code alias} at {@code version} only if it points at {@code expected} now, then
     * announces it with the version's digest. If the alias already points at {@code version} (and
     * {@code expected} says so) nothing moves and the change is announced again: the way to finish a
     * promotion whose announcement was lost.
     *
     * @param expected the version the caller decided on; null for an alias not set yet
     * @param verify load and verify the version first and refuse to promote it if it fails
     * @param clientProperties the announcing producer's settings; null to only move the alias
     * @return the change that was made
     * @throws AliasConflictException if the alias points elsewhere than {@code expected}
     * @throws io.metastream.store.ModelStoreException if the version is missing or (with {@code verify},
     *     or with a cluster, whose model-artifacts topic only takes verified files) fails to load
     * @throws IllegalStateException if the models topic does not take the announcement
     */
    public static ModelChange compareAndPromote(ModelStore store, String name, String alias, String expected,
            String version, boolean verify, Map<String, Object> clientProperties, Topics topics) {
        String digest = store.digest(name, version);
        if (verify) {
            BaseModelArtifacts.load(store, name, version, digest);
        }
        if (clientProperties != null) {
            // Before the alias moves: a version whose files cannot go out is not promoted at all.
            publishArtifacts(store, name, version, clientProperties, topics);
        }
        store.compareAndSetAlias(name, alias, expected, version);
        return announce(change(name, alias, version, expected, "promote", digest), clientProperties, topics);
    }

    /**
     * Moves {@code alias} back along its promotion history from where this call finds it, and
     * announces it.
     */
    public static ModelChange rollback(ModelStore store, String name, String alias, String bootstrapServers,
            Topics topics) {
        return rollback(store, name, alias, client(bootstrapServers), topics);
    }

    /** {@link #rollback(ModelStore, String, String, String, Topics)} announced with {@code clientProperties}. */
    public static ModelChange rollback(ModelStore store, String name, String alias, Map<String, Object> clientProperties,
            Topics topics) {
        String current = store.alias(name, alias).orElseThrow(() -> new IllegalStateException(
                "alias '" + alias + "' of " + name + " was never set"));
        return compareAndRollback(store, name, alias, current, clientProperties, topics);
    }

    /**
     * If {@code alias} points at {@code expected}, moves it back to the version it pointed at before
     * {@code expected} was promoted ({@link ModelStore#rollback}) and announces it.
     *
     * @throws AliasConflictException if the alias points elsewhere than {@code expected}
     * @throws IllegalStateException if there is nothing earlier, or the models topic does not take it
     */
    public static ModelChange compareAndRollback(ModelStore store, String name, String alias, String expected,
            Map<String, Object> clientProperties, Topics topics) {
        String now = store.rollback(name, alias, expected);
        return announce(store, change(name, alias, now, expected, "rollback", store.digest(name, now)),
                clientProperties, topics);
    }

    /**
     * If {@code alias} points at {@code expected}, points it at {@code target}, records the move as a
     * rollback ({@link ModelStore#rollbackTo}) and announces it: for a caller that knows which
     * version {@code expected} replaced.
     *
     * @throws AliasConflictException if the alias points elsewhere than {@code expected}
     */
    public static ModelChange rollBackTo(ModelStore store, String name, String alias, String expected, String target,
            Map<String, Object> clientProperties, Topics topics) {
        store.rollbackTo(name, alias, expected, target);
        return announce(store, change(name, alias, target, expected, "rollback", store.digest(name, target)),
                clientProperties, topics);
    }

    private static Map<String, Object> client(String bootstrapServers) {
        return bootstrapServers == null ? null : Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    }

    private static ModelChange change(String name, String alias, String version, String previous, String action,
            String digest) {
        return ModelChange.newBuilder().setModelName(name).setAlias(alias).setVersion(version)
                .setPreviousVersion(previous).setAction(action).setChangedAt(Instant.now())
                .setArtifactDigest(digest).build();
    }

    /**
     * Writes the announced version's files to the model-artifacts topic ({@link ModelArtifacts}),
     * so that instances whose stores lack it can fetch it, then {@link #announce announces} it.
     * The files go first: an instance that sees the change finds them there.
     */
    private static ModelChange announce(ModelStore store, ModelChange change, Map<String, Object> clientProperties,
            Topics topics) {
        if (clientProperties != null) {
            publishArtifacts(store, change.getModelName(), change.getVersion(), clientProperties, topics);
        }
        return announce(change, clientProperties, topics);
    }

    /** Writes {@code name@version}'s files, verified, to the model-artifacts topic. */
    private static void publishArtifacts(ModelStore store, String name, String version,
            Map<String, Object> clientProperties, Topics topics) {
        new ModelArtifacts(clientProperties, topics.modelArtifacts().name(), ModelArtifacts.DEFAULT_CHUNK_BYTES,
                ModelArtifacts.DEFAULT_MAX_BYTES).publish(store, name, version);
    }

    /**
     * Publishes {@code change} to the models topic and waits for the broker's acknowledgement.
     *
     * @throws IllegalStateException if the broker does not take it
     */
    public static ModelChange announce(ModelChange change, Map<String, Object> clientProperties, Topics topics) {
        if (clientProperties == null) {
            return change;
        }
        // A promoter may come before any instance: the topic is not there yet.
        CompactedTopic.ensure(clientProperties, topics.models().name(), Map.of());
        Map<String, Object> props = new HashMap<>(clientProperties);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
                new ByteArraySerializer())) {
            String topic = topics.models().name();
            producer.send(new ProducerRecord<>(topic, Topics.modelKey(change.getModelName(), change.getAlias()),
                    topics.models().valueSerde().serializer().serialize(topic, change))).get();
            return change;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while announcing " + change, e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the models topic did not take " + change.getModelName() + "@"
                    + change.getVersion() + ": " + e.getCause().getMessage() + " (if the store's alias '"
                    + change.getAlias() + "' points at " + change.getVersion() + ", promoting " + change.getVersion()
                    + " again announces it)", e.getCause());
        }
    }
}

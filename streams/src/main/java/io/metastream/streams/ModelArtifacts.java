package io.metastream.streams;

import io.metastream.schemas.ArtifactChunk;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.store.CorruptArtifactException;
import io.metastream.store.LoadedArtifact;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelNotFoundException;
import io.metastream.store.ModelStore;
import io.metastream.store.ModelStoreException;
import io.metastream.store.Sha256;
import io.metastream.streams.internals.CompactedTopic;
import io.metastream.streams.internals.TopicSnapshot;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Base-model versions carried by Kafka, so that instances on machines that share no disk serve
 * the same artifacts: a promoter writes a version's files to the compacted model-artifacts topic
 * before it announces the version on the models topic, and every instance that lacks the version
 * reads them back into its own local store, which then acts as a cache.
 *
 * <p>Each file (the manifest, {@code manifest.json}, included) is cut into chunks of at most
 * {@code chunkBytes}, each one record keyed {@code <model>/<version>/<manifest digest>/<file>/<index>}
 * ({@link ArtifactChunk}). The key holds the digest so that two stores' different artifacts under
 * one version number never overwrite each other on the compacted topic. Reading back checks every
 * file's sha256, the manifest's against the announced digest, and bounds what it holds to
 * {@code maxArtifactBytes}; a chunk that is missing or does not check out makes the version fail,
 * with a reason that names it, and nothing is written to the store.
 */
public final class ModelArtifacts {
    private static final Logger LOG = LoggerFactory.getLogger(ModelArtifacts.class);
    /** The manifest's file name in a version (as the store names it). */
    public static final String MANIFEST_FILE = "manifest.json";
    /**
     * The chunk size every promoter writes: half the broker's default message limit, so a chunk and
     * its record overhead fit any topic left at the defaults.
     */
    public static final int DEFAULT_CHUNK_BYTES = 512 * 1024;
    /** {@code model.artifacts.max.bytes}' default. */
    public static final long DEFAULT_MAX_BYTES = 1L << 30;
    /** Most chunks a file may declare: with the smallest chunk size that is 1 GiB. */
    static final int MAX_CHUNKS = 1 << 20;

    private final Map<String, Object> clientProperties;
    private final String topic;
    private final int chunkBytes;
    private final long maxArtifactBytes;
    private final AvroSerde<ArtifactChunk> serde = new AvroSerde<>(ArtifactChunk.class);

    /**
     * @param clientProperties bootstrap servers and the security settings of the cluster
     *     ({@code MetastreamConfig.clientProperties()})
     * @param topic the compacted model-artifacts topic
     * @param chunkBytes the largest chunk written; keep it under the topic's {@code max.message.bytes}
     * @param maxArtifactBytes the most bytes one version may hold when read back
     */
    public ModelArtifacts(Map<String, Object> clientProperties, String topic, int chunkBytes, long maxArtifactBytes) {
        if (chunkBytes < 1 || maxArtifactBytes < 1) {
            throw new IllegalArgumentException("chunkBytes and maxArtifactBytes must be positive, were: " + chunkBytes
                    + ", " + maxArtifactBytes);
        }
        this.clientProperties = Map.copyOf(clientProperties);
        this.topic = topic;
        this.chunkBytes = chunkBytes;
        this.maxArtifactBytes = maxArtifactBytes;
    }

    /** As configured: {@code topic.model.artifacts}, {@code model.artifacts.max.bytes}; chunks of {@link #DEFAULT_CHUNK_BYTES}. */
    public static ModelArtifacts from(MetastreamConfig config) {
        return new ModelArtifacts(config.clientProperties(), config.getString(MetastreamConfig.TOPIC_MODEL_ARTIFACTS_CONFIG),
                DEFAULT_CHUNK_BYTES,
                config.getLong(MetastreamConfig.MODEL_ARTIFACTS_MAX_BYTES_CONFIG));
    }

    /** The topic's name. */
    public String topic() {
        return topic;
    }

    /**
     * Writes every file of {@code name@version}, verified first, to the topic (created, compacted
     * with one partition, if missing) and waits until all in-sync replicas have every chunk. Writing
     * a version again is harmless: the same keys, the same bytes.
     *
     * @return the version's digest, as a {@link io.metastream.schemas.ModelChange} announces it
     * @throws ModelStoreException if the version does not load and verify
     * @throws IllegalStateException if the topic does not take every chunk
     */
    public String publish(ModelStore store, String name, String version) {
        LoadedArtifact artifact = store.load(name, version);
        byte[] manifest = store.manifestBytes(name, version);
        String digest = Sha256.hex(manifest);
        artifact.requireDigest(digest);
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(MANIFEST_FILE, manifest);
        files.putAll(artifact.files());
        ensureTopic();
        Map<String, Object> p = new HashMap<>(clientProperties);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        // A chunk plus its record overhead must fit one request.
        p.putIfAbsent(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, maxMessageBytes(chunkBytes));
        int chunks = 0;
        long bytes = 0;
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                new ByteArraySerializer())) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                byte[] data = file.getValue();
                String sha = Sha256.hex(data);
                int count = Math.max(1, (int) ((data.length + (long) chunkBytes - 1) / chunkBytes));
                for (int i = 0; i < count; i++) {
                    int from = i * chunkBytes;
                    int to = Math.min(data.length, from + chunkBytes);
                    ArtifactChunk chunk = ArtifactChunk.newBuilder().setModelName(name).setVersion(version)
                            .setManifestDigest(digest).setFile(file.getKey()).setFileSha256(sha)
                            .setFileSize(data.length).setChunkIndex(i).setChunkCount(count)
                            .setData(ByteBuffer.wrap(data, from, to - from).slice()).build();
                    sent.add(producer.send(new ProducerRecord<>(topic, key(name, version, digest, file.getKey(), i),
                            serde.serializer().serialize(topic, chunk))));
                    chunks++;
                }
                bytes += data.length;
            }
            for (Future<RecordMetadata> f : sent) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while writing " + name + "@" + version + " to " + topic, e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the topic " + topic + " did not take the artifact " + name + "@" + version
                    + ": " + e.getCause().getMessage(), e.getCause());
        }
        LOG.info("wrote {}@{} to {}: {} file(s), {} bytes, {} chunk(s), digest {}", name, version, topic, files.size(),
                bytes, chunks, digest);
        return digest;
    }

    /**
     * Makes {@code name@version} present in {@code into}: nothing to do if it is there already,
     * else its chunks are read from the topic, checked against {@code digest} and every file's
     * sha256, and installed ({@link ModelStore#install}).
     *
     * @param digest the announced manifest digest; required, since the topic may hold several
     *     artifacts under one version number
     * @return true if it was read from the topic, false if the store had it
     * @throws ModelNotFoundException if the topic holds no chunk of that artifact (or does not exist)
     * @throws CorruptArtifactException if a chunk is missing, a file or the manifest does not match
     *     its sha256, or the artifact is larger than allowed
     * @throws IllegalStateException if the topic cannot be read within {@code timeout}
     */
    public boolean fetch(ModelStore into, String name, String version, String digest, Duration timeout) {
        if (holds(into, name, version)) {
            return false;
        }
        if (digest == null || digest.isBlank()) {
            throw new ModelNotFoundException("cannot fetch " + name + "@" + version + " from " + topic
                    + ": its announcement carries no digest (written before digests)");
        }
        long started = System.nanoTime();
        Assembly assembly = new Assembly(name, version, digest.toLowerCase(java.util.Locale.ROOT));
        try {
            TopicSnapshot.read(clientProperties, topic, timeout, r -> assembly.take(r.key(), r.value()));
        } catch (TopicSnapshot.TopicMissingException e) {
            throw new ModelNotFoundException("cannot fetch " + name + "@" + version + ": " + e.getMessage());
        }
        Map<String, byte[]> files = assembly.files();
        byte[] manifest = files.remove(MANIFEST_FILE);
        into.install(name, version, manifest, files);
        LOG.info("fetched {}@{} from {} into the local store: {} file(s), {} bytes in {} ms", name, version, topic,
                files.size() + 1, assembly.held, (System.nanoTime() - started) / 1_000_000);
        return true;
    }

    /**
     * Creates the topic, compacted with one partition, if it does not exist: every instance reads
     * it whole, rarely, so one partition keeps that one sequential read.
     */
    public void ensureTopic() {
        CompactedTopic.ensure(clientProperties, topic, Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG,
                Integer.toString(maxMessageBytes(chunkBytes))));
    }

    /** The {@code max.message.bytes} a topic needs for chunks of {@code chunkBytes}: their record overhead included. */
    public static int maxMessageBytes(int chunkBytes) {
        return Math.max(1 << 20, chunkBytes + (64 << 10));
    }

    /** The record key of one chunk. */
    static String key(String name, String version, String digest, String file, int index) {
        return name + "/" + version + "/" + digest + "/" + file + "/" + index;
    }

    private static boolean holds(ModelStore store, String name, String version) {
        try {
            store.digest(name, version);
            return true;
        } catch (ModelNotFoundException e) {
            return false;
        }
    }

    /** The chunks of one artifact gathered from the topic, the newest record of each key winning. */
    private final class Assembly {
        private final String name;
        private final String version;
        private final String digest;
        private final String prefix;
        /**
         * file name → chunk count → chunks by index (a file written with two chunk sizes has two
         * copies). Maps, not arrays: a count read from the topic must not size an allocation.
         */
        private final Map<String, Map<Integer, Map<Integer, ArtifactChunk>>> byFile = new TreeMap<>();
        private long held;
        private int unreadable;

        Assembly(String name, String version, String digest) {
            this.name = name;
            this.version = version;
            this.digest = digest;
            this.prefix = name + "/" + version + "/" + digest + "/";
        }

        private String ref() {
            return name + "@" + version;
        }

        void take(String key, byte[] value) {
            if (key == null || !key.startsWith(prefix)) {
                return;
            }
            if (value == null) {
                forget(key.substring(prefix.length()));
                return;
            }
            ArtifactChunk c;
            try {
                c = serde.deserializer().deserialize(topic, value);
            } catch (RuntimeException e) {
                // It still replaces whatever had its key, as compaction will: the read must not
                // depend on whether the broker has compacted yet.
                forget(key.substring(prefix.length()));
                unreadable++;
                LOG.warn("unreadable chunk {} on {}: {}", key, topic, e.getMessage());
                return;
            }
            String file = c.getFile();
            int count = c.getChunkCount();
            int index = c.getChunkIndex();
            if (!key.equals(key(c.getModelName(), c.getVersion(), c.getManifestDigest(), file, index))
                    || count < 1 || count > MAX_CHUNKS || index < 0 || index >= count
                    || c.getFileSize() < 0 || c.getData().remaining() > c.getFileSize()) {
                forget(key.substring(prefix.length()));
                unreadable++;
                LOG.warn("chunk {} on {} does not describe itself consistently; ignored", key, topic);
                return;
            }
            if (c.getFileSize() > maxArtifactBytes) {
                throw new CorruptArtifactException(ref(), file, "its size on " + topic + ", " + c.getFileSize()
                        + " bytes, exceeds " + maxArtifactBytes + " (model.artifacts.max.bytes)", null);
            }
            // One record per key survives compaction: this one replaces whatever had its key, in
            // whichever copy (chunk count) that was.
            forget(file + "/" + index);
            Map<Integer, ArtifactChunk> chunks = byFile.computeIfAbsent(file, f -> new TreeMap<>())
                    .computeIfAbsent(count, n -> new HashMap<>());
            held += c.getData().remaining();
            if (held > maxArtifactBytes) {
                throw new CorruptArtifactException(ref(), file, "its chunks on " + topic + " exceed "
                        + maxArtifactBytes + " bytes (model.artifacts.max.bytes)", null);
            }
            chunks.put(index, c);
        }

        /** A tombstone deletes the chunk its key names, as compaction will. */
        private void forget(String fileAndIndex) {
            int slash = fileAndIndex.lastIndexOf('/');
            if (slash < 0) {
                return;
            }
            Map<Integer, Map<Integer, ArtifactChunk>> copies = byFile.get(fileAndIndex.substring(0, slash));
            if (copies == null) {
                return;
            }
            try {
                int index = Integer.parseInt(fileAndIndex.substring(slash + 1));
                for (Map<Integer, ArtifactChunk> chunks : copies.values()) {
                    ArtifactChunk gone = chunks.remove(index);
                    if (gone != null) {
                        held -= gone.getData().remaining();
                    }
                }
            } catch (NumberFormatException e) {
                // not a chunk key of ours
            }
        }

        /**
         * The manifest, checked against the digest, and exactly the files it lists, each complete
         * and matching its sha256 (chunks of files it does not list are ignored).
         */
        Map<String, byte[]> files() {
            if (byFile.isEmpty()) {
                throw new ModelNotFoundException("no chunk of " + ref() + " with digest " + digest + " on " + topic
                        + (unreadable > 0 ? " (" + unreadable + " unreadable)" : "")
                        + ": promote it with --bootstrap-server to write it there");
            }
            Map<String, byte[]> files = new LinkedHashMap<>();
            byte[] manifest = assemble(MANIFEST_FILE);
            String actual = Sha256.hex(manifest);
            if (!actual.equals(digest)) {
                throw new CorruptArtifactException(ref(), MANIFEST_FILE, "sha256 " + actual + " on " + topic
                        + " is not the announced digest " + digest, null);
            }
            files.put(MANIFEST_FILE, manifest);
            for (String file : ModelManifest.parse(name, version, manifest).files().keySet()) {
                files.put(file, assemble(file));
            }
            return files;
        }

        /** The first complete, matching copy of a file; else the reason none is. */
        private byte[] assemble(String file) {
            Map<Integer, Map<Integer, ArtifactChunk>> copies = byFile.get(file);
            if (copies == null) {
                throw new CorruptArtifactException(ref(), file, "missing on " + topic, null);
            }
            String why = null;
            for (Map.Entry<Integer, Map<Integer, ArtifactChunk>> copy : copies.entrySet()) {
                int count = copy.getKey();
                Map<Integer, ArtifactChunk> byIndex = copy.getValue();
                if (byIndex.size() < count) {
                    int missing = 0;
                    while (byIndex.containsKey(missing)) {
                        missing++;
                    }
                    why = "chunk " + missing + " of " + count + " missing on " + topic;
                    continue;
                }
                List<ArtifactChunk> chunks = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    chunks.add(byIndex.get(i));
                }
                long size = chunks.get(0).getFileSize();
                String sha = chunks.get(0).getFileSha256();
                long sum = 0;
                for (ArtifactChunk c : chunks) {
                    sum += c.getData().remaining();
                }
                if (sum != size) {
                    why = "its chunks hold " + sum + " bytes, the file " + size;
                    continue;
                }
                byte[] bytes = new byte[(int) size];
                int at = 0;
                for (ArtifactChunk c : chunks) {
                    ByteBuffer data = c.getData().duplicate();
                    int n = data.remaining();
                    data.get(bytes, at, n);
                    at += n;
                }
                String actual = Sha256.hex(bytes);
                if (!actual.equals(sha)) {
                    why = "sha256 mismatch on " + topic + ": expected " + sha + ", actual " + actual;
                    continue;
                }
                return bytes;
            }
            throw new CorruptArtifactException(ref(), file, why, null);
        }
    }
}

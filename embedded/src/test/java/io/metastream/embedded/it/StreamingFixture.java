package io.metastream.embedded.it;

import ai.djl.Device;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.learn.BaseModel;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.TaskEncoderTrainer;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.server.MetastreamApp;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.AssignedConsumerThread;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A real broker, a model store with a few quickly meta-trained versions, pipeline instances, a
 * producer of sinusoid traffic and a read-committed collector of everything the pipeline
 * publishes: the parts the model life-cycle tests share.
 */
final class StreamingFixture implements AutoCloseable {
    static final String MODEL = "sine";
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);

    final Path dir;
    final EmbeddedPipeline pipeline;
    final EmbeddedKafkaBroker broker;
    final LocalDirectoryModelStore store;
    final Topics topics = Topics.defaults();
    final KafkaProducer<String, byte[]> producer;
    final List<Prediction> predictions = new CopyOnWriteArrayList<>();
    /** Each prediction with its partition, appended as one entry so the two never drift apart. */
    final List<Map.Entry<Integer, Prediction>> predictionsByPartition = new CopyOnWriteArrayList<>();
    final List<ModelSwapEvent> swaps = new CopyOnWriteArrayList<>();
    final Map<String, Float> queryFeatures = new java.util.concurrent.ConcurrentHashMap<>();
    /** The sinusoid behind each task sent by {@link #sendTasks}, to score predictions against. */
    final Map<String, SinusoidTasks.Sinusoid> sines = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, List<byte[]>> sentSamples = new java.util.concurrent.ConcurrentHashMap<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final AssignedConsumerThread collector;
    private final Random random = new Random(5);
    private volatile Deserializer<Prediction> predictionReader = topics.predictions().valueSerde().deserializer();

    StreamingFixture(Path dir) {
        this(EmbeddedPipeline.builder().directory(dir).start());
    }

    /** The same on {@code broker}, which the fixture closes; its {@code clientProperties} reach every client. */
    StreamingFixture(Path dir, EmbeddedKafkaBroker broker) {
        this(EmbeddedPipeline.builder().directory(dir).broker(broker).start());
    }

    private StreamingFixture(EmbeddedPipeline pipeline) {
        this.pipeline = pipeline;
        this.dir = pipeline.directory();
        this.broker = pipeline.broker();
        this.store = new LocalDirectoryModelStore(dir.resolve("models"));
        Map<String, Object> producerProps = new HashMap<>(broker.clientProperties());
        producerProps.putAll(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 1));
        this.producer = new KafkaProducer<>(producerProps, new StringSerializer(), new ByteArraySerializer());
        Map<String, Integer> partitions = new HashMap<>();
        for (String name : topics.names()) {
            partitions.put(name, name.equals(topics.models().name()) ? 1 : 4);
        }
        broker.createTopics(partitions);
        Map<String, Object> collectorProps = new HashMap<>(broker.clientProperties());
        collectorProps.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        this.collector = new AssignedConsumerThread("fixture-collector", broker.bootstrapServers(), collectorProps,
                List.of(topics.predictions().name(), topics.modelEvents().name()),
                records -> records.forEach(this::collect)).start();
    }

    /** The broker's state of each transaction of {@code transactionalIds}. */
    Map<String, TransactionState> transactionStates(List<String> transactionalIds) {
        try (Admin admin = Admin.create(adminProperties())) {
            Map<String, TransactionState> states = new HashMap<>();
            admin.describeTransactions(transactionalIds).all().get()
                    .forEach((id, description) -> states.put(id, description.state()));
            return states;
        } catch (Exception e) {
            throw new IllegalStateException("cannot describe transactions " + transactionalIds, e);
        }
    }

    private Map<String, Object> adminProperties() {
        Map<String, Object> props = new HashMap<>(broker.clientProperties());
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        return props;
    }

    /** Meta-trains briefly with {@code seed} and publishes the result as the model's next version. */
    ManifestRef publishVersion(long seed) {
        return publishVersion(store, seed);
    }

    /** As {@link #publishVersion(long)}, into {@code store}. */
    static ManifestRef publishVersion(ModelStore store, long seed) {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(150).withSeed(seed);
        float[] p = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, Device.cpu())
                .train(new SinusoidTasks(), plan, (d, t, l) -> { }).parameters();
        ModelManifest m = BaseModelArtifacts.publish(store, MODEL, "reptile", plan.architecture(), p,
                plan.adaptation(), Map.of("seed", seed));
        return new ManifestRef(m.version(), m.ref());
    }

    /** Meta-trains a task encoder briefly with {@code seed} and publishes it as the model's next version. */
    ManifestRef publishTaskEncoder(long seed, int iterations) {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(iterations).withShots(20)
                .withSeed(seed);
        BaseModel base = new TaskEncoderTrainer(Device.cpu(), 16).train(new SinusoidTasks(), plan, (d, t, l) -> { })
                .base(MODEL + "@draft");
        ModelManifest m = BaseModelArtifacts.publish(store, MODEL, base, Map.of("seed", seed));
        return new ManifestRef(m.version(), m.ref());
    }

    record ManifestRef(String version, String ref) {
    }

    /** Starts an instance serving {@code MODEL@production} that follows the models topic. */
    MetastreamApp startInstance(String instanceId) {
        return startInstance(instanceId, Map.of());
    }

    /** Starts an instance with some settings overridden. */
    MetastreamApp startInstance(String instanceId, Map<String, Object> overrides) {
        return startInstance(instanceId, overrides, store);
    }

    /** Starts an instance whose model store is {@code modelStore} (its own cache, say), not the fixture's. */
    MetastreamApp startInstance(String instanceId, Map<String, Object> overrides, ModelStore modelStore) {
        // state-<instanceId> under dir, the broker's address and security: the pipeline's part.
        Map<String, Object> settings = new HashMap<>(Map.of(
                MetastreamConfig.APPLICATION_ID_CONFIG, "lifecycle",
                MetastreamConfig.MODEL_NAME_CONFIG, MODEL,
                MetastreamConfig.INSTANCE_ID_CONFIG, instanceId));
        settings.putAll(overrides);
        MetastreamApp app = pipeline.app(settings).modelStore(modelStore).startTimeout(Duration.ofSeconds(90)).start();
        closeables.add(app);
        return app;
    }

    /** Starts a child-JVM instance that is killed when the fixture closes, whatever the test did. */
    ChildInstance startChild(String name, Map<String, String> settings) throws java.io.IOException {
        return startChild(name, settings, "768m");
    }

    /** As {@link #startChild(String, Map)}, with {@code -Xmx<heap>}. */
    ChildInstance startChild(String name, Map<String, String> settings, String heap) throws java.io.IOException {
        ChildInstance child = ChildInstance.start(dir, name, settings, heap);
        closeables.add(() -> {
            if (child.isAlive()) {
                child.kill();
            }
        });
        return child;
    }

    /** Sends {@code samples} samples then {@code queries} queries for each task; returns the query ids. */
    List<String> sendTasks(String prefix, int tasks, int samples, int queries) {
        List<String> ids = new ArrayList<>();
        for (int t = 0; t < tasks; t++) {
            String task = prefix + t;
            SinusoidTasks.Sinusoid sine = new SinusoidTasks().sampleTask(random);
            sines.put(task, sine);
            for (int i = 0; i < samples; i++) {
                float x = random.nextFloat() * 10 - 5;
                byte[] sample = SAMPLES.encode(LabelledSample.newBuilder().setEventId(task + "-s" + i)
                        .setTaskId(task).setFeatures(List.of(x)).setTarget(sine.value(x))
                        .setEventTime(Instant.now()).build());
                sentSamples.computeIfAbsent(task, k -> new CopyOnWriteArrayList<>()).add(sample);
                send(topics.samples().name(), task, sample);
            }
            for (int q = 0; q < queries; q++) {
                String id = task + "-q" + q;
                ids.add(id);
                sendQuery(task, id, random.nextFloat() * 10 - 5);
            }
        }
        producer.flush();
        return ids;
    }

    /** Sends every sample of {@code task} again, byte for byte, as a retrying producer would. */
    void redeliverSamples(String task) {
        for (byte[] sample : sentSamples.getOrDefault(task, List.of())) {
            send(topics.samples().name(), task, sample);
        }
        producer.flush();
    }

    /** One query, remembered so a later query can ask the same thing. */
    void sendQuery(String task, String queryId, float x) {
        queryFeatures.put(queryId, x);
        send(topics.queries().name(), task, QUERIES.encode(PredictionRequest.newBuilder().setQueryId(queryId)
                .setTaskId(task).setFeatures(List.of(x)).setEventTime(Instant.now()).build()));
    }

    Prediction prediction(String queryId) {
        return predictions.stream().filter(p -> p.getQueryId().equals(queryId)).findFirst().orElseThrow();
    }

    /** Sends raw bytes (a malformed record, say); flush before expecting it. */
    void send(String topic, String key, byte[] value) {
        producer.send(new ProducerRecord<>(topic, key, value));
    }

    /** Waits until {@code condition} holds, failing after {@code timeout}. */
    static void await(Duration timeout, String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what, e);
            }
        }
    }

    boolean answered(List<String> queryIds) {
        return predictions.stream().map(Prediction::getQueryId).filter(queryIds::contains).distinct().count()
                == queryIds.size();
    }

    /** How the collector reads predictions: single-object encoding unless a test says otherwise. */
    void readPredictionsWith(Deserializer<Prediction> deserializer) {
        predictionReader = deserializer;
    }

    private void collect(ConsumerRecord<String, byte[]> r) {
        if (r.topic().equals(topics.predictions().name())) {
            Prediction p = predictionReader.deserialize(r.topic(), r.value());
            predictionsByPartition.add(Map.entry(r.partition(), p));
            predictions.add(p);
        } else {
            swaps.add(topics.modelEvents().valueSerde().deserializer().deserialize(r.topic(), r.value()));
        }
    }

    @Override
    public void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        collector.close();
        producer.close();
        pipeline.close();
    }
}

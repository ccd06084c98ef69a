package io.metastream.server;

import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.serde.RegistryAvroCodec;
import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.server.http.HttpSettings;
import io.metastream.server.http.OperationsServer;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelNotFoundException;
import io.metastream.store.ModelStore;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.DeadLetterCounters;
import io.metastream.streams.ErrorsToDeadLetters;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.MetastreamTopology;
import io.metastream.streams.ModelArtifacts;
import io.metastream.streams.ModelWatcher;
import io.metastream.streams.Topics;
import io.metastream.streams.TopologySettings;
import io.metastream.streams.internals.PipelineNames;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running metastream instance: the topology from {@link MetastreamTopology}, a
 * {@link KafkaStreams} client, and the model it serves. Started only through {@link #builder}, by
 * {@code run}, the demos, the benchmarks and the integration tests alike.
 */
public final class MetastreamApp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MetastreamApp.class);

    private final MetastreamConfig config;
    private final Topics topics;
    private final ActiveModel model;
    private final KafkaStreams streams;
    private final AdaptationEngine engine;
    private final ModelStore store;
    private final DeadLetterCounters handlerDeadLetters;
    private final ErrorsToDeadLetters.SideProducer deadLetterSide;
    private final ScheduledExecutorService stallWatch;
    private volatile boolean engineStalled;
    private final Map<String, BooleanSupplier> readinessChecks = new ConcurrentHashMap<>();
    private final MeterRegistry registry;
    private final MetastreamMetrics metrics;
    private final KafkaStreamsMetrics streamsMetrics;
    /** The JVM's and the process's meters (GC, RSS); closing stops the GC listeners. */
    private final ProcessMeters processMeters;
    private final OperationsServer http;
    private final OperationsServer metricsServer;
    private final HostInfo self;
    /** The registry the output schemas are registered in ({@code schema.registry.outputs}), or null. */
    private final SchemaRegistryClient outputRegistry;
    private volatile ModelWatcher watcher;
    private final boolean ownsModel;

    /**
     * The one way to start an instance, for {@code run}, the demos, the benchmarks and the tests
     * alike: {@code MetastreamApp.builder(config).model(base).start()}.
     */
    public static Builder builder(MetastreamConfig config) {
        return new Builder(config);
    }

    /**
     * What an instance serves and reports to; {@link #start()} starts it. Without {@link #model},
     * the base that {@code model.name} and {@code model.alias} name is loaded from the
     * {@link #modelStore} (by default the directory {@code model.store.dir}). The engine is started
     * with {@code djl.threads} libtorch threads unless something in this JVM started it first.
     */
    public static final class Builder {
        private final MetastreamConfig config;
        private BaseModel base;
        private ActiveModel model;
        private ModelStore store;
        private MeterRegistry registry;
        private Duration startTimeout = Duration.ofMinutes(5);
        private final Map<String, BooleanSupplier> readinessChecks = new LinkedHashMap<>();
        private Consumer<Topics> beforeProcessing = topics -> { };

        private Builder(MetastreamConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** Serves {@code base} on {@link DjlRuntime#defaultDevice()}; the instance owns that model and closes it. */
        public Builder model(BaseModel base) {
            refuseSecondModel();
            this.base = Objects.requireNonNull(base, "base");
            return this;
        }

        /** Serves {@code model}, which the caller owns and closes after the instance. */
        public Builder model(ActiveModel model) {
            refuseSecondModel();
            this.model = Objects.requireNonNull(model, "model");
            return this;
        }

        private void refuseSecondModel() {
            if (base != null || model != null) {
                throw new IllegalStateException("a model to serve is already set: "
                        + (base != null ? base.version() : model.base().version()));
            }
        }

        /**
         * Where hot-swapped versions are loaded from when {@code model.watch} is on, and the base
         * too when no {@link #model} is given. Without a store and with a model, the instance serves
         * that model only.
         */
        public Builder modelStore(ModelStore store) {
            this.store = Objects.requireNonNull(store, "store");
            return this;
        }

        /**
         * Where metastream's meters, Kafka Streams' and the JVM's go (the application's own
         * registry, say); by default a new Prometheus registry. {@code /metrics} is served only
         * when it is a {@link PrometheusMeterRegistry}.
         */
        public Builder meterRegistry(MeterRegistry registry) {
            this.registry = Objects.requireNonNull(registry, "registry");
            return this;
        }

        /** As {@link MetastreamApp#readinessCheck}, from the start. */
        public Builder readinessCheck(String reason, BooleanSupplier ok) {
            readinessChecks.put(Objects.requireNonNull(reason, "reason"),
                    Objects.requireNonNull(ok, "ok"));
            return this;
        }

        /** How long {@link #start()} waits for Kafka Streams to reach RUNNING (5 minutes by default). */
        public Builder startTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("startTimeout must be positive, got " + timeout);
            }
            this.startTimeout = timeout;
            return this;
        }

        /**
         * Runs {@code action} once the topics exist and before any record is processed (to produce
         * a backlog the instance then drains, say).
         */
        public Builder beforeProcessing(Consumer<Topics> action) {
            this.beforeProcessing = Objects.requireNonNull(action, "action");
            return this;
        }

        /**
         * Creates the missing topics (with {@code topic.create}), checks that samples and queries
         * are co-partitioned, starts processing and the HTTP servers, and returns once Kafka
         * Streams is RUNNING; the model watcher then follows the models topic.
         *
         * @throws ConfigException if samples and queries have different partition counts
         * @throws IllegalStateException if the instance does not reach RUNNING within the start
         *     timeout, or the output schemas cannot be registered
         */
        public MetastreamApp start() {
            startEngine(config);
            ModelStore source = store;
            ActiveModel serving = model;
            boolean owns = serving == null;
            if (serving == null) {
                BaseModel served = base;
                if (served == null) {
                    if (source == null) {
                        source = new LocalDirectoryModelStore(
                                Path.of(config.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG)));
                    }
                    served = loadServedBase(config, source);
                }
                serving = new ActiveModel(served);
            }
            LOG.info("serving base {}", serving.base());
            MetastreamApp app;
            try {
                app = new MetastreamApp(config, serving, source,
                        registry != null ? registry : new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), owns);
            } catch (RuntimeException e) {
                if (owns) {
                    serving.close();
                }
                throw e;
            }
            try {
                readinessChecks.forEach(app::readinessCheck);
                app.ensureTopics();
                beforeProcessing.accept(app.topics());
                app.start(startTimeout);
                return app;
            } catch (RuntimeException e) {
                app.close();
                throw e;
            }
        }
    }

    /**
     * The base this instance starts with: the store's alias, as before. A store that does not name
     * the alias (an empty {@code model.store.dir} on a new machine, a cache that never held this
     * model) serves what the models topic announces, fetched from the model-artifacts topic
     * first if the store lacks it ({@code model.artifacts.fetch}): so the instance has its base
     * before it reports ready.
     *
     * @throws ModelNotFoundException if neither the store nor the models topic names a version, or the
     *     store does not and the topic cannot be read
     */
    private static BaseModel loadServedBase(MetastreamConfig config, ModelStore store) {
        String name = config.getString(MetastreamConfig.MODEL_NAME_CONFIG);
        String alias = config.getString(MetastreamConfig.MODEL_ALIAS_CONFIG);
        // model.alias may pin a version ("3"): aliases never start with a digit (ModelStore).
        boolean pinned = !alias.isEmpty() && Character.isDigit(alias.charAt(0));
        if (!config.getBoolean(MetastreamConfig.MODEL_ARTIFACTS_FETCH_CONFIG) || pinned
                || storeNames(store, name, alias)) {
            return BaseModelArtifacts.load(store, name, alias);
        }
        Topics topics = Topics.from(config);
        Duration timeout = Duration.ofMillis(config.getLong(MetastreamConfig.MODEL_ARTIFACTS_FETCH_TIMEOUT_MS_CONFIG));
        String missing = "no " + name + " alias '" + alias + "' in the model store "
                + config.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG);
        ModelChange announced;
        try {
            announced = ModelWatcher.latestChange(config.clientProperties(), topics, name, alias, timeout)
                    .orElseThrow(() -> new ModelNotFoundException(missing + " and none announced on "
                            + topics.models().name() + ": promote a version, with --bootstrap-server to reach every "
                            + "instance (models promote " + name + " VERSION --bootstrap-server HOST:PORT)"));
        } catch (IllegalStateException | org.apache.kafka.common.KafkaException e) {
            // The store cannot serve, and the cluster that could say what to serve does not answer.
            ModelNotFoundException failure = new ModelNotFoundException(missing + ", and the models topic "
                    + topics.models().name() + " could not be read to find the announced version: " + e.getMessage());
            failure.initCause(e);
            throw failure;
        }
        if (ModelArtifacts.from(config).fetch(store, name, announced.getVersion(), announced.getArtifactDigest(),
                timeout)) {
            LOG.info("fetched {}@{}, announced on {}, from {} into {}", name, announced.getVersion(),
                    topics.models().name(), topics.modelArtifacts().name(),
                    config.getString(MetastreamConfig.MODEL_STORE_DIR_CONFIG));
        }
        return BaseModelArtifacts.load(store, name, announced.getVersion(), announced.getArtifactDigest());
    }

    /** Whether the store names {@code alias} of {@code name}; false for a model it holds no version of. */
    private static boolean storeNames(ModelStore store, String name, String alias) {
        try {
            return store.alias(name, alias).isPresent();
        } catch (ModelNotFoundException e) {
            return false;
        }
    }

    /**
     * Starts the engine with {@code djl.threads}. libtorch takes its thread count once per JVM,
     * so an engine started earlier (by a test, or with {@code -Dai.djl.pytorch.num_threads}) wins;
     * a {@code djl.threads} set explicitly and not honoured is said in the log, not dropped silently.
     */
    private static void startEngine(MetastreamConfig config) {
        int wanted = config.getInt(MetastreamConfig.DJL_THREADS_CONFIG);
        DjlRuntime.start(wanted);
        int running = DjlRuntime.intraOpThreads();
        if (running != wanted && config.originals().containsKey(MetastreamConfig.DJL_THREADS_CONFIG)) {
            LOG.warn("{}={} not applied: the engine in this JVM already runs {} intra-op thread(s) (set before it "
                    + "loaded, by an earlier start or ai.djl.pytorch.num_threads)",
                    MetastreamConfig.DJL_THREADS_CONFIG, wanted, running);
        }
    }

    /**
     * Runs until the JVM is told to stop (SIGTERM): then flushes, commits and closes the stores
     * before the JVM exits.
     */
    public void serveUntilShutdown() throws InterruptedException {
        serveUntilShutdown(() -> { });
    }

    /**
     * As {@link #serveUntilShutdown()}, running {@code whenStopped} on the shutdown hook's thread
     * once the instance is closed (to say so on a console: the library itself only logs).
     */
    public void serveUntilShutdown(Runnable whenStopped) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                close();
                LOG.info("stopped cleanly");
                whenStopped.run();
            } finally {
                stopped.countDown();
            }
        }, "metastream-shutdown"));
        LOG.info("running; topics {}", topics.names());
        stopped.await();
    }

    /** Builds the client, servers and meters; {@link Builder#start()} then starts them. */
    private MetastreamApp(MetastreamConfig config, ActiveModel model, ModelStore store, MeterRegistry registry,
            boolean ownsModel) {
        this.ownsModel = ownsModel;
        this.store = store;
        this.registry = registry;
        this.metrics = MetastreamMetrics.of(registry, "");
        this.handlerDeadLetters = new DeadLetterCounters(metrics);
        this.config = config;
        Optional<SchemaRegistryClient> schemaRegistry = config.schemaRegistry();
        boolean registryOutputs = config.getBoolean(MetastreamConfig.SCHEMA_REGISTRY_OUTPUTS_CONFIG);
        this.outputRegistry = registryOutputs ? schemaRegistry.orElseThrow() : null;
        // With registry outputs, the app's own clients (the demo's, a test's) read and write that format too.
        this.topics = registryOutputs ? Topics.from(config).withRegistry(schemaRegistry.orElseThrow())
                : Topics.from(config);
        this.model = model;
        Properties props = config.streamsProperties();
        int httpPort = config.getInt(MetastreamConfig.HTTP_PORT_CONFIG);
        // Bound before the streams client exists: its application.server must name the real port.
        String httpHost = config.getString(MetastreamConfig.HTTP_HOST_CONFIG);
        HttpSettings httpSettings = HttpSettings.from(config);
        this.http = httpPort < 0 ? null : new OperationsServer(httpHost, httpPort, httpSettings);
        int metricsPort = config.getInt(MetastreamConfig.METRICS_PORT_CONFIG);
        this.metricsServer = metricsPort < 0 ? null : new OperationsServer(httpHost, metricsPort, httpSettings);
        if (http != null) {
            http.recordTo(registry, "api");
        }
        if (metricsServer != null) {
            metricsServer.recordTo(registry, "metrics");
        }
        if (http != null) {
            self = new HostInfo(advertisedHost(config), http.port());
            props.put(StreamsConfig.APPLICATION_SERVER_CONFIG, self.host() + ":" + self.port());
        } else {
            self = null;
        }
        this.deadLetterSide = ErrorsToDeadLetters.install(props, topics.deadLetters().name(),
                config.getInt(MetastreamConfig.DEAD_LETTER_MAX_VALUE_BYTES_CONFIG), handlerDeadLetters);
        TopologySettings settings = TopologySettings.from(config);
        this.engine = config.getString(MetastreamConfig.ADAPTATION_ENGINE_CONFIG)
                .equals(MetastreamConfig.ADAPTATION_ENGINE_SHARED)
                        ? AdaptationEngine.shared(model.learner(), settings.adaptationBatchMax(),
                                config.getLong(MetastreamConfig.ADAPTATION_ENGINE_WAIT_MS_CONFIG))
                        : AdaptationEngine.onCallingThread(model.learner(), settings.adaptationBatchMax());
        engine.recordTo(metrics);
        Gauge.builder("metastream.adaptation.engine.call", engine,
                e -> e.currentCallMillis() / 1000.0).baseUnit("seconds")
                .description("How long the shared engine's current learner call has run (0 between calls)")
                .register(registry);
        this.stallWatch = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "metastream-stall-watch");
            t.setDaemon(true);
            return t;
        });
        MetastreamTopology.Builder pipeline = MetastreamTopology.builder(model, engine).settings(settings)
                .topics(topics).metrics(metrics);
        schemaRegistry.ifPresent(client -> pipeline.schemaRegistry(client, registryOutputs));
        Topology topology = pipeline.addTo(new Topology());
        this.streams = new KafkaStreams(topology, props);
        metrics.serving(model.base().version(), model.base().learner());
        model.onSwap(next -> metrics.serving(next.version(), next.learner()));
        this.streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(registry);
        this.processMeters = ProcessMeters.bindTo(registry);
        metrics.watcher(() -> watcher != null && watcher.isFollowing());
        streams.setUncaughtExceptionHandler(e -> {
            // Record-level failures never reach here (they become dead letters); what does is a
            // broken thread, which a fresh thread may survive.
            LOG.error("stream thread died, replacing it", e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        });
    }

    private static String advertisedHost(MetastreamConfig config) {
        String configured = config.getString(MetastreamConfig.HTTP_ADVERTISED_HOST_CONFIG);
        if (!configured.isBlank()) {
            return configured;
        }
        // Bound to one address (loopback by default): the others can reach it only there.
        String bound = config.getString(MetastreamConfig.HTTP_HOST_CONFIG);
        if (!bound.isBlank() && !bound.equals("0.0.0.0") && !bound.equals("::") && !bound.equals("[::]")) {
            return bound;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** metastream's meters; Kafka Streams' and the JVM's are in the same {@link #registry()}. */
    public MetastreamMetrics metrics() {
        return metrics;
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** The port of the HTTP API ({@code http.port}), if on. */
    public Optional<Integer> httpPort() {
        return Optional.ofNullable(http).map(OperationsServer::port);
    }

    /** The port of the metrics server ({@code metrics.port}), if on. */
    public Optional<Integer> metricsPort() {
        return Optional.ofNullable(metricsServer).map(OperationsServer::port);
    }

    /** This instance's stores, read through interactive queries (what {@code /tasks} serves). */
    public TaskStates taskStates() {
        return new TaskStates(streams, PipelineNames.unprefixed(), model, metrics);
    }

    /**
     * Live unless the streams client failed or is shutting down; ready only when RUNNING with the
     * model watcher (if on) following the models topic.
     */
    public OperationsServer.Status status() {
        KafkaStreams.State state = streams.state();
        boolean watching = store != null && config.getBoolean(MetastreamConfig.MODEL_WATCH_CONFIG);
        ModelWatcher w = watcher;
        List<String> reasons = new ArrayList<>();
        if (state != KafkaStreams.State.RUNNING) {
            reasons.add("streams state " + state + " (ready only when RUNNING)");
        }
        if (watching && (w == null || !w.isFollowing())) {
            reasons.add(w == null ? "model watcher not started" : "model watcher not following "
                    + topics.models().name() + " (restarting after " + w.restarts() + " failure(s)); hot swaps wait");
        }
        readinessChecks.forEach((reason, ok) -> {
            if (!ok.getAsBoolean()) {
                reasons.add(reason);
            }
        });
        long call = engine.currentCallMillis();
        if (call > config.getLong(MetastreamConfig.ADAPTATION_ENGINE_STALL_MS_CONFIG)) {
            reasons.add("adaptation engine stalled: a learner call has run " + call + " ms (adaptation.engine.stall.ms="
                    + config.getLong(MetastreamConfig.ADAPTATION_ENGINE_STALL_MS_CONFIG) + ")");
        }
        boolean live = state != KafkaStreams.State.ERROR && state != KafkaStreams.State.PENDING_ERROR
                && state != KafkaStreams.State.NOT_RUNNING && state != KafkaStreams.State.PENDING_SHUTDOWN;
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("state", state.name());
        details.put("model", model.base().version());
        details.put("watcherFollowing", w != null && w.isFollowing());
        return new OperationsServer.Status(live, reasons.isEmpty(), details, reasons);
    }

    public Topics topics() {
        return topics;
    }

    /** The configuration this instance runs with. */
    public MetastreamConfig config() {
        return config;
    }

    public ActiveModel model() {
        return model;
    }

    /** Where this instance's background adaptation runs, with its call counts. */
    public AdaptationEngine engine() {
        return engine;
    }

    public KafkaStreams streams() {
        return streams;
    }

    /** The watcher that follows the models topic, once started with {@code model.watch} on and a store. */
    public Optional<ModelWatcher> watcher() {
        return Optional.ofNullable(watcher);
    }

    /**
     * Creates the app's topics that do not exist yet (when {@code topic.create} is on) and checks
     * that samples and queries are co-partitioned.
     *
     * @throws ConfigException if samples and queries have different partition counts
     */
    private void ensureTopics() {
        Map<String, Object> adminProps = config.clientProperties();
        try (Admin admin = Admin.create(adminProps)) {
            if (config.getBoolean(MetastreamConfig.TOPIC_CREATE_CONFIG)) {
                Set<String> existing = admin.listTopics().names().get();
                List<NewTopic> missing = new ArrayList<>();
                Optional<Short> replication = Optional.of(config.getShort(MetastreamConfig.TOPIC_REPLICATION_FACTOR_CONFIG));
                for (String name : topics.names()) {
                    if (existing.contains(name)) {
                        continue;
                    }
                    if (name.equals(topics.models().name()) || name.equals(topics.modelArtifacts().name())) {
                        // Read whole by every instance: one compacted partition. Artifact chunks
                        // must fit a message, whatever the broker's default.
                        Map<String, String> configs = new HashMap<>();
                        configs.put(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT);
                        if (name.equals(topics.modelArtifacts().name())) {
                            configs.put(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(ModelArtifacts.maxMessageBytes(
                                    ModelArtifacts.DEFAULT_CHUNK_BYTES)));
                        }
                        missing.add(new NewTopic(name, Optional.of(1), replication).configs(configs));
                    } else {
                        missing.add(new NewTopic(name,
                                Optional.of(config.getInt(MetastreamConfig.TOPIC_PARTITIONS_CONFIG)), replication));
                    }
                }
                createIgnoringRaces(admin, missing);
            }
            Map<String, TopicDescription> inputs = describeWhenVisible(admin,
                    List.of(topics.samples().name(), topics.queries().name()));
            int samples = inputs.get(topics.samples().name()).partitions().size();
            int queries = inputs.get(topics.queries().name()).partitions().size();
            if (samples != queries) {
                throw new ConfigException("topics " + topics.samples().name() + " (" + samples + " partitions) and "
                        + topics.queries().name() + " (" + queries + ") must be co-partitioned");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking topics", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot check or create topics " + topics.names() + ": "
                    + e.getCause().getMessage(), e.getCause());
        }
    }

    /** A topic just created may not be describable for a moment; retry for up to 30 s. */
    private static Map<String, TopicDescription> describeWhenVisible(Admin admin, List<String> names)
            throws InterruptedException, ExecutionException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                return admin.describeTopics(names).allTopicNames().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    private static void createIgnoringRaces(Admin admin, List<NewTopic> missing)
            throws InterruptedException, ExecutionException {
        if (missing.isEmpty()) {
            return;
        }
        try {
            admin.createTopics(missing).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw e;
            }
        }
    }

    /**
     * Starts processing; returns once the client is RUNNING, or throws after {@code timeout}.
     *
     * @throws IllegalStateException when {@code schema.registry.outputs} is on and the registry
     *     refuses or cannot take the output schemas
     */
    private void start(Duration timeout) {
        registerOutputSchemas();
        MetastreamTopology.warmUp(model, engine, TopologySettings.from(config),
                config.getInt(MetastreamConfig.WARMUP_ROUNDS_CONFIG));
        streams.start();
        for (OperationsServer server : new OperationsServer[] {http, metricsServer}) {
            if (server != null) {
                server.serveStatus(this::status);
                if (registry instanceof PrometheusMeterRegistry prometheus) {
                    server.serveMetrics(prometheus);
                }
            }
        }
        if (http != null) {
            http.serveTasks(taskStates(), self).start();
        }
        if (metricsServer != null) {
            metricsServer.start();
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING) {
            if (System.nanoTime() > deadline || !streams.state().isRunningOrRebalancing()
                    && streams.state() != KafkaStreams.State.CREATED) {
                throw new IllegalStateException("Kafka Streams did not reach RUNNING within " + timeout
                        + "; state " + streams.state());
            }
            sleep(20);
        }
        stallWatch.scheduleWithFixedDelay(this::checkEngineStall, 1, 1, TimeUnit.SECONDS);
        if (store != null && config.getBoolean(MetastreamConfig.MODEL_WATCH_CONFIG)) {
            watcher = new ModelWatcher(config.clientProperties(), topics, store,
                    config.getString(MetastreamConfig.MODEL_NAME_CONFIG),
                    config.getString(MetastreamConfig.MODEL_ALIAS_CONFIG), model, config.instanceId())
                    .onEvent(event -> metrics.modelEvent(event.getStatus()));
            if (config.getBoolean(MetastreamConfig.MODEL_ARTIFACTS_FETCH_CONFIG)) {
                watcher.fetchingFrom(ModelArtifacts.from(config),
                        Duration.ofMillis(config.getLong(MetastreamConfig.MODEL_ARTIFACTS_FETCH_TIMEOUT_MS_CONFIG)));
            }
            watcher.start();
        }
    }

    /**
     * Registers (or, lookup-only, looks up) the output schemas before any record is processed.
     * Otherwise the first output record of each kind would do it on a stream thread, where a
     * refusal (credentials refused, 401/403; a subject's compatibility rule, 409; a lookup-only
     * schema not there) would fail or dead-letter every output record, with the instance still
     * ready; here it fails the start with the registry's answer. The client keeps the ids, so the
     * stream threads never ask the registry about outputs again.
     */
    private void registerOutputSchemas() {
        if (outputRegistry == null) {
            return;
        }
        Map<String, Class<? extends SpecificRecord>> outputs = Map.of(
                topics.predictions().name(), Prediction.class,
                topics.adaptations().name(), AdaptationEvent.class,
                topics.deadLetters().name(), DeadLetter.class);
        outputs.forEach((topic, type) -> {
            String subject = RegistryAvroCodec.valueSubject(topic);
            try {
                RegistryAvroCodec.of(type, outputRegistry).register(subject);
            } catch (SchemaRegistryClient.SchemaRegistryException e) {
                throw new IllegalStateException("schema.registry.outputs=true, but the output schema "
                        + type.getSimpleName() + " could not be registered under subject " + subject + " (check "
                        + "schema.registry.url, its credentials and schema.registry.auto.register): "
                        + e.getMessage(), e);
            }
        });
    }

    /**
     * Makes {@code /ready} fail with {@code reason} while {@code ok} is false: for a long-lived
     * thread the application runs beside the pipeline (the continual meta-trainer's consumer, say),
     * so that its death shows where the pipeline's own do. Also exported as
     * {@code metastream_readiness_check{check}} (1 while ok).
     */
    public MetastreamApp readinessCheck(String reason, BooleanSupplier ok) {
        readinessChecks.put(reason, ok);
        Gauge.builder("metastream.readiness.check", ok, c -> c.getAsBoolean() ? 1 : 0)
                .description("1 while a readiness check an application added holds").tag("check", reason)
                .register(registry);
        return this;
    }

    /** Turns a hung learner call into a log line and a model-events record, once per stall. */
    private void checkEngineStall() {
        try {
            long running = engine.currentCallMillis();
            long limit = config.getLong(MetastreamConfig.ADAPTATION_ENGINE_STALL_MS_CONFIG);
            ModelWatcher w = watcher;
            if (!engineStalled && running > limit) {
                engineStalled = true;
                LOG.error("adaptation engine stalled: one learner call has run {} ms (adaptation.engine.stall.ms={}); "
                        + "background adaptation waits on it", running, limit);
                if (w != null) {
                    w.publishInstanceEvent("ENGINE_STALLED", "a learner call has run " + running + " ms");
                }
            } else if (engineStalled && running <= limit) {
                engineStalled = false;
                LOG.info("adaptation engine recovered");
                if (w != null) {
                    w.publishInstanceEvent("ENGINE_RECOVERED", "the stalled learner call returned");
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("stall check failed", e); // a scheduled task that throws is never run again
        }
    }

    /**
     * Dead letters this instance produced, by {@code <topic>:<REASON>}: those of the processors
     * (stream metrics) and those of the exception handlers.
     */
    public Map<String, Long> deadLetterCounts() {
        Map<String, Long> counts = new TreeMap<>(handlerDeadLetters.snapshot());
        streams.metrics().forEach((name, metric) -> {
            if (name.name().equals("dead-letters-total")) {
                String reason = name.tags().get("metastream-id");
                counts.merge(reason, ((Number) metric.metricValue()).longValue(), Long::sum);
            }
        });
        return counts;
    }

    @Override
    public void close() {
        if (watcher != null) {
            watcher.close();
        }
        if (http != null) {
            http.close();
        }
        if (metricsServer != null) {
            metricsServer.close();
        }
        stallWatch.shutdownNow();
        streams.close(Duration.ofSeconds(30));
        deadLetterSide.close();
        streamsMetrics.close();
        processMeters.close();
        engine.close();
        if (ownsModel) {
            model.close();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}

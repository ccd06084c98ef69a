package io.metastream.streams;

import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.streams.internals.BoundedRocksDbMemory;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigDef.ValidString;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.streams.StreamsConfig;

/**
 * Every setting of a metastream instance, with defaults and validation. The command line maps its
 * options onto these keys; a properties file for {@code run --config} uses them directly. Keys
 * prefixed {@value #STREAMS_PREFIX} are handed to Kafka Streams unchanged (prefix removed), for
 * anything this list does not name.
 */
public final class MetastreamConfig extends AbstractConfig {
    public static final String STREAMS_PREFIX = "streams.";

    public static final String BOOTSTRAP_SERVERS_CONFIG = "bootstrap.servers";
    private static final String BOOTSTRAP_SERVERS_DOC = "Kafka brokers to connect to (host:port,...).";
    public static final String APPLICATION_ID_CONFIG = "application.id";
    private static final String APPLICATION_ID_DOC = "Kafka Streams application id: consumer group, "
            + "prefix of internal topics. Instances with the same id share the work.";
    public static final String STATE_DIR_CONFIG = "state.dir";
    private static final String STATE_DIR_DOC = "Where the RocksDB state stores live.";
    public static final String PROCESSING_GUARANTEE_CONFIG = "processing.guarantee";
    private static final String PROCESSING_GUARANTEE_DOC = "exactly_once_v2 (default) or at_least_once.";
    public static final String NUM_STREAM_THREADS_CONFIG = "num.stream.threads";
    private static final String NUM_STREAM_THREADS_DOC = "Stream threads in this instance.";
    public static final String COMMIT_INTERVAL_MS_CONFIG = "commit.interval.ms";
    private static final String COMMIT_INTERVAL_MS_DOC = "How often to commit; under exactly-once this "
            + "bounds how long a prediction waits before read-committed consumers see it.";

    public static final String MODEL_STORE_DIR_CONFIG = "model.store.dir";
    private static final String MODEL_STORE_DIR_DOC = "Root directory of the model store.";
    public static final String MODEL_NAME_CONFIG = "model.name";
    private static final String MODEL_NAME_DOC = "Name of the base model in the store.";
    public static final String MODEL_ALIAS_CONFIG = "model.alias";
    private static final String MODEL_ALIAS_DOC = "Alias (or version) of the base model to serve.";

    public static final String TOPIC_SAMPLES_CONFIG = "topic.samples";
    public static final String TOPIC_QUERIES_CONFIG = "topic.queries";
    public static final String TOPIC_PREDICTIONS_CONFIG = "topic.predictions";
    public static final String TOPIC_ADAPTATIONS_CONFIG = "topic.adaptations";
    public static final String TOPIC_DEAD_LETTERS_CONFIG = "topic.dead.letters";

    public static final String TOPIC_MODELS_CONFIG = "topic.models";
    public static final String TOPIC_MODEL_EVENTS_CONFIG = "topic.model.events";
    public static final String TOPIC_MODEL_ARTIFACTS_CONFIG = "topic.model.artifacts";
    private static final String TOPIC_MODEL_ARTIFACTS_DOC = "Compacted: the files of every promoted base-model "
            + "version, in chunks, so instances on machines that share no disk serve the same artifacts. An "
            + "instance whose model.store.dir lacks the served version fetches it from here, verifies it and "
            + "keeps it there (the store acts as a cache).";
    public static final String MODEL_ARTIFACTS_FETCH_CONFIG = "model.artifacts.fetch";
    private static final String MODEL_ARTIFACTS_FETCH_DOC = "Fetch a version the local model store lacks from "
            + "topic.model.artifacts, at start and on each model change. Off: the store must hold every version "
            + "announced (a shared or copied directory).";
    public static final String MODEL_ARTIFACTS_MAX_BYTES_CONFIG = "model.artifacts.max.bytes";
    private static final String MODEL_ARTIFACTS_MAX_BYTES_DOC = "Most bytes one version may hold when fetched "
            + "from topic.model.artifacts; a version over it is refused and the current base keeps serving.";
    public static final String MODEL_ARTIFACTS_FETCH_TIMEOUT_MS_CONFIG = "model.artifacts.fetch.timeout.ms";
    private static final String MODEL_ARTIFACTS_FETCH_TIMEOUT_MS_DOC = "How long reading a version from "
            + "topic.model.artifacts (or the models topic at start) may take before it fails.";
    public static final String MODEL_WATCH_CONFIG = "model.watch";
    private static final String MODEL_WATCH_DOC = "Follow the models topic and hot-swap the base when the served "
            + "alias moves (loaded and verified off the stream threads; a refused artifact leaves the current base "
            + "serving).";
    public static final String INSTANCE_ID_CONFIG = "instance.id";
    private static final String INSTANCE_ID_DOC = "Names this instance in model-events; default: application id, "
            + "host name and process id.";

    public static final String TOPIC_CREATE_CONFIG = "topic.create";
    private static final String TOPIC_CREATE_DOC = "Create missing topics at start-up (the app's own input and "
            + "output topics; Kafka Streams creates its internal ones).";
    public static final String TOPIC_PARTITIONS_CONFIG = "topic.partitions";
    private static final String TOPIC_PARTITIONS_DOC = "Partitions of topics this app creates. Samples and queries "
            + "must have the same count: start-up fails otherwise.";
    public static final String TOPIC_REPLICATION_FACTOR_CONFIG = "topic.replication.factor";
    private static final String TOPIC_REPLICATION_FACTOR_DOC = "Replication factor of topics this app creates; "
            + "-1 uses the broker default.";

    public static final String INPUT_MAX_RECORD_BYTES_CONFIG = "input.max.record.bytes";
    private static final String INPUT_MAX_RECORD_BYTES_DOC = "Input records larger than this go to the dead-letter "
            + "topic as OVERSIZED before they are decoded.";
    public static final String INPUT_MAX_FUTURE_MS_CONFIG = "input.max.future.ms";
    private static final String INPUT_MAX_FUTURE_MS_DOC = "Records whose event time or record timestamp is further "
            + "than this ahead of the wall clock go to the dead-letter topic as FUTURE_TIMESTAMP.";
    public static final String DEAD_LETTER_MAX_VALUE_BYTES_CONFIG = "dead.letter.max.value.bytes";
    private static final String DEAD_LETTER_MAX_VALUE_BYTES_DOC = "A dead letter keeps at most this many bytes of the "
            + "original value (the reason says when it was cut), so a dead letter never outgrows what the broker takes.";
    public static final String TASK_TTL_MS_CONFIG = "task.ttl.ms";
    private static final String TASK_TTL_MS_DOC = "A task with no new sample for this long loses its support set and "
            + "adapted state, so state does not grow without bound.";
    public static final String TASK_EXPIRY_INTERVAL_MS_CONFIG = "task.expiry.interval.ms";
    private static final String TASK_EXPIRY_INTERVAL_MS_DOC = "How often each stream task removes idle tasks "
            + "(read from a time index, oldest first; no scan of the support sets).";
    public static final String TASK_EXPIRY_MAX_PER_PUNCTUATION_CONFIG = "task.expiry.max.per.punctuation";
    private static final String TASK_EXPIRY_MAX_PER_PUNCTUATION_DOC = "At most this many tasks are expired or "
            + "evicted by one expiry punctuation of one stream task (the rest wait for the next), so the punctuation "
            + "stays far inside the transaction timeout; also the batch of the one-time indexing of state written "
            + "by an earlier release.";
    public static final String TASK_MAX_COUNT_CONFIG = "task.max.count";
    private static final String TASK_MAX_COUNT_DOC = "Most tasks (support set with adapted state) one instance "
            + "holds. A new task beyond it evicts the least recently updated task of the same stream task (counted "
            + "in metastream_tasks_removed_total{cause=\"evicted\"}); the instance may exceed it by one task per "
            + "stream task, and after a rebalance each stream task trims its share of the excess.";
    public static final String NUM_STANDBY_REPLICAS_CONFIG = "num.standby.replicas";
    private static final String NUM_STANDBY_REPLICAS_DOC = "Warm copies of each state store on other instances, for "
            + "fast fail-over.";
    public static final String ROCKSDB_BLOCK_CACHE_BYTES_CONFIG = "rocksdb.block.cache.bytes";
    private static final String ROCKSDB_BLOCK_CACHE_BYTES_DOC = "One block cache shared by every RocksDB store of the "
            + "process (index and filter blocks included).";
    public static final String ROCKSDB_WRITE_BUFFER_BYTES_CONFIG = "rocksdb.write.buffer.bytes";
    private static final String ROCKSDB_WRITE_BUFFER_BYTES_DOC = "Memtable memory of every RocksDB store of the process "
            + "together, charged to the block cache.";

    public static final String SUPPORT_MAX_SIZE_CONFIG = "support.max.size";
    private static final String SUPPORT_MAX_SIZE_DOC = "Samples kept per task; the oldest is evicted first.";
    public static final String ADAPTATION_INTERVAL_MS_CONFIG = "adaptation.interval.ms";
    private static final String ADAPTATION_INTERVAL_MS_DOC = "Wall-clock period at which each stream task hands "
            + "all its dirty tasks to the adaptation engine as one round (see adaptation.engine). Longer lets more "
            + "samples share one adaptation (with 500 ms the pipeline drains 0.5-0.9x the samples/s it does without "
            + "adaptation, with 200 ms 0.26x; docs/BENCHMARKS.md); "
            + "queries never wait for it, since a task with new samples is adapted before its queries are answered "
            + "(adaptation.on.query).";
    public static final String ADAPTATION_BATCH_MAX_CONFIG = "adaptation.batch.max";
    private static final String ADAPTATION_BATCH_MAX_DOC = "Most tasks adapted in one batched learner call; "
            + "larger rounds are split.";
    public static final String ADAPTATION_ENGINE_CONFIG = "adaptation.engine";
    private static final String ADAPTATION_ENGINE_DOC = "Where background adaptation runs. shared: one engine "
            + "thread per instance gathers the dirty tasks of every stream task and stream thread into batched "
            + "calls, while the stream threads go on processing records; the stream tasks write the results in their "
            + "own transactions. stream-thread: each stream task adapts its own dirty tasks on its stream thread. "
            + "Queries that need a fresh state are adapted on their stream thread either way.";
    public static final String ADAPTATION_ENGINE_SHARED = "shared";
    public static final String ADAPTATION_ENGINE_STREAM_THREAD = "stream-thread";
    public static final String ADAPTATION_ENGINE_WAIT_MS_CONFIG = "adaptation.engine.wait.ms";
    private static final String ADAPTATION_ENGINE_WAIT_MS_DOC = "How long the shared engine waits for more "
            + "stream tasks' dirty tasks after the first arrives, unless adaptation.batch.max tasks are in.";
    public static final String ADAPTATION_ENGINE_STALL_MS_CONFIG = "adaptation.engine.stall.ms";
    private static final String ADAPTATION_ENGINE_STALL_MS_DOC = "A learner call of the shared engine running longer "
            + "than this is a stall: background adaptation of the whole instance waits on it. It makes /ready fail "
            + "with the reason, is logged, and publishes ENGINE_STALLED (then ENGINE_RECOVERED) on model-events.";
    public static final String ADAPTATION_ENABLED_CONFIG = "adaptation.enabled";
    private static final String ADAPTATION_ENABLED_DOC = "Off, nothing is adapted: samples are still validated and "
            + "kept, and every query is answered by the base. The end-to-end benchmark runs both ways to price the "
            + "machine learning against Kafka Streams alone.";
    public static final String ADAPTED_STATE_ENCODING_CONFIG = "adapted.state.encoding";
    private static final String ADAPTED_STATE_ENCODING_DOC = "How adapted fast weights are stored: int8-delta (the "
            + "difference from the base, one byte a weight plus a scale per 64, about 1.9 KB for the 1-40-40-1 MLP) or "
            + "float32 (4 bytes a weight, 7 KB). Either is read back whichever is configured.";
    public static final String ADAPTED_STATE_FLOAT32 = "float32";
    public static final String ADAPTED_STATE_INT8_DELTA = "int8-delta";
    public static final String ADAPTATION_ON_QUERY_CONFIG = "adaptation.on.query";
    private static final String ADAPTATION_ON_QUERY_DOC = "Adapt a task whose support set changed since its "
            + "last adaptation before answering its queries, so every prediction uses every sample before it; "
            + "off, queries use the state of the last background adaptation.";
    public static final String QUERY_BATCH_INTERVAL_MS_CONFIG = "query.batch.interval.ms";
    private static final String QUERY_BATCH_INTERVAL_MS_DOC = "Period of the punctuator that answers waiting queries: "
            + "it adapts their tasks that have new samples in one batched call and answers them in one batched "
            + "prediction.";
    public static final String QUERY_SAMPLE_WAIT_MS_CONFIG = "query.sample.wait.ms";
    private static final String QUERY_SAMPLE_WAIT_MS_DOC = "Kafka Streams orders the samples and queries topics only "
            + "among records already fetched, so a query can arrive before samples produced earlier. A query is "
            + "answered once samples up to its timestamp have been processed on its partition, or after this long, "
            + "whichever comes first (for partitions where samples are sparse).";
    public static final String QUERY_MAX_WAIT_MS_CONFIG = "query.max.wait.ms";
    private static final String QUERY_MAX_WAIT_MS_DOC = "How long a query whose task needs an adaptation first "
            + "(adaptation.on.query, or a query answered as of an earlier time) waits for the shared adaptation "
            + "engine, which batches it with the other stream tasks' queries ahead of background rounds. Past this, "
            + "the stream thread adapts it itself. Counted from when its samples are in.";
    public static final String ADAPTATION_BACKLOG_LAG_MS_CONFIG = "adaptation.backlog.lag.ms";
    private static final String ADAPTATION_BACKLOG_LAG_MS_DOC = "While the samples a stream task processes are older "
            + "than this (it is working through a backlog: a restart, a burst, a slow spell), its background rounds are "
            + "deferred, at most 10 in a row: the states they would write are outdated by the next samples of the "
            + "backlog, and the CPU is better spent catching up. Queries still adapt what they need. 0 never defers.";
    public static final String WARMUP_ROUNDS_CONFIG = "warmup.rounds";
    private static final String WARMUP_ROUNDS_DOC = "Rounds of 64 synthetic tasks run through the hot path (decoding, "
            + "support-set appends, batched adaptation on the engine, state encoding, batched prediction) before the "
            + "instance starts processing, so the first seconds of traffic are not served by cold JIT-compiled code "
            + "and fresh native buffers. At most 10 s; 0 skips it.";
    public static final String HTTP_PORT_CONFIG = "http.port";
    private static final String HTTP_PORT_DOC = "Port of the HTTP API (/tasks/{id}, /tasks/{id}/predict, /health, "
            + "/ready, /metrics); 0 picks a free port, -1 turns it off. Its address is the instance's "
            + "application.server, so every instance can forward a task's request to the instance that owns it.";
    public static final String HTTP_HOST_CONFIG = "http.host";
    private static final String HTTP_HOST_DOC = "Address the HTTP API (and metrics.port) listens on. Loopback by "
            + "default, so nothing off the machine reaches it until you choose to: set 0.0.0.0 (or one interface's "
            + "address) for other machines, other instances or a container's published port, and set "
            + "http.auth.token when you do.";
    public static final String HTTP_ADVERTISED_HOST_CONFIG = "http.advertised.host";
    private static final String HTTP_ADVERTISED_HOST_DOC = "Host name the other instances reach this one's HTTP API "
            + "at (its application.server). When empty: http.host if that names one address (the loopback default "
            + "included, so instances on one machine reach each other), the machine's host name if http.host is a "
            + "wildcard (0.0.0.0, ::).";
    public static final String HTTP_AUTH_TOKEN_CONFIG = "http.auth.token";
    private static final String HTTP_AUTH_TOKEN_DOC = "When set (at least 16 characters), every /tasks request must "
            + "carry 'Authorization: Bearer <token>'; a missing or wrong token is a 401. /health, /ready and /metrics "
            + "stay open for probes and scrapers (they carry no task data). The token crosses the network in clear: "
            + "put TLS in front of the API when it leaves the machine.";
    public static final String HTTP_FORWARD_SECRET_CONFIG = "http.forward.secret";
    private static final String HTTP_FORWARD_SECRET_DOC = "Shared by every instance of the application (at least 16 "
            + "characters): a request forwarded to the task's owner is signed with it (HMAC-SHA256 over method, path, "
            + "route, time and body) and the owner refuses, with 403, any forwarded request whose signature or time "
            + "(30 s window) does not check. Unset, the key is derived from http.auth.token when that is set; with "
            + "neither, forwarding is off: an instance answers only for the tasks it hosts and a 503 for the others.";
    public static final String HTTP_READ_TIMEOUT_MS_CONFIG = "http.read.timeout.ms";
    private static final String HTTP_READ_TIMEOUT_MS_DOC = "A request's line, headers and body must arrive within "
            + "this long of its first byte, and the client must take the response within as long again; otherwise "
            + "the connection is closed, so a slow client cannot hold a server thread.";
    public static final String HTTP_HEADER_TIMEOUT_MS_CONFIG = "http.header.timeout.ms";
    private static final String HTTP_HEADER_TIMEOUT_MS_DOC = "A request's line and headers must arrive within this "
            + "long of its first byte (and within http.read.timeout.ms when that is shorter); otherwise the connection "
            + "is closed. They are read without holding a request thread, so a client that sends them slowly "
            + "(slow-loris) costs one of its connections, and only for this long.";
    public static final String HTTP_MAX_CONNECTIONS_PER_CLIENT_CONFIG = "http.max.connections.per.client";
    private static final String HTTP_MAX_CONNECTIONS_PER_CLIENT_DOC = "Connections one client may hold open at once "
            + "on each HTTP server (idle keep-alive ones included); a client is an IPv4 address or an IPv6 /64. Its "
            + "next connection is closed at accept, so one client cannot hold the request threads (64 per server) "
            + "that /health and everyone else need. Clients behind one proxy or NAT share an address, and an "
            + "instance forwards many requests at once to the owner of their tasks: raise it for those.";
    public static final String HTTP_REQUEST_TIMEOUT_MS_CONFIG = "http.request.timeout.ms";
    private static final String HTTP_REQUEST_TIMEOUT_MS_DOC = "Longest a /tasks request waits for a worker and its "
            + "answer (local, or forwarded to the owner); after it the reply is a 503.";
    public static final String HTTP_WORKERS_CONFIG = "http.workers";
    private static final String HTTP_WORKERS_DOC = "Threads that read task state and predict for /tasks requests. "
            + "Probes and metrics never wait for them.";
    public static final String HTTP_QUEUE_MAX_CONFIG = "http.queue.max";
    private static final String HTTP_QUEUE_MAX_DOC = "/tasks requests that may wait for a busy worker; beyond them "
            + "the reply is a 503 with Retry-After.";
    public static final String METRICS_PORT_CONFIG = "metrics.port";
    private static final String METRICS_PORT_DOC = "Port of a second HTTP server with /metrics (Prometheus text), "
            + "/health and /ready only, for scrapers and probes; 0 picks a free port, -1 turns it off (the HTTP API "
            + "serves /metrics too).";
    public static final String SCHEMA_REGISTRY_URL_CONFIG = "schema.registry.url";
    private static final String SCHEMA_REGISTRY_URL_DOC = "Root of a schema registry's Confluent-compatible REST API "
            + "(Confluent Schema Registry: http://host:8081; Apicurio: http://host:8080/apis/ccompat/v7). When set, "
            + "the samples and queries topics also accept the registry's wire format (magic byte 0, 4-byte schema "
            + "id, Avro body); an id the registry does not know is an UNKNOWN_SCHEMA dead letter, a schema that "
            + "cannot be read as the record an INCOMPATIBLE_SCHEMA one. Empty: single-object encoding only. User "
            + "info in the URL (http://user:password@host) is moved to schema.registry.basic.auth.user.info (unless "
            + "that is set) and never shown.";
    public static final String SCHEMA_REGISTRY_OUTPUTS_CONFIG = "schema.registry.outputs";
    private static final String SCHEMA_REGISTRY_OUTPUTS_DOC = "Write predictions, adaptation events and dead letters "
            + "in the registry's wire format, their schemas registered under <topic>-value at start-up (needs "
            + "schema.registry.url; a registry that refuses or cannot take them fails the start). Off: single-object "
            + "encoding, the default.";
    public static final String SCHEMA_REGISTRY_TIMEOUT_MS_CONFIG = "schema.registry.timeout.ms";
    private static final String SCHEMA_REGISTRY_TIMEOUT_MS_DOC = "Deadline of one registry call: connecting, the "
            + "answer's headers and its body together. Each schema id is asked once; a registry that cannot be asked "
            + "about a record's schema id after schema.registry.retries retries makes that record a REGISTRY_ERROR "
            + "dead letter (kept whole, to replay). A lookup with its retries takes at most timeout x (retries + 1) "
            + "plus the backoffs (6.3 s with the defaults), and then schema.registry.breaker.ms keeps further "
            + "lookups from waiting at all.";
    public static final String SCHEMA_REGISTRY_RETRIES_CONFIG = "schema.registry.retries";
    private static final String SCHEMA_REGISTRY_RETRIES_DOC = "Retries of a registry call that could not connect or "
            + "got HTTP 5xx or 429, with a backoff doubling from 100 ms. Other answers are not retried.";
    public static final String SCHEMA_REGISTRY_BREAKER_MS_CONFIG = "schema.registry.breaker.ms";
    private static final String SCHEMA_REGISTRY_BREAKER_MS_DOC = "After a registry call fails with all its retries "
            + "(unreachable, timed out, 5xx, 429), how long further calls for schema ids not yet cached fail at once "
            + "(REGISTRY_ERROR dead letters, kept whole to replay) instead of each holding the stream thread; then one "
            + "probe call (no retries) is let through, and any answer closes the breaker. Cached ids keep decoding "
            + "throughout. 0 turns the breaker off.";
    public static final String SCHEMA_REGISTRY_UNKNOWN_ID_CACHE_MS_CONFIG = "schema.registry.unknown.id.cache.ms";
    private static final String SCHEMA_REGISTRY_UNKNOWN_ID_CACHE_MS_DOC = "How long a schema id the registry does "
            + "not know is remembered as unknown, so a flood of records naming it costs one call; 0 asks every time.";
    public static final String SCHEMA_REGISTRY_AUTO_REGISTER_CONFIG = "schema.registry.auto.register";
    private static final String SCHEMA_REGISTRY_AUTO_REGISTER_DOC = "Whether registry outputs register their schemas "
            + "(Confluent's auto.register.schemas). false: lookup-only, the schemas must already be registered under "
            + "<topic>-value (an operator's pipeline does it), metastream writes nothing to the registry, and a "
            + "schema not found there fails the start with that reason.";
    public static final String SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG = "schema.registry.basic.auth.user.info";
    private static final String SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_DOC = "user:password for HTTP basic "
            + "authentication to the registry (Confluent's basic.auth.user.info). User info in schema.registry.url "
            + "works too and is never logged; this key wins when both are given, so no "
            + "basic.auth.credentials.source key is needed (USER_INFO and URL both work; SASL_INHERIT is not "
            + "offered).";
    public static final String SCHEMA_REGISTRY_BEARER_AUTH_TOKEN_CONFIG = "schema.registry.bearer.auth.token";
    private static final String SCHEMA_REGISTRY_BEARER_AUTH_TOKEN_DOC = "A bearer token sent to the registry with "
            + "every call (Confluent's bearer.auth.token with bearer.auth.credentials.source=STATIC_TOKEN); takes "
            + "precedence over basic authentication. A token is not refreshed: one from an OAuth server that "
            + "expires needs a restart with a new one.";
    public static final String SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG = "schema.registry.ssl.truststore.location";
    private static final String SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_DOC = "Trust store for an https registry "
            + "whose certificate the JVM's default trust does not cover (a private CA): a PKCS12 or JKS store, or, "
            + "with schema.registry.ssl.truststore.type=PEM, a file of PEM-encoded CA certificates. Empty uses the "
            + "JVM's default trust.";
    public static final String SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD_CONFIG = "schema.registry.ssl.truststore.password";
    private static final String SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD_DOC = "Password of that trust store (none "
            + "for PEM).";
    public static final String SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_CONFIG = "schema.registry.ssl.truststore.type";
    private static final String SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_DOC = "Type of that trust store: PKCS12, JKS, "
            + "or PEM (CA certificates, as Kafka's ssl.truststore.type=PEM).";
    public static final String DJL_THREADS_CONFIG = "djl.threads";
    private static final String DJL_THREADS_DOC = "libtorch intra-op threads; keep below the core count so "
            + "Kafka Streams keeps a core.";

    /** A secret, when set, is long enough not to be guessed; unset ({@code null}) is allowed. */
    private static final ConfigDef.Validator SECRET = (name, value) -> {
        if (value != null && ((Password) value).value().length() < 16) {
            throw new ConfigException(name, "[hidden]", "at least 16 characters");
        }
    };

    private static final ConfigDef CONFIG = new ConfigDef()
            .define(BOOTSTRAP_SERVERS_CONFIG, Type.STRING, Importance.HIGH, BOOTSTRAP_SERVERS_DOC)
            .define(APPLICATION_ID_CONFIG, Type.STRING, "metastream", Importance.HIGH, APPLICATION_ID_DOC)
            .define(STATE_DIR_CONFIG, Type.STRING, Path.of(System.getProperty("java.io.tmpdir"), "metastream-state")
                    .toString(), Importance.HIGH, STATE_DIR_DOC)
            .define(PROCESSING_GUARANTEE_CONFIG, Type.STRING, StreamsConfig.EXACTLY_ONCE_V2,
                    ValidString.in(StreamsConfig.EXACTLY_ONCE_V2, StreamsConfig.AT_LEAST_ONCE), Importance.HIGH,
                    PROCESSING_GUARANTEE_DOC)
            .define(NUM_STREAM_THREADS_CONFIG, Type.INT, 1, Range.between(1, 64), Importance.MEDIUM,
                    NUM_STREAM_THREADS_DOC)
            .define(COMMIT_INTERVAL_MS_CONFIG, Type.LONG, 100L, Range.atLeast(1), Importance.MEDIUM,
                    COMMIT_INTERVAL_MS_DOC)
            .define(MODEL_STORE_DIR_CONFIG, Type.STRING, "metastream-data/models", Importance.HIGH,
                    MODEL_STORE_DIR_DOC)
            .define(MODEL_NAME_CONFIG, Type.STRING, "sinusoid", Importance.HIGH, MODEL_NAME_DOC)
            .define(MODEL_ALIAS_CONFIG, Type.STRING, "production", Importance.MEDIUM, MODEL_ALIAS_DOC)
            .define(TOPIC_SAMPLES_CONFIG, Type.STRING, "samples", Importance.MEDIUM, "Labelled samples in.")
            .define(TOPIC_QUERIES_CONFIG, Type.STRING, "queries", Importance.MEDIUM,
                    "Prediction requests in; co-partitioned with samples.")
            .define(TOPIC_PREDICTIONS_CONFIG, Type.STRING, "predictions", Importance.MEDIUM, "Predictions out.")
            .define(TOPIC_ADAPTATIONS_CONFIG, Type.STRING, "adaptations", Importance.LOW, "Adaptation events out.")
            .define(TOPIC_DEAD_LETTERS_CONFIG, Type.STRING, "dead-letters", Importance.MEDIUM,
                    "Rejected records with their reasons.")
            .define(TOPIC_MODELS_CONFIG, Type.STRING, "models", Importance.MEDIUM,
                    "Compacted: the current version of every model alias.")
            .define(TOPIC_MODEL_EVENTS_CONFIG, Type.STRING, "model-events", Importance.LOW,
                    "What each instance did with a model change.")
            .define(MODEL_WATCH_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, MODEL_WATCH_DOC)
            .define(TOPIC_MODEL_ARTIFACTS_CONFIG, Type.STRING, "model-artifacts", Importance.MEDIUM,
                    TOPIC_MODEL_ARTIFACTS_DOC)
            .define(MODEL_ARTIFACTS_FETCH_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, MODEL_ARTIFACTS_FETCH_DOC)
            .define(MODEL_ARTIFACTS_MAX_BYTES_CONFIG, Type.LONG, ModelArtifacts.DEFAULT_MAX_BYTES, Range.between(1024, Integer.MAX_VALUE),
                    Importance.LOW, MODEL_ARTIFACTS_MAX_BYTES_DOC)
            .define(MODEL_ARTIFACTS_FETCH_TIMEOUT_MS_CONFIG, Type.LONG, 60_000L, Range.atLeast(100),
                    Importance.LOW, MODEL_ARTIFACTS_FETCH_TIMEOUT_MS_DOC)
            .define(INSTANCE_ID_CONFIG, Type.STRING, "", Importance.LOW, INSTANCE_ID_DOC)
            .define(TOPIC_CREATE_CONFIG, Type.BOOLEAN, true, Importance.LOW, TOPIC_CREATE_DOC)
            .define(TOPIC_PARTITIONS_CONFIG, Type.INT, 4, Range.between(1, 10_000), Importance.MEDIUM,
                    TOPIC_PARTITIONS_DOC)
            .define(TOPIC_REPLICATION_FACTOR_CONFIG, Type.SHORT, (short) -1, Importance.LOW,
                    TOPIC_REPLICATION_FACTOR_DOC)
            .define(INPUT_MAX_RECORD_BYTES_CONFIG, Type.INT, 64 * 1024, Range.between(64, 8 * 1024 * 1024),
                    Importance.MEDIUM, INPUT_MAX_RECORD_BYTES_DOC)
            .define(INPUT_MAX_FUTURE_MS_CONFIG, Type.LONG, 3_600_000L, Range.atLeast(0), Importance.MEDIUM,
                    INPUT_MAX_FUTURE_MS_DOC)
            .define(DEAD_LETTER_MAX_VALUE_BYTES_CONFIG, Type.INT, 64 * 1024, Range.between(0, 512 * 1024),
                    Importance.LOW, DEAD_LETTER_MAX_VALUE_BYTES_DOC)
            .define(TASK_TTL_MS_CONFIG, Type.LONG, 7L * 24 * 3_600_000, Range.atLeast(1), Importance.MEDIUM,
                    TASK_TTL_MS_DOC)
            .define(TASK_EXPIRY_INTERVAL_MS_CONFIG, Type.LONG, 60_000L, Range.atLeast(1), Importance.LOW,
                    TASK_EXPIRY_INTERVAL_MS_DOC)
            .define(TASK_EXPIRY_MAX_PER_PUNCTUATION_CONFIG, Type.INT, 10_000, Range.between(1, 1_000_000),
                    Importance.LOW, TASK_EXPIRY_MAX_PER_PUNCTUATION_DOC)
            .define(TASK_MAX_COUNT_CONFIG, Type.LONG, 1_000_000L, Range.atLeast(1), Importance.MEDIUM,
                    TASK_MAX_COUNT_DOC)
            .define(NUM_STANDBY_REPLICAS_CONFIG, Type.INT, 0, Range.between(0, 10), Importance.MEDIUM,
                    NUM_STANDBY_REPLICAS_DOC)
            .define(ROCKSDB_BLOCK_CACHE_BYTES_CONFIG, Type.LONG, 64L * 1024 * 1024, Range.atLeast(1024 * 1024),
                    Importance.MEDIUM, ROCKSDB_BLOCK_CACHE_BYTES_DOC)
            .define(ROCKSDB_WRITE_BUFFER_BYTES_CONFIG, Type.LONG, 32L * 1024 * 1024, Range.atLeast(1024 * 1024),
                    Importance.MEDIUM, ROCKSDB_WRITE_BUFFER_BYTES_DOC)
            .define(SUPPORT_MAX_SIZE_CONFIG, Type.INT, 20, Range.between(1, 10_000), Importance.MEDIUM,
                    SUPPORT_MAX_SIZE_DOC)
            .define(ADAPTATION_INTERVAL_MS_CONFIG, Type.LONG, 500L, Range.between(1, 3_600_000), Importance.MEDIUM,
                    ADAPTATION_INTERVAL_MS_DOC)
            .define(ADAPTATION_BATCH_MAX_CONFIG, Type.INT, 256, Range.between(1, 65_536), Importance.MEDIUM,
                    ADAPTATION_BATCH_MAX_DOC)
            .define(ADAPTATION_ENGINE_CONFIG, Type.STRING, ADAPTATION_ENGINE_SHARED,
                    ValidString.in(ADAPTATION_ENGINE_SHARED, ADAPTATION_ENGINE_STREAM_THREAD), Importance.MEDIUM,
                    ADAPTATION_ENGINE_DOC)
            .define(ADAPTATION_ENGINE_WAIT_MS_CONFIG, Type.LONG, 5L, Range.between(0, 60_000), Importance.LOW,
                    ADAPTATION_ENGINE_WAIT_MS_DOC)
            .define(ADAPTATION_ENGINE_STALL_MS_CONFIG, Type.LONG, 30_000L, Range.atLeast(1), Importance.LOW,
                    ADAPTATION_ENGINE_STALL_MS_DOC)
            .define(ADAPTATION_ENABLED_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, ADAPTATION_ENABLED_DOC)
            .define(ADAPTED_STATE_ENCODING_CONFIG, Type.STRING, ADAPTED_STATE_INT8_DELTA,
                    ValidString.in(ADAPTED_STATE_INT8_DELTA, ADAPTED_STATE_FLOAT32), Importance.LOW,
                    ADAPTED_STATE_ENCODING_DOC)
            .define(ADAPTATION_ON_QUERY_CONFIG, Type.BOOLEAN, true, Importance.MEDIUM, ADAPTATION_ON_QUERY_DOC)
            .define(QUERY_BATCH_INTERVAL_MS_CONFIG, Type.LONG, 20L, Range.between(1, 60_000), Importance.MEDIUM,
                    QUERY_BATCH_INTERVAL_MS_DOC)
            .define(QUERY_MAX_WAIT_MS_CONFIG, Type.LONG, 100L, Range.between(0, 60_000), Importance.LOW,
                    QUERY_MAX_WAIT_MS_DOC)
            .define(QUERY_SAMPLE_WAIT_MS_CONFIG, Type.LONG, 1000L, Range.atLeast(0), Importance.MEDIUM,
                    QUERY_SAMPLE_WAIT_MS_DOC)
            .define(ADAPTATION_BACKLOG_LAG_MS_CONFIG, Type.LONG, 1_000L, Range.atLeast(0), Importance.LOW,
                    ADAPTATION_BACKLOG_LAG_MS_DOC)
            .define(WARMUP_ROUNDS_CONFIG, Type.INT, 30, Range.between(0, 10_000), Importance.LOW, WARMUP_ROUNDS_DOC)
            .define(HTTP_PORT_CONFIG, Type.INT, -1, Range.between(-1, 65_535), Importance.MEDIUM, HTTP_PORT_DOC)
            .define(HTTP_HOST_CONFIG, Type.STRING, "127.0.0.1", Importance.MEDIUM, HTTP_HOST_DOC)
            .define(HTTP_ADVERTISED_HOST_CONFIG, Type.STRING, "", Importance.MEDIUM, HTTP_ADVERTISED_HOST_DOC)
            .define(HTTP_AUTH_TOKEN_CONFIG, Type.PASSWORD, null, SECRET, Importance.HIGH, HTTP_AUTH_TOKEN_DOC)
            .define(HTTP_FORWARD_SECRET_CONFIG, Type.PASSWORD, null, SECRET, Importance.MEDIUM,
                    HTTP_FORWARD_SECRET_DOC)
            .define(HTTP_READ_TIMEOUT_MS_CONFIG, Type.LONG, 10_000L, Range.between(1, 600_000), Importance.LOW,
                    HTTP_READ_TIMEOUT_MS_DOC)
            .define(HTTP_HEADER_TIMEOUT_MS_CONFIG, Type.LONG, 2_000L, Range.between(1, 600_000), Importance.LOW,
                    HTTP_HEADER_TIMEOUT_MS_DOC)
            .define(HTTP_MAX_CONNECTIONS_PER_CLIENT_CONFIG, Type.INT, 16, Range.between(1, 65_535), Importance.LOW,
                    HTTP_MAX_CONNECTIONS_PER_CLIENT_DOC)
            .define(HTTP_REQUEST_TIMEOUT_MS_CONFIG, Type.LONG, 15_000L, Range.between(1, 600_000), Importance.LOW,
                    HTTP_REQUEST_TIMEOUT_MS_DOC)
            .define(HTTP_WORKERS_CONFIG, Type.INT, 4, Range.between(1, 256), Importance.LOW, HTTP_WORKERS_DOC)
            .define(HTTP_QUEUE_MAX_CONFIG, Type.INT, 64, Range.between(0, 100_000), Importance.LOW,
                    HTTP_QUEUE_MAX_DOC)
            .define(METRICS_PORT_CONFIG, Type.INT, -1, Range.between(-1, 65_535), Importance.MEDIUM, METRICS_PORT_DOC)
            .define(SCHEMA_REGISTRY_URL_CONFIG, Type.STRING, "", Importance.MEDIUM, SCHEMA_REGISTRY_URL_DOC)
            .define(SCHEMA_REGISTRY_OUTPUTS_CONFIG, Type.BOOLEAN, false, Importance.LOW, SCHEMA_REGISTRY_OUTPUTS_DOC)
            .define(SCHEMA_REGISTRY_TIMEOUT_MS_CONFIG, Type.LONG, 2_000L, Range.atLeast(1), Importance.LOW,
                    SCHEMA_REGISTRY_TIMEOUT_MS_DOC)
            .define(SCHEMA_REGISTRY_RETRIES_CONFIG, Type.INT, 2, Range.between(0, 10), Importance.LOW,
                    SCHEMA_REGISTRY_RETRIES_DOC)
            .define(SCHEMA_REGISTRY_BREAKER_MS_CONFIG, Type.LONG, 10_000L, Range.atLeast(0), Importance.LOW,
                    SCHEMA_REGISTRY_BREAKER_MS_DOC)
            .define(SCHEMA_REGISTRY_UNKNOWN_ID_CACHE_MS_CONFIG, Type.LONG, 30_000L, Range.atLeast(0), Importance.LOW,
                    SCHEMA_REGISTRY_UNKNOWN_ID_CACHE_MS_DOC)
            .define(SCHEMA_REGISTRY_AUTO_REGISTER_CONFIG, Type.BOOLEAN, true, Importance.LOW,
                    SCHEMA_REGISTRY_AUTO_REGISTER_DOC)
            .define(SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG, Type.PASSWORD, null, Importance.MEDIUM,
                    SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_DOC)
            .define(SCHEMA_REGISTRY_BEARER_AUTH_TOKEN_CONFIG, Type.PASSWORD, null, Importance.MEDIUM,
                    SCHEMA_REGISTRY_BEARER_AUTH_TOKEN_DOC)
            .define(SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG, Type.STRING, "", Importance.LOW,
                    SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_DOC)
            .define(SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD_CONFIG, Type.PASSWORD, null, Importance.LOW,
                    SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD_DOC)
            .define(SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_CONFIG, Type.STRING, "PKCS12",
                    ConfigDef.CaseInsensitiveValidString.in("PKCS12", "JKS", "PEM"), Importance.LOW,
                    SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_DOC)
            .define(DJL_THREADS_CONFIG, Type.INT, 1, Range.between(1, 256), Importance.LOW, DJL_THREADS_DOC);

    public MetastreamConfig(Map<?, ?> props) {
        // Before AbstractConfig sees the URL: it logs every STRING value at start-up.
        super(CONFIG, withoutUrlUserInfo(props));
        String topics = String.join(",", getString(TOPIC_SAMPLES_CONFIG), getString(TOPIC_QUERIES_CONFIG),
                getString(TOPIC_PREDICTIONS_CONFIG), getString(TOPIC_ADAPTATIONS_CONFIG),
                getString(TOPIC_DEAD_LETTERS_CONFIG), getString(TOPIC_MODELS_CONFIG),
                getString(TOPIC_MODEL_EVENTS_CONFIG), getString(TOPIC_MODEL_ARTIFACTS_CONFIG));
        if (Arrays.stream(topics.split(",")).distinct().count() != 8) {
            throw new ConfigException("topic names must be distinct, got " + topics);
        }
        if (getBoolean(SCHEMA_REGISTRY_OUTPUTS_CONFIG) && getString(SCHEMA_REGISTRY_URL_CONFIG).isBlank()) {
            throw new ConfigException(SCHEMA_REGISTRY_OUTPUTS_CONFIG + "=true needs " + SCHEMA_REGISTRY_URL_CONFIG);
        }
        String registry = getString(SCHEMA_REGISTRY_URL_CONFIG);
        if (!registry.isBlank() && !registry.startsWith("http://") && !registry.startsWith("https://")) {
            throw new ConfigException(SCHEMA_REGISTRY_URL_CONFIG, registry, "not an http:// or https:// URL");
        }
    }

    /**
     * {@code props} with the user info of {@code schema.registry.url} moved into
     * {@code schema.registry.basic.auth.user.info} (a PASSWORD key, which no log shows), or
     * dropped when that key is set: the URL itself is a STRING that AbstractConfig logs and
     * exceptions repeat. A URL whose '@' is not in its authority (a password with an unencoded
     * '/', '?' or '#') is refused without being shown.
     */
    private static Map<?, ?> withoutUrlUserInfo(Map<?, ?> props) {
        if (!(props.get(SCHEMA_REGISTRY_URL_CONFIG) instanceof String url) || url.indexOf('@') < 0) {
            return props;
        }
        int scheme = url.indexOf("://");
        int authorityStart = scheme < 0 ? 0 : scheme + 3;
        int authorityEnd = authorityStart;
        while (authorityEnd < url.length() && "/?#".indexOf(url.charAt(authorityEnd)) < 0) {
            authorityEnd++;
        }
        int at = url.lastIndexOf('@', authorityEnd - 1);
        if (scheme < 0 || at < authorityStart || url.indexOf('@', authorityEnd) >= 0) {
            throw new ConfigException(SCHEMA_REGISTRY_URL_CONFIG + " has an '@' outside user info the URL can carry "
                    + "(value not shown: it may hold credentials); percent-encode the password's '/', '?', '#' and "
                    + "'@', or set " + SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG);
        }
        Map<Object, Object> moved = new HashMap<>(props);
        moved.put(SCHEMA_REGISTRY_URL_CONFIG, url.substring(0, authorityStart) + url.substring(at + 1));
        Object given = props.get(SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG);
        boolean set = given instanceof Password p ? !p.value().isEmpty()
                : given != null && !given.toString().isEmpty();
        if (!set) {
            String userInfo;
            try {
                userInfo = SchemaRegistryClient.percentDecoded(url.substring(authorityStart, at));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(SCHEMA_REGISTRY_URL_CONFIG + " has user info with a malformed %-escape "
                        + "(value not shown)");
            }
            // A Password, not a String: originals() and its toString show "[hidden]".
            moved.put(SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG,
                    new Password(userInfo));
        }
        return moved;
    }

    /** A client of the configured schema registry, or empty when {@code schema.registry.url} is not set. */
    public Optional<SchemaRegistryClient> schemaRegistry() {
        String url = getString(SCHEMA_REGISTRY_URL_CONFIG);
        if (url.isBlank()) {
            return Optional.empty();
        }
        SchemaRegistryClient.Builder client = SchemaRegistryClient.builder(url)
                .timeout(Duration.ofMillis(getLong(SCHEMA_REGISTRY_TIMEOUT_MS_CONFIG)))
                .retries(getInt(SCHEMA_REGISTRY_RETRIES_CONFIG), Duration.ofMillis(100))
                .unknownIdCache(Duration.ofMillis(getLong(SCHEMA_REGISTRY_UNKNOWN_ID_CACHE_MS_CONFIG)))
                .breaker(Duration.ofMillis(getLong(SCHEMA_REGISTRY_BREAKER_MS_CONFIG)))
                .lookupOnly(!getBoolean(SCHEMA_REGISTRY_AUTO_REGISTER_CONFIG));
        if (getPassword(SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG) != null) {
            client.basicAuth(getPassword(SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_CONFIG).value());
        }
        if (getPassword(SCHEMA_REGISTRY_BEARER_AUTH_TOKEN_CONFIG) != null) {
            client.bearerToken(getPassword(SCHEMA_REGISTRY_BEARER_AUTH_TOKEN_CONFIG).value());
        }
        String trustStore = getString(SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG);
        if (!trustStore.isBlank()) {
            client.sslContext(trustContext(trustStore, getString(SCHEMA_REGISTRY_SSL_TRUSTSTORE_TYPE_CONFIG),
                    getPassword(SCHEMA_REGISTRY_SSL_TRUSTSTORE_PASSWORD_CONFIG)));
        }
        return Optional.of(client.build());
    }

    private static SSLContext trustContext(String location, String type,
            Password password) {
        char[] secret = password == null ? null : password.value().toCharArray();
        try (InputStream in = Files.newInputStream(Path.of(location))) {
            KeyStore store;
            if (type.equalsIgnoreCase("PEM")) {
                // The CA certificates of a PEM file, as trusted entries of an in-memory store.
                store = KeyStore.getInstance(KeyStore.getDefaultType());
                store.load(null, null);
                int n = 0;
                for (var certificate : CertificateFactory.getInstance("X.509")
                        .generateCertificates(in)) {
                    store.setCertificateEntry("ca-" + n++, certificate);
                }
                if (n == 0) {
                    throw new ConfigException(SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG, location,
                            "no PEM certificate in it");
                }
            } else {
                store = KeyStore.getInstance(type);
                store.load(in, secret);
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(
                    TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new ConfigException(SCHEMA_REGISTRY_SSL_TRUSTSTORE_LOCATION_CONFIG, location,
                    "cannot load the trust store: " + e.getMessage());
        }
    }

    /**
     * {@code djl.threads} as {@code overrides} (a demo's {@code --set key=value}) say, or its
     * default: for commands that must start the engine before they build a whole configuration.
     */
    public static int djlThreads(Map<String, ?> overrides) {
        Object given = overrides.get(DJL_THREADS_CONFIG);
        Object value = given != null ? given : CONFIG.defaultValues().get(DJL_THREADS_CONFIG);
        return (Integer) ConfigDef.parseType(DJL_THREADS_CONFIG, value, Type.INT);
    }

    /**
     * Every key as a Markdown table, in the order the {@code ConfigDef} defines them: what
     * {@code docs/configuration.md} holds (a test fails when that file is stale). Password
     * defaults are never shown.
     */
    public static String markdownTable() {
        StringBuilder out = new StringBuilder("| key | type | default | valid values | importance | meaning |\n"
                + "| --- | --- | --- | --- | --- | --- |\n");
        for (ConfigDef.ConfigKey key : CONFIG.configKeys().values()) {
            String dflt = !key.hasDefault() ? "(required)"
                    : key.type == Type.PASSWORD ? (key.defaultValue == null ? "" : "(hidden)")
                    : key.defaultValue == null || key.defaultValue.toString().isEmpty() ? "(empty)"
                    : "`" + machineFree(ConfigDef.convertToString(key.defaultValue,
                            key.type)) + "`";
            // A lambda validator has no readable toString; its rule is in the key's documentation.
            String valid = key.validator == null || key.validator.getClass().isSynthetic()
                    || key.validator.toString().contains("$$Lambda") ? "" : key.validator.toString();
            out.append("| `").append(key.name).append("` | ").append(key.type.name().toLowerCase(Locale.ROOT))
                    .append(" | ").append(dflt).append(" | ").append(cell(valid)).append(" | ")
                    .append(key.importance.name().toLowerCase(Locale.ROOT)).append(" | ")
                    .append(cell(key.documentation)).append(" |\n");
        }
        return out.toString();
    }

    /** A default under this machine's temporary directory, written the same on every machine. */
    private static String machineFree(String value) {
        String tmp = System.getProperty("java.io.tmpdir");
        return tmp != null && !tmp.isEmpty() && value.startsWith(tmp)
                ? "${java.io.tmpdir}" + value.substring(tmp.length()) : value;
    }

    private static String cell(String text) {
        return text == null ? "" : text.replace("|", "\\|").replace("\n", " ");
    }

    public static ConfigDef configDef() {
        return new ConfigDef(CONFIG);
    }

    /** {@code instance.id}, or application id, host name and process id when it is not set. */
    public String instanceId() {
        String configured = getString(INSTANCE_ID_CONFIG);
        if (!configured.isBlank()) {
            return configured;
        }
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            host = "unknown-host";
        }
        return getString(APPLICATION_ID_CONFIG) + "@" + host + ":" + ProcessHandle.current().pid();
    }

    /**
     * What every Kafka client of the instance needs: {@code bootstrap.servers} and the security
     * settings, passed through unchanged ({@code security.protocol}, {@code ssl.*}, {@code sasl.*}:
     * TLS, SASL/SCRAM and the rest as the Kafka client documents them).
     */
    public Map<String, Object> clientProperties() {
        Map<String, Object> p = new HashMap<>();
        p.put(BOOTSTRAP_SERVERS_CONFIG, getString(BOOTSTRAP_SERVERS_CONFIG));
        originals().forEach((key, value) -> {
            if (isClientSecuritySetting(key)) {
                p.put(key, value);
            }
        });
        return p;
    }

    /** Whether {@code key} is a Kafka client's security setting ({@code security.protocol}, {@code ssl.*}, {@code sasl.*}). */
    public static boolean isClientSecuritySetting(String key) {
        return key.equals("security.protocol") || key.startsWith("ssl.") || key.startsWith("sasl.");
    }

    /**
     * Properties for {@link org.apache.kafka.streams.KafkaStreams}, without the exception handlers:
     * the instance installs those ({@code ErrorsToDeadLetters.install}) with its own counters.
     */
    public Properties streamsProperties() {
        Properties p = new Properties();
        p.putAll(clientProperties());
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, getString(APPLICATION_ID_CONFIG));
        p.put(StreamsConfig.STATE_DIR_CONFIG, getString(STATE_DIR_CONFIG));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, getString(PROCESSING_GUARANTEE_CONFIG));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, getInt(NUM_STREAM_THREADS_CONFIG));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, getLong(COMMIT_INTERVAL_MS_CONFIG));
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, getInt(NUM_STANDBY_REPLICAS_CONFIG));
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDbMemory.class);
        p.put(BoundedRocksDbMemory.BLOCK_CACHE_BYTES, getLong(ROCKSDB_BLOCK_CACHE_BYTES_CONFIG));
        p.put(BoundedRocksDbMemory.WRITE_BUFFER_BYTES, getLong(ROCKSDB_WRITE_BUFFER_BYTES_CONFIG));
        // A query and the samples before it sit on two partitions of one stream task. With 0 the
        // task still waits for a partition that is empty locally but known to have data on the
        // broker, so records are taken in timestamp order without a fixed idle delay.
        p.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, 0L);
        p.putAll(originalsWithPrefix(STREAMS_PREFIX));
        return p;
    }
}

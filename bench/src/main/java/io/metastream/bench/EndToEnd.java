package io.metastream.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.management.OperatingSystemMXBean;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.embedded.Measurements;
import io.metastream.embedded.Producers;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.AvroSerde;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.server.MetastreamApp;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.StoreNames;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.AssignedConsumerThread;
import io.metastream.streams.internals.PackedSupportSet;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * The end-to-end benchmark of issue 6: the real pipeline ({@link MetastreamApp}, RocksDB, exactly-once
 * v2, DJL) on the in-process KRaft broker, fed by a population of sinusoid tasks. Each mode (adaptation
 * on, adaptation off) gets its own topics, application id and state directory on one broker, and runs
 * two phases:
 * <ol>
 *   <li><b>drain</b>: {@code --backlog} samples are produced before the pipeline starts; the score is
 *   samples/s from start to the moment the pipeline has committed them all (its capacity, with
 *   adaptation batches as large as the backlog allows);</li>
 *   <li><b>rate</b>: samples and queries at {@code --sample-rate} and {@code --query-rate} for
 *   {@code --warmup} + {@code --seconds} seconds; measured after the warm-up: query to prediction
 *   latency (inside the pipeline, from the prediction's {@code latency_micros}, and as seen by a
 *   read-committed consumer), freshness (a sample produced to the first adaptation, and to the first
 *   prediction, whose state includes it), resident memory, and at the end bytes per task in the stores
 *   (serialized values, and RocksDB's directories on disk after close).</li>
 * </ol>
 * The broker, the pipeline and this load generator share one JVM and its cores, as in the demo, so
 * compare the modes of one run with each other rather than with other machines.
 *
 * <pre>java -cp bench/target/benchmarks.jar io.metastream.bench.EndToEnd [--tasks 20000]
 *     [--sample-rate 20000] [--query-rate 2000] [--seconds 30] [--warmup 5] [--backlog 400000]
 *     [--modes off,on] [--set key=value ...] [--report e2e.json]</pre>
 * Modes: {@code off} (adaptation off), {@code on} (on, on the shared adaptation engine, the default)
 * and {@code thread} (on, each stream task adapting on its stream thread). {@code --modes} may repeat
 * them ({@code off,on,thread,off,on,thread}); when every mode runs twice or more, the first round
 * only warms up the JIT and the ratios to {@code off} average the rest.
 */
public final class EndToEnd {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    private static final String WARM_UP_TASK = "warm-up";
    /** Modes: adaptation off; on, on the shared engine (the default); on, on the stream threads. */
    private static final String OFF = "off";
    private static final String ON = "on";
    private static final String THREAD = "thread";
    private static final Duration DRAIN_LIMIT = Duration.ofSeconds(180);
    private static final Duration ANSWER_LIMIT = Duration.ofSeconds(60);
    /** The keys that make a mode; a --set of one would run every mode as the same. */
    private static final List<String> MODE_KEYS = List.of(MetastreamConfig.ADAPTATION_ENABLED_CONFIG,
            MetastreamConfig.ADAPTATION_ENGINE_CONFIG);

    record Options(int tasks, int sampleRate, int queryRate, int seconds, int warmup, int backlog,
            List<String> modes, Map<String, String> overrides, Path report) {
        static Options parse(String[] args) {
            Map<String, String> values = new HashMap<>(Map.of("--tasks", "20000", "--sample-rate", "20000",
                    "--query-rate", "2000", "--seconds", "30", "--warmup", "5", "--backlog", "400000",
                    "--modes", "off,on", "--report", "e2e.json"));
            Map<String, String> overrides = new LinkedHashMap<>();
            for (int i = 0; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option " + args[i] + " needs a value");
                }
                if (args[i].equals("--set")) {
                    String[] kv = args[i + 1].split("=", 2);
                    if (MODE_KEYS.contains(kv[0])) {
                        throw new IllegalArgumentException(kv[0] + " is what --modes sets; choose the modes instead");
                    }
                    overrides.put(kv[0], kv.length > 1 ? kv[1] : "");
                } else if (values.containsKey(args[i])) {
                    values.put(args[i], args[i + 1]);
                } else {
                    throw new IllegalArgumentException("unknown option " + args[i] + "; known: " + values.keySet()
                            + " and --set key=value (any MetastreamConfig key)");
                }
            }
            List<String> modes = Arrays.stream(values.get("--modes").split(",")).map(String::trim).toList();
            for (String m : modes) {
                if (!List.of(OFF, ON, THREAD).contains(m)) {
                    throw new IllegalArgumentException("--modes takes on, thread and off, got " + m);
                }
            }
            return new Options(Integer.parseInt(values.get("--tasks")), Integer.parseInt(values.get("--sample-rate")),
                    Integer.parseInt(values.get("--query-rate")), Integer.parseInt(values.get("--seconds")),
                    Integer.parseInt(values.get("--warmup")), Integer.parseInt(values.get("--backlog")), modes,
                    overrides, Path.of(values.get("--report")));
        }
    }

    private final Options options;
    private final BaseModel base;
    private final EmbeddedPipeline pipeline;
    private final EmbeddedKafkaBroker broker;
    private final Path work;

    private EndToEnd(Options options, BaseModel base, EmbeddedPipeline pipeline) {
        this.options = options;
        this.base = base;
        this.pipeline = pipeline;
        this.broker = pipeline.broker();
        this.work = pipeline.directory();
    }

    public static void main(String[] args) throws IOException {
        Options options = Options.parse(args);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("options", Map.of("tasks", options.tasks(), "sample_rate", options.sampleRate(), "query_rate",
                options.queryRate(), "seconds", options.seconds(), "warmup", options.warmup(), "backlog",
                options.backlog(), "overrides", options.overrides()));
        report.put("cores", Runtime.getRuntime().availableProcessors());
        // The engine starts with --set djl.threads before the base is trained; --set reaches every mode.
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().overrides(options.overrides()).start()) {
            report.put("djl_threads", DjlRuntime.intraOpThreads());
            EndToEnd bench = new EndToEnd(options, Workloads.base(), pipeline);
            Map<String, Map<String, Object>> runs = new LinkedHashMap<>();
            for (int i = 0; i < options.modes().size(); i++) {
                String name = options.modes().get(i) + (i + 1);
                runs.put(name, bench.run(options.modes().get(i), name));
            }
            report.put("runs", runs);
            // With every mode run twice or more, the first round of modes only warms up the JIT (the
            // first run of a JVM is the slowest whichever mode it is) and stays out of the ratios.
            int distinct = (int) options.modes().stream().distinct().count();
            Map<String, Map<String, Object>> measured = new LinkedHashMap<>();
            runs.entrySet().stream().skip(runs.size() >= 2 * distinct ? distinct : 0)
                    .forEach(e -> measured.put(e.getKey(), e.getValue()));
            report.put("ratio_runs", List.copyOf(measured.keySet()));
            for (String metric : List.of("drain_samples_per_s", "drain_samples_per_pipeline_cpu_s",
                    "drain_samples_per_process_cpu_s")) {
                for (String mode : List.of(ON, THREAD)) {
                    double on = mean(measured, mode, metric);
                    double off = mean(measured, OFF, metric);
                    if (on > 0 && off > 0) {
                        report.put(metric + "_ratio_" + mode + "_to_off", on / off);
                        System.out.printf(Locale.ROOT, "%s, adaptation %s / off (means over %s): %.0f / %.0f = "
                                + "%.2f%n", metric, mode, measured.keySet(), on, off, on / off);
                    }
                }
            }
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(options.report().toFile(), report);
        System.out.println("report written to " + options.report());
        System.exit(0);
    }

    private static double mean(Map<String, Map<String, Object>> runs, String mode, String metric) {
        return runs.entrySet().stream().filter(e -> e.getKey().startsWith(mode))
                .mapToDouble(e -> ((Number) e.getValue().get(metric)).doubleValue()).average().orElse(-1);
    }

    /** One mode in its own topics, application id and state directory, all named {@code name}. */
    private Map<String, Object> run(String kind, String name) {
        String mode = name;
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Object> settings = new HashMap<>();
        settings.put(MetastreamConfig.APPLICATION_ID_CONFIG, "e2e-" + mode);
        // --set state.dir=DIR (e.g. a tmpfs, to take the disk out of a run) puts every mode's stores
        // under DIR/<application id>: left from an earlier run, they would be restored or wiped
        // during the timed drain, and counted on disk, so they go first.
        String stateOverride = options.overrides().get(MetastreamConfig.STATE_DIR_CONFIG);
        Path stateDir = stateOverride == null ? work.resolve("state-" + mode)
                : Path.of(stateOverride).resolve("e2e-" + mode);
        if (stateOverride != null) {
            try {
                org.apache.kafka.common.utils.Utils.delete(stateDir.toFile());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot clear " + stateDir, e);
            }
        }
        settings.put(MetastreamConfig.STATE_DIR_CONFIG, work.resolve("state-" + mode).toString());
        settings.put(MetastreamConfig.MODEL_WATCH_CONFIG, false);
        settings.put(MetastreamConfig.ADAPTATION_ENABLED_CONFIG, !kind.equals(OFF));
        for (String topic : List.of(MetastreamConfig.TOPIC_SAMPLES_CONFIG, MetastreamConfig.TOPIC_QUERIES_CONFIG,
                MetastreamConfig.TOPIC_PREDICTIONS_CONFIG, MetastreamConfig.TOPIC_ADAPTATIONS_CONFIG,
                MetastreamConfig.TOPIC_DEAD_LETTERS_CONFIG, MetastreamConfig.TOPIC_MODELS_CONFIG,
                MetastreamConfig.TOPIC_MODEL_EVENTS_CONFIG)) {
            settings.put(topic, mode + "-" + topic.substring("topic.".length()).replace('.', '-'));
        }
        if (kind.equals(THREAD)) {
            settings.put(MetastreamConfig.ADAPTATION_ENGINE_CONFIG, MetastreamConfig.ADAPTATION_ENGINE_STREAM_THREAD);
        }
        System.out.printf(Locale.ROOT, "%n== %s: %d tasks, backlog %d samples, then %d samples/s + %d "
                + "queries/s for %d s (+%d s warm-up) ==%n", mode, options.tasks(), options.backlog(),
                options.sampleRate(), options.queryRate(), options.seconds(), options.warmup());
        Population population = new Population(options.tasks(), 42L);
        long[] drainStart = new long[1];
        Cpu[] cpuStart = new Cpu[1];
        try (ActiveModel model = new ActiveModel(base);
                KafkaProducer<String, byte[]> producer = Producers.traffic(broker.bootstrapServers());
                Admin admin = broker.admin();
                MetastreamApp app = pipeline.app(settings).model(model).startTimeout(Duration.ofSeconds(60))
                        .beforeProcessing(topics -> {
                            // The backlog goes in before the pipeline processes anything; the drain
                            // is timed from the start of processing.
                            warmUp(producer, topics);
                            long produceStart = System.nanoTime();
                            for (int i = 0; i < options.backlog(); i++) {
                                population.sendSample(producer, topics, System.currentTimeMillis(), false);
                            }
                            producer.flush();
                            System.out.printf(Locale.ROOT, "backlog produced in %.1f s%n",
                                    (System.nanoTime() - produceStart) / 1e9);
                            drainStart[0] = System.nanoTime();
                            cpuStart[0] = Cpu.now();
                        }).start()) {
            MetastreamConfig config = app.config();
            Topics topics = app.topics();
            Drain drain = waitUntilCommitted(admin, config, topics.samples().name(), drainStart[0]);
            Cpu drainCpu = Cpu.now().since(cpuStart[0]);
            out.put("drain_stream_cpu_s", drainCpu.streamNanos() / 1e9);
            out.put("drain_engine_cpu_s", drainCpu.engineNanos() / 1e9);
            out.put("drain_process_cpu_s", drainCpu.processNanos() / 1e9);
            out.put("drain_samples_per_pipeline_cpu_s",
                    options.backlog() / ((drainCpu.streamNanos() + drainCpu.engineNanos()) / 1e9));
            out.put("drain_samples_per_process_cpu_s", options.backlog() / (drainCpu.processNanos() / 1e9));
            out.put("drain_seconds_from_start", drain.seconds());
            out.put("drain_samples_per_s", drain.steadyRate());
            System.out.printf(Locale.ROOT, "drain: %d samples in %.1f s from start; %.0f samples/s from the first "
                    + "commit to the last; %.0f samples per pipeline-thread (stream + engine) CPU-second, %.0f per "
                    + "process CPU-second%n",
                    options.backlog(), drain.seconds(), drain.steadyRate(), out.get("drain_samples_per_pipeline_cpu_s"),
                    out.get("drain_samples_per_process_cpu_s"));

            out.putAll(ratePhase(app, producer, admin, config, population));
            out.putAll(storeSizes(app));
        }
        out.putAll(diskSizes(stateDir, options.tasks()));
        System.out.println(mode + ": " + out);
        return out;
    }

    /**
     * How long committing a topic's backlog took: {@code seconds} from start, and the rate between the
     * first commit seen and the last (without the start-up and first rebalance).
     */
    record Drain(double seconds, double steadyRate) {
    }

    /**
     * One sample per partition, each acknowledged before the next: a topic just created answers the
     * first pipelined batches of a new idempotent producer with NOT_LEADER and then OUT_OF_ORDER_SEQUENCE
     * for as long as the delivery timeout (the broker issue noted in docs/ARCHITECTURE.md), which would
     * stall the backlog for two minutes. The warm-up task is outside the population and not measured.
     */
    private static void warmUp(KafkaProducer<String, byte[]> producer, Topics topics) {
        onePerPartition(producer, topics.samples().name(), p -> SAMPLES.encode(LabelledSample.newBuilder()
                .setEventId("warm-up-" + p).setTaskId(WARM_UP_TASK).setFeatures(List.of(0f)).setTarget(0f)
                .setEventTime(Instant.now()).build()));
        onePerPartition(producer, topics.queries().name(), p -> QUERIES.encode(PredictionRequest.newBuilder()
                .setQueryId("warm-up-" + p).setTaskId(WARM_UP_TASK).setFeatures(List.of(0f))
                .setEventTime(Instant.now()).build()));
    }

    /** One record of the warm-up task to each partition of {@code topic}, each acknowledged before the next. */
    private static void onePerPartition(KafkaProducer<String, byte[]> producer, String topic,
            java.util.function.IntFunction<byte[]> valueFor) {
        for (PartitionInfo p : producer.partitionsFor(topic)) {
            try {
                producer.send(new ProducerRecord<>(topic, p.partition(), System.currentTimeMillis(), WARM_UP_TASK,
                        valueFor.apply(p.partition()))).get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("cannot send to " + topic + ": " + e.getCause(), e.getCause());
            }
        }
    }

    /** Waits until the app's committed offsets on {@code topic} reach its end. */
    private static Drain waitUntilCommitted(Admin admin, MetastreamConfig config, String topic, long since) {
        String group = config.getString(MetastreamConfig.APPLICATION_ID_CONFIG);
        long deadline = since + DRAIN_LIMIT.toNanos();
        try {
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions()
                    .forEach(p -> latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
            Map<TopicPartition, Long> ends = new HashMap<>();
            admin.listOffsets(latest).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
            long total = ends.values().stream().mapToLong(Long::longValue).sum();
            long firstNanos = -1;
            long firstCommitted = 0;
            long before = -1;
            while (System.nanoTime() < deadline) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get();
                long sum = 0;
                boolean done = true;
                for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
                    OffsetAndMetadata c = committed.get(e.getKey());
                    sum += c == null ? 0 : Math.min(c.offset(), e.getValue());
                    done &= c != null && c.offset() >= e.getValue();
                }
                long now = System.nanoTime();
                if (before < 0) {
                    before = sum;
                } else if (firstNanos < 0 && sum > before) {
                    firstNanos = now;
                    firstCommitted = sum;
                }
                if (done) {
                    double steady = firstNanos < 0 || now == firstNanos ? Double.NaN
                            : (total - firstCommitted) / ((now - firstNanos) / 1e9);
                    return new Drain((now - since) / 1e9, steady);
                }
                Thread.sleep(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot read offsets of " + topic + ": " + e.getCause(), e.getCause());
        }
        throw new IllegalStateException(topic + " not drained within " + DRAIN_LIMIT);
    }

    private Map<String, Object> ratePhase(MetastreamApp app, KafkaProducer<String, byte[]> producer, Admin admin,
            MetastreamConfig config, Population population) {
        Topics topics = app.topics();
        int totalSeconds = options.warmup() + options.seconds();
        int maxQueries = (int) Math.min(Integer.MAX_VALUE - 16, (long) options.queryRate() * totalSeconds + 16);
        AtomicLongArray sentNanos = new AtomicLongArray(maxQueries);
        Observed observed = new Observed(options.tasks(), maxQueries);
        long phaseStartMs = System.currentTimeMillis();
        List<Long> rss = new ArrayList<>();
        try (AssignedConsumerThread reader = new AssignedConsumerThread("e2e-observer", broker.bootstrapServers(),
                Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                List.of(topics.predictions().name(), topics.adaptations().name()),
                records -> records.forEach(r -> observed.observe(r, topics, sentNanos, phaseStartMs))).start()) {
            long start = System.nanoTime();
            Cpu cpuStart = Cpu.now();
            long end = start + totalSeconds * 1_000_000_000L;
            long measureFromNanos = start + options.warmup() * 1_000_000_000L;
            long samples = 0;
            int queries = 0;
            long nextSecond = start + 1_000_000_000L;
            while (true) {
                long now = System.nanoTime();
                if (now >= end) {
                    break;
                }
                double elapsed = (now - start) / 1e9;
                boolean measured = now >= measureFromNanos;
                long wallMs = System.currentTimeMillis();
                while (samples < (long) (elapsed * options.sampleRate())) {
                    population.sendSample(producer, topics, wallMs, measured);
                    samples++;
                }
                while (queries < (long) (elapsed * options.queryRate()) && queries < maxQueries) {
                    if (measured && observed.firstMeasuredQuery < 0) {
                        observed.firstMeasuredQuery = queries;
                    }
                    sentNanos.set(queries, System.nanoTime());
                    population.sendQuery(producer, topics, wallMs, queries);
                    queries++;
                }
                if (now >= nextSecond) {
                    nextSecond += 1_000_000_000L;
                    rss.add(Measurements.residentMegabytes());
                    System.out.printf(Locale.ROOT, "[%4.1fs] sent %d samples, %d queries | predictions %d | "
                            + "adaptations %d | rss %d MB%n", elapsed, samples, queries, observed.predictions.get(),
                            observed.adaptations.get(), rss.get(rss.size() - 1));
                }
                sleepMillis(1);
            }
            // A query is answered once a later sample of its partition is in (or after
            // query.sample.wait.ms): the last queries get theirs from here, as traffic that went on would.
            onePerPartition(producer, topics.samples().name(), p -> SAMPLES.encode(LabelledSample.newBuilder()
                    .setEventId("closing-" + p).setTaskId(WARM_UP_TASK).setFeatures(List.of(0f)).setTarget(0f)
                    .setEventTime(Instant.now()).build()));
            producer.flush();
            long sendEnd = System.nanoTime();
            double catchUp = waitUntilCommitted(admin, config, topics.samples().name(), sendEnd).seconds();
            Cpu rateCpu = Cpu.now().since(cpuStart);
            long answerDeadline = System.nanoTime() + ANSWER_LIMIT.toNanos();
            while (observed.predictions.get() < queries && System.nanoTime() < answerDeadline) {
                reader.failure().ifPresent(f -> {
                    throw new IllegalStateException("observer failed", f);
                });
                sleepMillis(50);
            }
            sleepMillis(300);
            reader.close();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("rate_samples_sent", samples);
            out.put("rate_queries_sent", queries);
            out.put("rate_send_seconds", (sendEnd - start) / 1e9);
            out.put("rate_samples_per_s_sent", samples / ((sendEnd - start) / 1e9));
            out.put("rate_catch_up_seconds_after_send", catchUp);
            out.put("rate_predictions", observed.predictions.get());
            out.put("rate_stream_cpu_s", rateCpu.streamNanos() / 1e9);
            out.put("rate_engine_cpu_s", rateCpu.engineNanos() / 1e9);
            out.put("engine_learner_calls", app.engine().learnerCalls());
            out.put("engine_tasks_adapted", app.engine().tasksAdapted());
            out.put("engine_round_calls", app.engine().roundCalls());
            out.put("engine_round_tasks", app.engine().roundTasks());
            // Query batches by where their adaptations were made: how many, mean and max wait (whole run).
            for (Timer t : app.registry().find("metastream.query.batch.wait").timers()) {
                String where = t.getId().getTag("adapted");
                out.put("query_batches_" + where, t.count());
                out.put("query_batch_wait_ms_mean_" + where, t.mean(TimeUnit.MILLISECONDS));
                out.put("query_batch_wait_ms_max_" + where, t.max(TimeUnit.MILLISECONDS));
            }
            out.put("rate_process_cpu_s", rateCpu.processNanos() / 1e9);
            out.put("rate_wall_s", (System.nanoTime() - start) / 1e9);
            out.put("rss_mb_max", rss.stream().mapToLong(Long::longValue).max().orElse(-1));
            out.put("rss_mb_last", rss.isEmpty() ? -1 : rss.get(rss.size() - 1));
            out.putAll(observed.summary(population, sentNanos, queries));
            return out;
        }
    }

    /** Serialized key + value bytes per task in the two per-task stores, read through interactive queries. */
    private static Map<String, Object> storeSizes(MetastreamApp app) {
        Map<String, Object> out = new LinkedHashMap<>();
        try (AvroSerde<AdaptedTask> states = new AvroSerde<>(AdaptedTask.class)) {
            long[] s = serializedBytes(app, StoreNames.SUPPORT_SETS, PackedSupportSet.SERDE);
            long[] a = serializedBytes(app, StoreNames.ADAPTED_TASKS, states);
            out.put("support_sets", s[0]);
            out.put("support_set_bytes_mean", s[0] == 0 ? 0 : (double) s[1] / s[0]);
            out.put("adapted_tasks", a[0]);
            out.put("adapted_task_bytes_mean", a[0] == 0 ? 0 : (double) a[1] / a[0]);
            out.put("serialized_bytes_per_task", (s[0] == 0 ? 0 : (double) s[1] / s[0])
                    + (a[0] == 0 ? 0 : (double) a[1] / a[0]));
        }
        return out;
    }

    private static <V> long[] serializedBytes(MetastreamApp app, String store, Serde<V> serde) {
        ReadOnlyKeyValueStore<String, V> view = app.streams().store(
                StoreQueryParameters.fromNameAndType(store, QueryableStoreTypes.<String, V>keyValueStore()));
        long count = 0;
        long bytes = 0;
        try (KeyValueIterator<String, V> it = view.all()) {
            while (it.hasNext()) {
                KeyValue<String, V> e = it.next();
                count++;
                bytes += e.key.length() + serde.serializer().serialize(store, e.value).length;
            }
        }
        return new long[] {count, bytes};
    }

    /**
     * RocksDB's files per store after the app closed (memtables flushed): as left, and after a full
     * manual compaction. A task adapted many times leaves several versions of its state in
     * uncompacted files; a long-running store is compacted in the background, so the compacted
     * figure is the one that says how many tasks fit on a disk.
     */
    private static Map<String, Object> diskSizes(Path stateDir, int tasks) {
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Long> before = bytesByStore(stateDir);
        out.put("disk_bytes_by_store", before);
        out.put("disk_bytes_per_task", perTask(before, tasks));
        compactAll(stateDir);
        Map<String, Long> after = bytesByStore(stateDir);
        out.put("disk_bytes_by_store_compacted", after);
        out.put("disk_bytes_per_task_compacted", perTask(after, tasks));
        return out;
    }

    private static double perTask(Map<String, Long> byStore, int tasks) {
        return (double) (byStore.getOrDefault(StoreNames.SUPPORT_SETS, 0L)
                + byStore.getOrDefault(StoreNames.ADAPTED_TASKS, 0L)) / tasks;
    }

    /** The {@code <state dir>/<app id>/<stream task>/rocksdb/<store>} directories. */
    private static List<Path> storeDirectories(Path stateDir) {
        try (Stream<Path> dirs = Files.walk(stateDir, 4)) {
            return dirs.filter(Files::isDirectory).filter(d -> d.getParent() != null
                    && d.getParent().getFileName().toString().equals("rocksdb")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Bytes of each store's table files (*.sst), summed over the stream tasks. */
    private static Map<String, Long> bytesByStore(Path stateDir) {
        Map<String, Long> byStore = new LinkedHashMap<>();
        for (Path store : storeDirectories(stateDir)) {
            try (Stream<Path> files = Files.list(store)) {
                long bytes = files.filter(f -> f.getFileName().toString().endsWith(".sst"))
                        .mapToLong(f -> f.toFile().length()).sum();
                byStore.merge(store.getFileName().toString(), bytes, Long::sum);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return byStore;
    }

    private static void compactAll(Path stateDir) {
        RocksDB.loadLibrary();
        for (Path store : storeDirectories(stateDir)) {
            // Kafka Streams writes its stores uncompressed; compacting must not compress them either.
            try (org.rocksdb.Options options = new org.rocksdb.Options();
                    ColumnFamilyOptions family = new ColumnFamilyOptions()
                            .setCompressionType(CompressionType.NO_COMPRESSION)) {
                List<byte[]> families = RocksDB.listColumnFamilies(options, store.toString());
                List<ColumnFamilyDescriptor> descriptors = families.stream()
                        .map(name -> new ColumnFamilyDescriptor(name, family)).toList();
                List<ColumnFamilyHandle> handles = new ArrayList<>();
                try (DBOptions db = new DBOptions();
                        RocksDB rocks = RocksDB.open(db, store.toString(), descriptors,
                                handles)) {
                    for (ColumnFamilyHandle h : handles) {
                        rocks.compactRange(h);
                    }
                    handles.forEach(ColumnFamilyHandle::close);
                }
            } catch (RocksDBException e) {
                throw new IllegalStateException("cannot compact " + store + ": " + e.getMessage(), e);
            }
        }
    }

    private static final ThreadMXBean THREADS =
            ManagementFactory.getThreadMXBean();

    /**
     * CPU time of the stream threads (libtorch runs on them, one intra-op thread) and of the whole
     * process (broker, load generator and RocksDB's native threads included). On this shared machine
     * wall-clock rates follow the other tenants' load; work per CPU-second does much less.
     */
    record Cpu(long streamNanos, long engineNanos, long processNanos) {
        static Cpu now() {
            long stream = 0;
            long engine = 0;
            for (ThreadInfo t : THREADS.getThreadInfo(THREADS.getAllThreadIds())) {
                if (t != null && t.getThreadName().contains("-StreamThread-")) {
                    stream += Math.max(0, THREADS.getThreadCpuTime(t.getThreadId()));
                } else if (t != null && t.getThreadName().equals(AdaptationEngine.THREAD_NAME)) {
                    engine += Math.max(0, THREADS.getThreadCpuTime(t.getThreadId()));
                }
            }
            long process = ((OperatingSystemMXBean)
                    ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
            return new Cpu(stream, engine, process);
        }

        Cpu since(Cpu start) {
            return new Cpu(streamNanos - start.streamNanos, engineNanos - start.engineNanos,
                    processNanos - start.processNanos);
        }
    }

    /** The tasks: one sinusoid each; samples and queries pick a task uniformly at random. */
    static final class Population {
        private final SinusoidTasks.Sinusoid[] sines;
        private final Random random;
        /** Per task, the event times (ms) of the samples sent in the measured window, in send order. */
        final Longs[] measuredSamples;
        private long sequence;

        Population(int tasks, long seed) {
            this.random = new Random(seed);
            SinusoidTasks family = new SinusoidTasks();
            this.sines = new SinusoidTasks.Sinusoid[tasks];
            this.measuredSamples = new Longs[tasks];
            for (int i = 0; i < tasks; i++) {
                sines[i] = family.sampleTask(random);
                measuredSamples[i] = new Longs();
            }
        }

        void sendSample(KafkaProducer<String, byte[]> producer, Topics topics, long wallMs, boolean measured) {
            int task = random.nextInt(sines.length);
            float x = SinusoidTasks.MIN_X + random.nextFloat() * (SinusoidTasks.MAX_X - SinusoidTasks.MIN_X);
            String key = "t" + task;
            LabelledSample sample = LabelledSample.newBuilder().setEventId("s" + sequence++).setTaskId(key)
                    .setFeatures(List.of(x)).setTarget(sines[task].value(x)).setEventTime(Instant.ofEpochMilli(wallMs))
                    .build();
            producer.send(new ProducerRecord<>(topics.samples().name(), null, wallMs, key, SAMPLES.encode(sample)));
            if (measured) {
                measuredSamples[task].add(wallMs);
            }
        }

        void sendQuery(KafkaProducer<String, byte[]> producer, Topics topics, long wallMs, int queryIndex) {
            int task = random.nextInt(sines.length);
            float x = SinusoidTasks.MIN_X + random.nextFloat() * (SinusoidTasks.MAX_X - SinusoidTasks.MIN_X);
            String key = "t" + task;
            PredictionRequest q = PredictionRequest.newBuilder().setQueryId("q" + queryIndex).setTaskId(key)
                    .setFeatures(List.of(x)).setEventTime(Instant.ofEpochMilli(wallMs)).build();
            producer.send(new ProducerRecord<>(topics.queries().name(), null, wallMs, key, QUERIES.encode(q)));
        }
    }

    /** What the read-committed observer saw; written by its thread only, read after it closed. */
    static final class Observed {
        final AtomicLong predictions = new AtomicLong();
        final AtomicLong adaptations = new AtomicLong();
        volatile int firstMeasuredQuery = -1;
        private final long[] pipelineMicros;
        private final long[] visibleNanos;
        /** Per task, pairs (newest sample time, time the state existed) of adaptations, then of predictions. */
        private final Longs[] adaptedAt;
        private final Longs[] answeredAt;

        Observed(int tasks, int maxQueries) {
            pipelineMicros = new long[maxQueries];
            visibleNanos = new long[maxQueries];
            Arrays.fill(pipelineMicros, -1);
            adaptedAt = new Longs[tasks];
            answeredAt = new Longs[tasks];
            for (int i = 0; i < tasks; i++) {
                adaptedAt[i] = new Longs();
                answeredAt[i] = new Longs();
            }
        }

        void observe(ConsumerRecord<String, byte[]> r, Topics topics, AtomicLongArray sentNanos, long phaseStartMs) {
            long now = System.nanoTime();
            if (r.key().equals(WARM_UP_TASK)) {
                return;
            }
            int task = Integer.parseInt(r.key().substring(1));
            if (r.topic().equals(topics.predictions().name())) {
                Prediction p = topics.predictions().valueSerde().deserializer().deserialize(r.topic(), r.value());
                int q = Integer.parseInt(p.getQueryId().substring(1));
                pipelineMicros[q] = p.getLatencyMicros();
                visibleNanos[q] = now - sentNanos.get(q);
                predictions.incrementAndGet();
                if (p.getAdapted()) {
                    answeredAt[task].add(p.getAdaptedThrough().toEpochMilli());
                    answeredAt[task].add(r.timestamp() + p.getLatencyMicros() / 1_000);
                }
            } else if (r.timestamp() >= phaseStartMs) {
                AdaptationEvent e = topics.adaptations().valueSerde().deserializer().deserialize(r.topic(), r.value());
                adaptations.incrementAndGet();
                adaptedAt[task].add(e.getNewestSampleTime().toEpochMilli());
                adaptedAt[task].add(r.timestamp());
            }
        }

        Map<String, Object> summary(Population population, AtomicLongArray sentNanos, int queries) {
            Map<String, Object> out = new LinkedHashMap<>();
            int from = Math.max(0, firstMeasuredQuery);
            Longs pipeline = new Longs();
            Longs visible = new Longs();
            int missing = 0;
            for (int q = from; q < queries; q++) {
                if (pipelineMicros[q] < 0) {
                    missing++;
                    continue;
                }
                pipeline.add(pipelineMicros[q]);
                visible.add(visibleNanos[q]);
            }
            out.put("queries_measured", queries - from);
            out.put("queries_unanswered", missing);
            out.putAll(percentiles("latency_pipeline_ms", pipeline, 1e-3));
            out.putAll(percentiles("latency_visible_ms", visible, 1e-6));
            out.put("latency_visible_ms_max_by_quarter_second", timeline(sentNanos, queries, false));
            out.put("latency_pipeline_ms_max_by_quarter_second", timeline(sentNanos, queries, true));
            out.putAll(freshness("freshness_adaptation_ms", population, adaptedAt));
            out.putAll(freshness("freshness_prediction_ms", population, answeredAt));
            return out;
        }

        /**
         * The slowest answer among the queries sent in each quarter second of the rate phase, its
         * warm-up included, as the read-committed consumer saw it or inside the pipeline: a p99 made
         * by one stall shows as one peak, one made by lag as a plateau.
         */
        private List<Long> timeline(AtomicLongArray sentNanos, int queries, boolean inPipeline) {
            List<Long> out = new ArrayList<>();
            if (queries == 0) {
                return out;
            }
            long start = sentNanos.get(0);
            for (int q = 0; q < queries; q++) {
                int bucket = (int) ((sentNanos.get(q) - start) / 250_000_000L);
                while (out.size() <= bucket) {
                    out.add(-1L); // stays -1 where no query of the bucket was answered
                }
                if (pipelineMicros[q] >= 0) {
                    long ms = inPipeline ? pipelineMicros[q] / 1_000 : visibleNanos[q] / 1_000_000;
                    out.set(bucket, Math.max(out.get(bucket), ms));
                }
            }
            return out;
        }

        /**
         * For every measured sample, the first (state time - sample time) over its task's states whose
         * newest sample time reaches it; samples no state reached are counted apart.
         */
        private static Map<String, Object> freshness(String name, Population population, Longs[] states) {
            Longs lags = new Longs();
            long unreached = 0;
            for (int t = 0; t < states.length; t++) {
                Longs samples = population.measuredSamples[t];
                Longs pairs = states[t];
                int next = 0;
                for (int i = 0; i + 1 < pairs.size() && next < samples.size(); i += 2) {
                    long through = pairs.get(i);
                    long at = pairs.get(i + 1);
                    while (next < samples.size() && samples.get(next) <= through) {
                        lags.add(Math.max(0, at - samples.get(next)));
                        next++;
                    }
                }
                unreached += samples.size() - next;
            }
            Map<String, Object> out = new LinkedHashMap<>(percentiles(name, lags, 1));
            out.put(name + "_samples_unreached", unreached);
            return out;
        }
    }

    private static Map<String, Object> percentiles(String name, Longs values, double scale) {
        double[] sorted = new double[values.size()];
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = values.get(i) * scale;
        }
        Arrays.sort(sorted);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put(name + "_n", sorted.length);
        out.put(name + "_p50", Measurements.percentile(sorted, 0.50));
        out.put(name + "_p99", Measurements.percentile(sorted, 0.99));
        out.put(name + "_p999", Measurements.percentile(sorted, 0.999));
        out.put(name + "_max", sorted.length == 0 ? 0 : sorted[sorted.length - 1]);
        return out;
    }

    /** A growable long array: millions of timestamps without boxing. */
    static final class Longs {
        private long[] values = new long[8];
        private int size;

        void add(long v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }

        long get(int i) {
            return values[i];
        }

        int size() {
            return size;
        }
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}

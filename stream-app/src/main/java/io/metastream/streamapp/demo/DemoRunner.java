package io.metastream.streamapp.demo;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.embedded.JitCompilers;
import io.metastream.embedded.Measurements;
import io.metastream.embedded.Pacing;
import io.metastream.embedded.Producers;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.schemas.Prediction;
import io.metastream.server.MetastreamApp;
import io.metastream.server.ModelPromotion;
import io.metastream.server.PrometheusText;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.MetastreamConfig;
import io.metastream.training.BaseModelTraining;
import io.metastream.training.ModelBootstrap;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The embedded demo, end to end in one process: a real KRaft broker, the base model (meta-trained
 * on first run), the pipeline, a simulated population producing Avro samples and queries at a set
 * rate, and a downstream consumer that checks every query got exactly one prediction and scores
 * them.
 */
public final class DemoRunner {
    public static final String MODEL_NAME = "sinusoid";
    public static final String ALIAS = "production";
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(60);
    private static final int REPORT_CHUNK = 4096;

    private final DemoOptions options;
    private final PrintStream out;
    private final Map<Integer, Long> rssMb = new TreeMap<>();
    private volatile boolean stopRequested;

    /**
     * Asks a running demo to stop producing, drain what it sent, and close the pipeline before the
     * broker (for SIGTERM). The demo's report then covers what was sent.
     */
    public void requestStop() {
        stopRequested = true;
    }

    public DemoRunner(DemoOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    public DemoReport run() {
        long wallStart = System.nanoTime();
        out.println("metastream demo: " + options.tasks() + " sinusoid tasks, " + options.shots() + " shots, "
                + options.queriesPerTask() + " queries each, " + options.rate() + " events/s");
        // First: the engine takes djl.threads before the base is loaded or trained.
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().overrides(options.overrides()).start()) {
            out.printf(Locale.ROOT, "embedded KRaft broker on %s%n", pipeline.bootstrapServers());
            LocalDirectoryModelStore store = new LocalDirectoryModelStore(options.dataDir().resolve("models"));
            BaseModel base = loadOrTrainBase(store);
            out.println("serving base " + base);
            String swapTo = options.swap() ? swapTarget(store, base) : null;
            Map<String, Object> settings = Map.of(
                    MetastreamConfig.APPLICATION_ID_CONFIG, "metastream-demo",
                    MetastreamConfig.TOPIC_PARTITIONS_CONFIG, options.partitions(),
                    MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG, Math.max(20, options.shots()),
                    MetastreamConfig.METRICS_PORT_CONFIG, 0);
            try (MetastreamApp app = pipeline.app(settings).model(base).modelStore(store)
                    .startTimeout(Duration.ofSeconds(60)).start()) {
                MetastreamConfig config = app.config();
                ActiveModel model = app.model();
                out.println("pipeline running (" + config.getString(MetastreamConfig.PROCESSING_GUARANTEE_CONFIG)
                        + ", RocksDB state in " + config.getString(MetastreamConfig.STATE_DIR_CONFIG) + ", "
                        + DjlRuntime.intraOpThreads() + " libtorch thread(s))");
                app.metricsPort().or(app::httpPort).ifPresent(port -> out.println("metrics at http://localhost:"
                        + port + "/metrics, readiness at /ready"));
                return drive(pipeline.broker(), app, model, config, wallStart, store, swapTo);
            }
        }
    }

    /**
     * The newest version other than the one serving; when there is none, meta-trains one (another
     * seed) and publishes it without moving any alias.
     */
    private String swapTarget(LocalDirectoryModelStore store, BaseModel serving) {
        List<ModelManifest> versions = store.versions(MODEL_NAME);
        for (int i = versions.size() - 1; i >= 0; i--) {
            if (!versions.get(i).ref().equals(serving.version())) {
                return versions.get(i).version();
            }
        }
        out.println("--swap needs a second version: meta-training one with another seed");
        ConsoleProgress bar = new ConsoleProgress(out, "meta-training");
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(options.trainIterations())
                .withSeed(MetaTrainingPlan.sinusoidDefault().seed() + 1);
        return BaseModelTraining.trainAndPublish(store, MODEL_NAME, MetaTrainer.Algorithm.REPTILE, new SinusoidTasks(),
                plan, (done, total, loss) -> bar.update(done, total, "")).version();
    }

    private BaseModel loadOrTrainBase(LocalDirectoryModelStore store) {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault().withIterations(options.trainIterations());
        return ModelBootstrap.loadOrTrain(store, MODEL_NAME, ALIAS, plan, new ModelBootstrap.Listener() {
            private final ConsoleProgress bar = new ConsoleProgress(out, "meta-training");

            @Override
            public void trainingStarted(MetaTrainingPlan p) {
                out.println("no base model in " + store.root() + " yet: meta-training one (Reptile, "
                        + p.iterations() + " iterations of " + p.metaBatch() + " tasks, "
                        + p.adaptation().steps() + " inner steps)");
            }

            @Override
            public MetaTrainer.Progress progress() {
                float[] smoothed = {Float.NaN};
                return (done, total, loss) -> {
                    smoothed[0] = Float.isNaN(smoothed[0]) ? loss : 0.98f * smoothed[0] + 0.02f * loss;
                    bar.update(done, total, String.format(Locale.ROOT, "query loss %.3f", smoothed[0]));
                };
            }

            @Override
            public void published(ModelManifest manifest) {
                out.println("published " + manifest.ref() + " as " + ALIAS + "; held-out metrics "
                        + manifest.provenance().get("metrics"));
            }
        });
    }

    private DemoReport drive(EmbeddedKafkaBroker broker, MetastreamApp app, ActiveModel model, MetastreamConfig config,
            long wallStart, LocalDirectoryModelStore store, String swapTo) {
        SimulatedPopulation population = new SimulatedPopulation(options);
        List<SimulatedPopulation.Event> events = population.schedule();
        Map<String, Long> sentNanos = new ConcurrentHashMap<>();
        long validQueries = events.stream().filter(SimulatedPopulation.Event::isValidQuery).count();
        long samples = events.stream().filter(e -> e.sample() && e.badKind() == null).count();
        long injected = events.stream().filter(e -> e.badKind() != null).count();
        try (OutputObserver observer = new OutputObserver(broker.bootstrapServers(), app.topics(), sentNanos);
                KafkaProducer<String, byte[]> producer = Producers.traffic(broker.bootstrapServers())) {
            warmUp(app, population, producer, observer);
            long start = System.nanoTime();
            long lastPrint = start;
            int sent = 0;
            for (SimulatedPopulation.Event e : events) {
                if (stopRequested) {
                    out.println("stop requested: draining what was sent");
                    break;
                }
                Pacing.awaitDue(start, sent, options.rate());
                String topic = e.sample() ? app.topics().samples().name() : app.topics().queries().name();
                if (e.queryId() != null) {
                    sentNanos.put(e.queryId(), System.nanoTime());
                }
                producer.send(new ProducerRecord<>(topic, null, System.currentTimeMillis(), e.key(), e.value()));
                sent++;
                if (swapTo != null && sent == events.size() / 2) {
                    out.println("promoting " + MODEL_NAME + "@" + swapTo + " to " + ALIAS + " while traffic flows");
                    ModelPromotion.promote(store, MODEL_NAME, ALIAS, swapTo, true, broker.bootstrapServers(),
                            app.topics());
                }
                if (System.nanoTime() - lastPrint > 1_000_000_000L) {
                    lastPrint = System.nanoTime();
                        progressLine(start, sent, events.size(), observer, validQueries, model);
                }
            }
            producer.flush();
            long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
            List<SimulatedPopulation.Event> sentEvents = events.subList(0, sent);
            events = sentEvents;
            validQueries = sentEvents.stream().filter(SimulatedPopulation.Event::isValidQuery).count();
            samples = sentEvents.stream().filter(ev -> ev.sample() && ev.badKind() == null).count();
            injected = sentEvents.stream().filter(ev -> ev.badKind() != null).count();
            while (observer.predictions.size() < validQueries || observer.deadLetters.get() < injected) {
                observer.check();
                if (System.nanoTime() > deadline) {
                    out.println("gave up waiting after " + DRAIN_TIMEOUT.toSeconds() + " s");
                    break;
                }
                if (System.nanoTime() - lastPrint > 1_000_000_000L) {
                    lastPrint = System.nanoTime();
                    progressLine(start, sent, events.size(), observer, validQueries, model);
                }
                Pacing.sleepMillis(20);
            }
            observer.drainToEnd(config.getString(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG), Duration.ofSeconds(30));
            progressLine(start, sent, events.size(), observer, validQueries, model);
            Map<String, Double> scraped = scrapeOwnMetrics(app);
            return report(events, observer, model, config, app.deadLetterCounts(), samples, validQueries, injected,
                    wallStart, scraped);
        }
    }

    /**
     * Warm-up traffic through the whole path before the clock starts ({@link SimulatedPopulation#warmUp}):
     * sent at twice the demo's rate, every query answered, then a wait (at most 5 s) until the JIT
     * compilers are idle. The first records after start-up also wait for fetch sessions, producer ids
     * and transactions to settle, which is not what the latency figures are about.
     */
    private void warmUp(MetastreamApp app, SimulatedPopulation population, KafkaProducer<String, byte[]> producer,
            OutputObserver observer) {
        long start = System.nanoTime();
        List<SimulatedPopulation.Event> events = population.warmUp();
        long queries = events.stream().filter(SimulatedPopulation.Event::isValidQuery).count();
        for (int i = 0; i < events.size(); i++) {
            Pacing.awaitDue(start, i, 2.0 * options.rate());
            SimulatedPopulation.Event e = events.get(i);
            String topic = e.sample() ? app.topics().samples().name() : app.topics().queries().name();
            producer.send(new ProducerRecord<>(topic, null, System.currentTimeMillis(), e.key(), e.value()));
        }
        producer.flush();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        // A warm-up query the pipeline refused (a non-finite prediction, say) is answered by its dead letter.
        while (observer.warmUpPredictions.get() + observer.warmUpDeadLetters.get() < queries) {
            observer.check();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the warm-up got " + observer.warmUpPredictions.get() + " of "
                        + queries + " predictions within 60 s");
            }
            Pacing.sleepMillis(20);
        }
        long answeredNanos = System.nanoTime() - start;
        long settle = JitCompilers.awaitIdle(Duration.ofSeconds(5));
        out.printf(Locale.ROOT, "warm-up: %d records, every query answered in %.1f s; JIT idle after %.1f s more%n",
                events.size(), answeredNanos / 1e9, settle / 1e9);
    }

    private void progressLine(long start, int sent, int total, OutputObserver o, long validQueries,
            ActiveModel model) {
        double[] lat = o.latencyMs.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int second = (int) ((System.nanoTime() - start) / 1_000_000_000L);
        long rss = Measurements.residentMegabytes();
        rssMb.put(second, rss);
        out.printf(Locale.ROOT, "[%5.1fs] sent %d/%d | predictions %d/%d | adaptations %d | dead letters %d | "
                + "p50 %.1f ms | rss %d MB | serving %s%n", (System.nanoTime() - start) / 1e9, sent, total,
                o.predictions.size(), validQueries, o.adaptations.get(), o.deadLetters.get(), Measurements.percentile(lat, 0.50),
                rss, model.base().version());
    }

    private DemoReport report(List<SimulatedPopulation.Event> events, OutputObserver o, ActiveModel model,
            MetastreamConfig config, Map<String, Long> metrics, long samples, long validQueries, long injected,
            long wallStart, Map<String, Double> scraped) {
        List<SimulatedPopulation.Event> queries = events.stream().filter(SimulatedPopulation.Event::isValidQuery).toList();
        BaseModel base = model.base();
        List<float[][]> inputs = new ArrayList<>(queries.size());
        for (SimulatedPopulation.Event q : queries) {
            inputs.add(new float[][] {{q.x()}});
        }
        // In chunks: the learner copies the base into a row per task, 7 KB each.
        float[][] basePredictions = new float[queries.size()][];
        for (int from = 0; from < queries.size(); from += REPORT_CHUNK) {
            int to = Math.min(queries.size(), from + REPORT_CHUNK);
            float[][] chunk = model.learner().predict(base, Arrays.asList(new float[to - from][]),
                    inputs.subList(from, to));
            System.arraycopy(chunk, 0, basePredictions, from, chunk.length);
        }
        List<Double> baseErr = new ArrayList<>();
        List<Double> adaptedErr = new ArrayList<>();
        long adapted = 0;
        Map<Integer, double[]> bySupport = new TreeMap<>();
        for (int i = 0; i < queries.size(); i++) {
            Prediction p = o.predictions.get(queries.get(i).queryId());
            if (p == null) {
                continue;
            }
            adapted += p.getAdapted() ? 1 : 0;
            double truth = queries.get(i).truth();
            baseErr.add(sq(basePredictions[i][0] - truth));
            adaptedErr.add(sq(p.getValue() - truth));
            double[] bucket = bySupport.computeIfAbsent(p.getSupportSize(), k -> new double[2]);
            bucket[0]++;
            bucket[1] += sq(p.getValue() - truth);
        }
        Map<Integer, DemoReport.SupportBucket> buckets = new TreeMap<>();
        bySupport.forEach((k, v) -> buckets.put(k, new DemoReport.SupportBucket((long) v[0], v[1] / v[0])));
        Evaluation.Estimate mseBase = Evaluation.Estimate.of(baseErr.stream().mapToDouble(Double::doubleValue).toArray());
        Evaluation.Estimate mseAdapted = Evaluation.Estimate.of(adaptedErr.stream().mapToDouble(Double::doubleValue).toArray());
        double[] lat = o.latencyMs.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        long missing = queries.stream().filter(q -> !o.predictions.containsKey(q.queryId())).count();
        Map<String, Long> byReason = new TreeMap<>();
        o.deadLettersByReason.forEach((k, v) -> byReason.put(k, v.get()));
        Map<String, Long> byVersion = new TreeMap<>();
        o.predictionsByVersion.forEach((k, v) -> byVersion.put(k, v.get()));
        return new DemoReport(options.tasks(), options.shots(), options.queriesPerTask(), samples, validQueries,
                o.predictions.size(), adapted, o.duplicatePredictions.get(), missing, o.adaptations.get(),
                o.adaptations.get() == 0 ? 0 : (double) o.adaptationMicros.get() / o.adaptations.get(),
                o.deadLetters.get(), injected, byReason, metrics, mseBase.mean(), mseBase.ci95(), mseAdapted.mean(),
                mseAdapted.ci95(), mseAdapted.mean() / mseBase.mean(), buckets, Measurements.percentile(lat, 0.50), Measurements.percentile(lat, 0.99),
                lat.length == 0 ? 0 : lat[lat.length - 1], (System.nanoTime() - wallStart) / 1e9, base.version(),
                byVersion, model.learner().device(), DjlRuntime.intraOpThreads(), config.getString(MetastreamConfig.PROCESSING_GUARANTEE_CONFIG),
                new TreeMap<>(rssMb), scraped);
    }

    /**
     * metastream's own samples of the pipeline's {@code /metrics}, read over HTTP as a scraper would
     * (empty with {@code metrics.port} and {@code http.port} off).
     */
    private Map<String, Double> scrapeOwnMetrics(MetastreamApp app) {
        Optional<Integer> port = app.metricsPort().or(app::httpPort);
        if (port.isEmpty()) {
            return Map.of();
        }
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + port.get() + "/metrics")).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            return PrometheusText.parse(r.body()).withPrefix("metastream_");
        } catch (IOException e) {
            out.println("could not scrape /metrics: " + e);
            return Map.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Map.of();
        }
    }

    private static double sq(double v) {
        return v * v;
    }
}

package io.metastream.streamapp.demo;

import io.metastream.data.omniglot.EpisodeSampler;
import io.metastream.data.omniglot.Omniglot;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.embedded.Pacing;
import io.metastream.embedded.Producers;
import io.metastream.learn.BaseModel;
import io.metastream.learn.ClassProbabilities;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.server.MetastreamApp;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streamapp.console.ConsoleProgress;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import io.metastream.training.ProtoNetTraining;
import io.metastream.training.protonet.ProtoNetPlan;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * {@code demo --scenario omniglot}: few-shot classification end to end in one process. Each task is
 * an N-way K-shot episode drawn from alphabets held out of training: its support images go to the
 * samples topic as labelled samples (the label is the character's name), then its query images to
 * the queries topic. A prototypical network serves them (trained into the store on first run, as
 * {@code train omniglot} would). The same episodes are then scored offline, by the same learner on
 * the same base and supports without Kafka, so the report shows what the stream adds or loses:
 * nothing, when every query is answered once and the two accuracies agree.
 */
public final class OmniglotDemo {
    /** The model the demo serves, and trains on first run. */
    public static final String MODEL_NAME = "omniglot";
    public static final int DEFAULT_TASKS = 200;
    public static final int DEFAULT_WAYS = 5;
    public static final int DEFAULT_SHOTS = 1;
    public static final int DEFAULT_QUERIES = 5;
    public static final int DEFAULT_RATE = 1000;
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(120);

    private final Omniglot data;
    private final List<String> testAlphabets;
    private final DemoOptions options;
    private final int ways;
    private final PrintStream out;

    /**
     * @param options tasks, shots, queries per class ({@code queriesPerTask}), rate, seed, data
     *     directory, training episodes on first run, partitions and overrides; no bad records, no swap
     */
    public OmniglotDemo(Omniglot data, List<String> testAlphabets, int ways, DemoOptions options, PrintStream out) {
        if (ways < 2) {
            throw new IllegalArgumentException("an episode needs at least 2 ways, got " + ways);
        }
        this.data = data;
        this.testAlphabets = List.copyOf(testAlphabets);
        this.ways = ways;
        this.options = options;
        this.out = out;
    }

    /** What the demo measured; written as JSON with snake_case names. */
    public record Report(int tasks, int ways, int shots, int queriesPerClass, long predictions,
            long missingPredictions, long duplicatePredictions, double accuracyStream, double accuracyStreamCi95,
            double accuracyOffline, double accuracyOfflineCi95, double agreement, long predictionsAdapted,
            long deadLetters, Map<String, Long> deadLettersByReason, double p50Ms, double p99Ms, double wallS,
            String modelVersion, List<String> testAlphabets, String dataSource) {

        public void write(Path file) throws IOException {
            JsonReports.write(this, file);
        }

        public boolean complete() {
            return missingPredictions == 0 && duplicatePredictions == 0;
        }

        /** Whether the stream's accuracy is within one point of the offline accuracy. */
        public boolean streamMatchesOffline() {
            return Math.abs(accuracyStream - accuracyOffline) <= 0.01;
        }

        public String summary() {
            return String.format(Locale.ROOT, """
                    %d tasks of %d-way %d-shot, %d queries per class, held-out alphabets %s
                    predictions %d (adapted %d, duplicates %d, missing %d), dead letters %d %s
                    accuracy: stream %.2f%% ± %.2f  vs  offline %.2f%% ± %.2f  (same answer on %.2f%% of queries)
                    latency query -> prediction: p50 %.1f ms, p99 %.1f ms; model %s; wall %.1f s""",
                    tasks, ways, shots, queriesPerClass, testAlphabets, predictions, predictionsAdapted,
                    duplicatePredictions, missingPredictions, deadLetters, deadLettersByReason, 100 * accuracyStream,
                    100 * accuracyStreamCi95, 100 * accuracyOffline, 100 * accuracyOfflineCi95, 100 * agreement,
                    p50Ms, p99Ms, modelVersion, wallS);
        }
    }

    /** One episode as the stream sees it: a task id, its classes' labels, and its images. */
    private record Task(String id, List<String> labels, SampleSet support, float[][] queries, int[] queryClass) {
    }

    public Report run() {
        // First: the engine takes djl.threads before the base is trained.
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().overrides(options.overrides()).start()) {
            return run(pipeline);
        }
    }

    private Report run(EmbeddedPipeline pipeline) {
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(options.dataDir().resolve("models"));
        BaseModel base = loadOrTrain(store);
        out.printf(Locale.ROOT, "metastream demo, omniglot scenario: %d tasks of %d-way %d-shot from the held-out "
                + "alphabets %s (%s); serving %s%n", options.tasks(), ways, options.shots(), testAlphabets,
                data.source(), base);
        List<Task> tasks = episodes();
        Map<String, Object> settings = Map.of(
                MetastreamConfig.APPLICATION_ID_CONFIG, "metastream-omniglot-demo",
                MetastreamConfig.MODEL_NAME_CONFIG, MODEL_NAME,
                MetastreamConfig.TOPIC_PARTITIONS_CONFIG, options.partitions(),
                MetastreamConfig.SUPPORT_MAX_SIZE_CONFIG, Math.max(ways * options.shots(), 1),
                // A query must see its episode's whole support set: on a loaded machine, wait longer
                // for the samples topic to catch up before answering without it.
                MetastreamConfig.QUERY_SAMPLE_WAIT_MS_CONFIG, 5000L);
        Streamed streamed;
        try (MetastreamApp app = pipeline.app(settings).model(base).modelStore(store)
                .startTimeout(Duration.ofSeconds(60)).start()) {
            out.println("pipeline running on the embedded broker " + pipeline.bootstrapServers());
            streamed = stream(tasks, pipeline.bootstrapServers(), app.topics());
        }
        return report(base, tasks, streamed);
    }

    private BaseModel loadOrTrain(LocalDirectoryModelStore store) {
        List<ModelManifest> versions = store.modelNames().contains(MODEL_NAME) ? store.versions(MODEL_NAME) : List.of();
        Optional<ModelManifest> trained = versions.stream()
                .filter(m -> LearnerKind.PROTONET.id().equals(m.learner()))
                .filter(m -> data.source().equals(m.provenance().get("data_source"))
                        && testAlphabets.equals(m.provenance().get("test_alphabets")))
                .reduce((a, b) -> b);
        if (trained.isEmpty()) {
            out.println("no protonet for this data and split in " + store.root() + " yet: training one ("
                    + options.trainIterations() + " episodes, train omniglot's recipe)");
            List<String> train = data.alphabets().stream().filter(a -> !testAlphabets.contains(a)).toList();
            ProtoNetPlan d = ProtoNetPlan.bundledDefault();
            ProtoNetPlan plan = new ProtoNetPlan(train, options.trainIterations(), d.ways(), d.shots(), d.queries(),
                    d.rotations(), d.learningRate(), d.halveEvery(), d.seed());
            ConsoleProgress bar = new ConsoleProgress(out, "training protonet");
            ModelManifest m = ProtoNetTraining.train(store, MODEL_NAME, data, testAlphabets, plan,
                    (done, total, loss) -> bar.update(done, total,
                            String.format(Locale.ROOT, "episode loss %.3f", loss))).manifest();
            out.println("published " + m.ref() + "; held-out metrics " + m.provenance().get("metrics"));
            trained = Optional.of(m);
        }
        return BaseModelArtifacts.load(store, MODEL_NAME, trained.get().version());
    }

    /** The episodes, drawn with the demo's seed from the held-out alphabets, no rotations. */
    private List<Task> episodes() {
        EpisodeSampler sampler = new EpisodeSampler(data.characters(testAlphabets), false);
        Random random = new Random(options.seed());
        List<Task> tasks = new ArrayList<>(options.tasks());
        int shots = options.shots();
        int queries = options.queriesPerTask();
        String prefix = "omniglot-" + Long.toHexString(System.nanoTime()) + "-";
        for (int t = 0; t < options.tasks(); t++) {
            EpisodeSampler.Episode e = sampler.sample(random, ways, shots, queries);
            List<String> labels = new ArrayList<>(ways);
            for (EpisodeSampler.EpisodeClass c : e.classes()) {
                labels.add(c.character().alphabet() + "/" + c.character().name());
            }
            float[][] support = e.supportRows();
            float[] targets = new float[support.length];
            for (int i = 0; i < targets.length; i++) {
                targets[i] = i / shots; // class-major: the order the stream first sees the labels in
            }
            int[] queryClass = new int[ways * queries];
            for (int i = 0; i < queryClass.length; i++) {
                queryClass[i] = i / queries;
            }
            tasks.add(new Task(prefix + t, labels, new SampleSet(support, targets), e.queryRows(), queryClass));
        }
        return tasks;
    }

    /** What came back from the stream. */
    private record Streamed(Map<String, Prediction> predictions, Map<String, Double> latencyMs, long duplicates,
            long deadLetters, Map<String, Long> deadLettersByReason, double seconds) {
    }

    /**
     * Each task's support images, then its queries, at the demo's rate, with strictly increasing
     * timestamps: a query is answered on the samples up to its own timestamp, its whole support set.
     */
    private Streamed stream(List<Task> tasks, String bootstrapServers, Topics topics) {
        Map<String, Long> sentNanos = new ConcurrentHashMap<>();
        long queries = tasks.stream().mapToLong(t -> t.queries().length).sum();
        long events = queries + tasks.stream().mapToLong(t -> t.support().size()).sum();
        long start = System.nanoTime();
        try (OutputObserver observer = new OutputObserver(bootstrapServers, topics, sentNanos);
                KafkaProducer<String, byte[]> producer = Producers.traffic(bootstrapServers)) {
            long lastTimestamp = 0;
            long lastPrint = start;
            int sent = 0;
            for (Task task : tasks) {
                for (int i = 0; i < task.support().size() + task.queries().length; i++) {
                    Pacing.awaitDue(start, sent, options.rate());
                    lastTimestamp = Math.max(System.currentTimeMillis(), lastTimestamp + 1);
                    Instant time = Instant.ofEpochMilli(lastTimestamp);
                    if (i < task.support().size()) {
                        LabelledSample s = LabelledSample.newBuilder().setEventId(task.id() + "-s" + i)
                                .setTaskId(task.id()).setFeatures(boxed(task.support().features()[i])).setTarget(0f)
                                .setLabel(task.labels().get((int) task.support().targets()[i])).setEventTime(time)
                                .build();
                        producer.send(new ProducerRecord<>(topics.samples().name(), null, lastTimestamp, task.id(),
                                topics.samples().valueSerde().serializer().serialize(topics.samples().name(), s)));
                    } else {
                        int k = i - task.support().size();
                        String id = task.id() + "-q" + k;
                        PredictionRequest q = PredictionRequest.newBuilder().setQueryId(id).setTaskId(task.id())
                                .setFeatures(boxed(task.queries()[k])).setEventTime(time)
                                .setAfterSamples((long) task.support().size()).build();
                        sentNanos.put(id, System.nanoTime());
                        producer.send(new ProducerRecord<>(topics.queries().name(), null, lastTimestamp, task.id(),
                                topics.queries().valueSerde().serializer().serialize(topics.queries().name(), q)));
                    }
                    sent++;
                    if (System.nanoTime() - lastPrint > 1_000_000_000L) {
                        lastPrint = System.nanoTime();
                        progress(start, sent, events, observer.predictions.size(), queries);
                    }
                }
            }
            producer.flush();
            long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
            while (observer.predictions.size() < queries && System.nanoTime() < deadline) {
                observer.check();
                if (System.nanoTime() - lastPrint > 1_000_000_000L) {
                    lastPrint = System.nanoTime();
                    progress(start, sent, events, observer.predictions.size(), queries);
                }
                Pacing.sleepMillis(20);
            }
            // Late duplicates, if any, are counted: everything committed so far is read.
            observer.drainToEnd(bootstrapServers, Duration.ofSeconds(30));
            progress(start, sent, events, observer.predictions.size(), queries);
            Map<String, Long> byReason = new HashMap<>();
            observer.deadLettersByReason.forEach((reason, n) -> byReason.put(reason, n.get()));
            return new Streamed(new HashMap<>(observer.predictions), new HashMap<>(observer.latencyMs),
                    observer.duplicatePredictions.get(), observer.deadLetters.get(), byReason,
                    (System.nanoTime() - start) / 1e9);
        }
    }

    /**
     * Scores the stream's answers and, offline, the same base on the same supports and queries:
     * one batched adaptation and one batched classification, no Kafka. A query the stream did not
     * answer counts as wrong for the stream.
     */
    private Report report(BaseModel base, List<Task> tasks, Streamed streamed) {
        double[] streamAccuracy = new double[tasks.size()];
        double[] offlineAccuracy = new double[tasks.size()];
        long agreeing = 0;
        long adapted = 0;
        long queries = 0;
        try (DispatchingLearner local = new DispatchingLearner(DjlRuntime.defaultDevice())) {
            List<TaskAdaptation> states = local.adapt(base, tasks.stream().map(Task::support).toList()).tasks();
            List<float[]> prototypes = states.stream().map(TaskAdaptation::state).toList();
            int[] classCounts = tasks.stream().mapToInt(t -> t.labels().size()).toArray();
            float[][][] offline = local.classify(base, prototypes,
                    tasks.stream().map(Task::queries).toList(), classCounts);
            for (int t = 0; t < tasks.size(); t++) {
                Task task = tasks.get(t);
                int streamRight = 0;
                int offlineRight = 0;
                for (int k = 0; k < task.queries().length; k++) {
                    String truth = task.labels().get(task.queryClass()[k]);
                    String offlineLabel = task.labels().get(ClassProbabilities.top(offline[t][k]));
                    Prediction p = streamed.predictions().get(task.id() + "-q" + k);
                    String streamLabel = p == null || p.getLabel() == null ? null : p.getLabel().toString();
                    offlineRight += truth.equals(offlineLabel) ? 1 : 0;
                    streamRight += truth.equals(streamLabel) ? 1 : 0;
                    agreeing += offlineLabel.equals(streamLabel) ? 1 : 0;
                    adapted += p != null && p.getAdapted() ? 1 : 0;
                }
                streamAccuracy[t] = (double) streamRight / task.queries().length;
                offlineAccuracy[t] = (double) offlineRight / task.queries().length;
                queries += task.queries().length;
            }
        }
        Evaluation.Estimate s = Evaluation.Estimate.of(streamAccuracy);
        Evaluation.Estimate o = Evaluation.Estimate.of(offlineAccuracy);
        double[] latencies = streamed.latencyMs().values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        long answered = tasks.stream().flatMap(t -> java.util.stream.IntStream.range(0, t.queries().length)
                .mapToObj(k -> t.id() + "-q" + k)).filter(streamed.predictions()::containsKey).count();
        return new Report(tasks.size(), ways, options.shots(), options.queriesPerTask(), streamed.predictions().size(),
                queries - answered, streamed.duplicates(), s.mean(), s.ci95(), o.mean(), o.ci95(),
                queries == 0 ? 0 : (double) agreeing / queries, adapted, streamed.deadLetters(),
                new LinkedHashMap<>(streamed.deadLettersByReason()), percentile(latencies, 0.50),
                percentile(latencies, 0.99), streamed.seconds(), base.version(), testAlphabets, data.source());
    }

    private static double percentile(double[] sorted, double q) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private static List<Float> boxed(float[] values) {
        List<Float> out = new ArrayList<>(values.length);
        for (float v : values) {
            out.add(v);
        }
        return out;
    }

    private void progress(long start, int sent, long total, int answered, long queries) {
        out.printf(Locale.ROOT, "[%5.1fs] sent %d/%d | predictions %d/%d%n", (System.nanoTime() - start) / 1e9, sent,
                total, answered, queries);
    }
}

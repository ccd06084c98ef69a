package io.metastream.streamapp.demo;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.embedded.TopicReader;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.SampleSet;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.server.MetastreamApp;
import io.metastream.server.continual.ContinualMetaTrainer;
import io.metastream.server.continual.ContinualTrainingConfig;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.store.ModelManifest;
import io.metastream.streams.MetastreamConfig;
import io.metastream.training.continual.DriftScenario;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * {@code demo --scenario drift}: the continual loop through the real stream. An embedded broker,
 * the pipeline serving a frozen base with hot swaps on, and the meta-trainer in the same process.
 * Users of the drift scenario's population arrive in rounds (the shift halfway); each user's
 * query before its sample k is answered by the stream after k shots, so every prediction is a
 * prequential one and names the base that made it. Prints the MSE of post-shift users by the base
 * that answered, and how long the first promotion took after the shift.
 */
public final class DriftDemo {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    private static final String MODEL = "sine-drift";
    private static final int[] SHOTS = {0, 1, 5, 10};

    /** Users arrive in this many rounds; the population shifts at the middle one. */
    public static final int ROUNDS = 10;
    /** Samples per user; a query comes before each of the first 11. */
    public static final int SAMPLES_PER_USER = 12;
    /** Users by default (60 a round), and meta-training iterations of the frozen base. */
    public static final int DEFAULT_USERS = 600;
    public static final int DEFAULT_TRAIN_ITERATIONS = 1500;

    /**
     * MSE of post-shift users by shots, for answers of the frozen base and of promoted ones; how
     * many users in how many rounds were sent, and how many predictions came back.
     */
    public record Report(int users, int rounds, Map<String, Map<Integer, Evaluation.Estimate>> byBase, int promotions,
            double secondsFromShiftToPromotion, List<String> decisions, int predictions) {
        /** Writes the report as JSON with snake_case names (NaN as the string "NaN"). */
        public void write(Path file) throws IOException {
            JsonReports.write(this, file);
        }

        public static Report read(Path file) throws IOException {
            return JsonReports.read(file, Report.class);
        }
    }

    private final DemoOptions options;
    private final int usersPerRound;
    private final PrintStream out;

    /**
     * The common demo options: {@code tasks} users (rounded up to a multiple of {@link #ROUNDS}),
     * {@code rate} events a second within a round, {@code trainIterations} for the frozen base,
     * {@code seed}, {@code partitions} and {@code overrides}; shots, queries, bad records, the data
     * directory and swaps are the sinusoid scenario's.
     */
    public DriftDemo(DemoOptions options, PrintStream out) {
        this.options = options;
        this.usersPerRound = (options.tasks() + ROUNDS - 1) / ROUNDS;
        this.out = out;
    }

    public Report run() throws Exception {
        int shift = ROUNDS / 2;
        // First: the engine takes djl.threads before the frozen base is trained.
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().overrides(options.overrides()).start()) {
            LocalDirectoryModelStore store = new LocalDirectoryModelStore(pipeline.directory().resolve("models"));
            out.printf("meta-training the frozen base on the original population (Reptile, %,d iterations)%n",
                    options.trainIterations());
            MetaTrainingPlan plan = DriftScenario.plan(options.trainIterations(), options.seed());
            float[] p = new MetaTrainer(MetaTrainer.Algorithm.REPTILE, DjlRuntime.defaultDevice())
                    .train(new SinusoidTasks(), plan, (a, b, c) -> { }).parameters();
            ModelManifest frozen = BaseModelArtifacts.publish(store, MODEL, "reptile", plan.architecture(), p,
                    plan.adaptation(), Map.of("seed", options.seed(), "population", new SinusoidTasks().id()));
            store.setAlias(MODEL, "production", frozen.version());
            Map<String, Object> settings = pipeline.settings(Map.of(
                    MetastreamConfig.APPLICATION_ID_CONFIG, "metastream-drift-demo",
                    MetastreamConfig.TOPIC_PARTITIONS_CONFIG, options.partitions(),
                    MetastreamConfig.MODEL_STORE_DIR_CONFIG, store.root().toString(),
                    MetastreamConfig.MODEL_NAME_CONFIG, MODEL,
                    ContinualTrainingConfig.EVERY_NEW_TASKS_CONFIG, usersPerRound,
                    ContinualTrainingConfig.HELD_OUT_TASKS_CONFIG, 40,
                    ContinualTrainingConfig.MIN_HELD_OUT_TASKS_CONFIG, 20,
                    ContinualTrainingConfig.ITERATIONS_CONFIG, 1000,
                    ContinualTrainingConfig.OUTER_STEP_CONFIG, 0.003));
            Map<String, float[]> truth = new HashMap<>(); // query id -> {shots, truth, round}
            List<float[][]> postShiftUsers = new ArrayList<>(); // per user: {xs, ys, query xs, query truths}
            long shiftStartedMs = -1;
            try (MetastreamApp app = MetastreamApp.builder(new MetastreamConfig(settings)).modelStore(store)
                    .startTimeout(Duration.ofSeconds(60)).start();
                    ContinualMetaTrainer trainer = new ContinualMetaTrainer(app.config(),
                            new ContinualTrainingConfig(settings), store).start();
                    KafkaProducer<String, byte[]> producer = producer(pipeline.bootstrapServers());
                    TopicReader<String, byte[]> predictions = new TopicReader<>(pipeline.bootstrapServers(),
                            app.topics().predictions().name(), new StringDeserializer(),
                            new ByteArrayDeserializer())) {
                out.println("pipeline and meta-trainer running on " + pipeline.bootstrapServers() + "; "
                        + ROUNDS + " rounds of " + usersPerRound + " users, the shift at round " + shift + ", "
                        + options.rate() + " events/s");
                Random random = new Random(options.seed() * 31 + 1);
                // One millisecond per event: a query and the sample after it must not share a
                // timestamp, or the query would be answered with that sample too.
                long clock = System.currentTimeMillis();
                int sent = 0;
                List<ConsumerRecord<String, byte[]>> answered = List.of();
                for (int r = 0; r < ROUNDS; r++) {
                    SinusoidTasks population = DriftScenario.population(true, r, shift);
                    if (r == shift) {
                        shiftStartedMs = System.currentTimeMillis();
                    }
                    long roundsBefore = trainer.roundsFinished();
                    // Paced within the round: the wait for the trainer between rounds is not traffic.
                    long roundStart = System.nanoTime();
                    int sentInRound = 0;
                    for (int u = 0; u < usersPerRound; u++) {
                        String task = "r" + r + "-u" + u;
                        SinusoidTasks.Sinusoid sine = population.sampleTask(random);
                        float[][] user = new float[4][SAMPLES_PER_USER];
                        if (r >= shift) {
                            postShiftUsers.add(user);
                        }
                        for (int k = 0; k < SAMPLES_PER_USER; k++) {
                            if (k <= 10) {
                                pace(roundStart, sentInRound++);
                                float xq = -5 + 10 * random.nextFloat();
                                String id = task + "-q" + k;
                                truth.put(id, new float[] {k, sine.value(xq), r});
                                user[2][k] = xq;
                                user[3][k] = sine.value(xq);
                                long at = clock++;
                                producer.send(new ProducerRecord<>(app.topics().queries().name(), null, at, task,
                                        QUERIES.encode(PredictionRequest.newBuilder().setQueryId(id).setTaskId(task)
                                                .setFeatures(List.of(xq)).setEventTime(Instant.ofEpochMilli(at))
                                                .setAfterSamples((long) k).build())));
                                sent++;
                            }
                            pace(roundStart, sentInRound++);
                            float x = -5 + 10 * random.nextFloat();
                            user[0][k] = x;
                            user[1][k] = sine.value(x);
                            long at = clock++;
                            producer.send(new ProducerRecord<>(app.topics().samples().name(), null, at, task,
                                    SAMPLES.encode(LabelledSample.newBuilder().setEventId(task + "-s" + k)
                                            .setTaskId(task).setFeatures(List.of(x)).setTarget(sine.value(x))
                                            .setEventTime(Instant.ofEpochMilli(at)).build())));
                        }
                    }
                    producer.flush();
                    clock = Math.max(clock, System.currentTimeMillis());
                    answered = predictions.readAtLeast(sent, Duration.ofSeconds(120));
                    // Users arrive as fast as the trainer keeps up with: the next round waits until the
                    // trainer has looked at this one (decided, or skipped for too few tasks so far).
                    // The pipeline itself never waits for the trainer.
                    long deadline = System.currentTimeMillis() + 120_000;
                    while (trainer.roundsFinished() <= roundsBefore && System.currentTimeMillis() < deadline) {
                        Thread.sleep(50);
                    }
                    String serving = store.alias(MODEL, "production").orElse("?");
                    while (!app.model().base().version().endsWith("@" + serving)
                            && System.currentTimeMillis() < deadline) {
                        Thread.sleep(50); // the hot swap of a promotion, through the models topic
                    }
                    out.printf("round %d: %d users in, %d predictions out, serving %s%n", r, usersPerRound,
                            answered.size(), app.model().base().version());
                }
                long promotedAtMs = -1;
                for (ContinualMetaTrainer.Decision d : trainer.decisions()) {
                    long created = store.versions(MODEL).stream()
                            .filter(m -> m.version().equals(d.candidateVersion())).findFirst()
                            .map(m -> m.createdAt().toEpochMilli()).orElse(-1L);
                    if (d.promoted() && promotedAtMs < 0 && created >= shiftStartedMs) {
                        promotedAtMs = created;
                    }
                }
                int misaligned = 0;
                Map<String, List<double[]>> byBase = new LinkedHashMap<>();
                byBase.put("frozen (answered by the stream)", new ArrayList<>());
                byBase.put("promoted (answered by the stream)", new ArrayList<>());
                byBase.put("frozen (same questions, off the stream)", frozenArm(store, frozen.version(), postShiftUsers));
                for (ConsumerRecord<String, byte[]> rec : answered) {
                    Prediction pr = app.topics().predictions().valueSerde().deserializer().deserialize(rec.topic(),
                            rec.value());
                    float[] t = truth.get(pr.getQueryId());
                    if (t == null || t[2] < shift) {
                        continue;
                    }
                    boolean isFrozen = pr.getModelVersion().endsWith("@" + frozen.version());
                    if (pr.getSupportSize() != (int) t[0]) {
                        misaligned++;
                    }
                    double[] row = new double[11];
                    Arrays.fill(row, Double.NaN);
                    double e = pr.getValue() - t[1];
                    row[(int) t[0]] = e * e;
                    byBase.get(isFrozen ? "frozen (answered by the stream)" : "promoted (answered by the stream)")
                            .add(row);
                }
                Map<String, Map<Integer, Evaluation.Estimate>> figures = new LinkedHashMap<>();
                byBase.forEach((base, rows) -> {
                    Map<Integer, Evaluation.Estimate> e = new LinkedHashMap<>();
                    for (int k : SHOTS) {
                        double[] v = rows.stream().mapToDouble(row -> row[k]).filter(x -> !Double.isNaN(x))
                                .toArray();
                        if (v.length > 1) {
                            e.put(k, Evaluation.Estimate.of(v));
                        }
                    }
                    if (!e.isEmpty()) {
                        figures.put(base, e);
                    }
                });
                List<String> decisions = new ArrayList<>();
                trainer.decisions().forEach(d -> decisions.add((d.promoted() ? "promoted " : "refused ")
                        + d.candidateVersion() + ": " + d.verdict().reason()));
                int promotions = (int) trainer.decisions().stream().filter(ContinualMetaTrainer.Decision::promoted)
                        .count();
                double wait = promotedAtMs < 0 || promotedAtMs < shiftStartedMs ? Double.NaN
                        : (promotedAtMs - shiftStartedMs) / 1000.0;
                if (misaligned > 0) {
                    out.println("answers whose support size is not their shot count: " + misaligned);
                }
                return new Report(ROUNDS * usersPerRound, ROUNDS, figures, promotions, wait, decisions,
                        answered.size());
            }
        }
    }

    /**
     * The frozen base asked the same questions as the stream was, with the same samples before
     * each: the baseline arm, computed here because the stream serves one base at a time.
     */
    private static List<double[]> frozenArm(LocalDirectoryModelStore store, String version, List<float[][]> users) {
        BaseModel frozen = BaseModelArtifacts.load(store, MODEL, version);
        List<double[]> rows = new ArrayList<>();
        try (GradientLearner learner = new GradientLearner(
                DjlRuntime.defaultDevice())) {
            for (float[][] u : users) {
                double[] row = new double[11];
                for (int k = 0; k <= 10; k++) {
                    float[][] x = new float[k][];
                    float[] y = new float[k];
                    for (int i = 0; i < k; i++) {
                        x[i] = new float[] {u[0][i]};
                        y[i] = u[1][i];
                    }
                    float[] state = k == 0 ? null : learner.adapt(frozen, List.of(new SampleSet(x, y)))
                            .tasks().get(0).state();
                    float p = learner.predict(frozen, Collections.singletonList(state),
                            List.<float[][]>of(new float[][] {{u[2][k]}}))[0][0];
                    row[k] = (p - u[3][k]) * (double) (p - u[3][k]);
                }
                rows.add(row);
            }
        }
        return rows;
    }

    /** Prints the report as the other demos do. */
    public static void print(Report r, PrintStream out) {
        r.decisions().forEach(d -> out.println("  " + d));
        out.println("post-shift users, stream predictions by the base that answered (MSE +- 95% CI):");
        r.byBase().forEach((base, e) -> {
            StringBuilder line = new StringBuilder(String.format("  %s%n   ", base));
            e.forEach((k, v) -> line.append(String.format("  %2d shots %.3f +- %.3f (%d)", k, v.mean(), v.ci95(),
                    v.tasks())));
            out.println(line);
        });
        out.printf("%d users in %d rounds; promotions: %d; first promoted candidate published %.1f s after the shift; %d predictions%n",
                r.users(), r.rounds(), r.promotions(), r.secondsFromShiftToPromotion(), r.predictions());
    }

    /** Waits until event {@code index} of a round is due at {@code rate} events a second. */
    private void pace(long roundStartNanos, int index) throws InterruptedException {
        long due = roundStartNanos + (long) (index * 1e9 / options.rate());
        long wait = due - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        }
    }

    private static KafkaProducer<String, byte[]> producer(String bootstrapServers) {
        Map<String, Object> props = new HashMap<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrapServers, ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 5));
        return new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
    }
}

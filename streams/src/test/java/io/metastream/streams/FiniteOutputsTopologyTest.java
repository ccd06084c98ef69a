package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.Learner;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import io.metastream.schemas.AdaptationEvent;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.streams.internals.AdaptedStateCodec;
import io.metastream.streams.internals.Floats;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Finite outputs: gradient, ridge-head and task-encoder bases fed extreme but finite samples and
 * queries (3e38, 1e30) publish only finite predictions, store only finite states, answer or
 * dead-letter every query exactly once, and count their fallbacks.
 */
class FiniteOutputsTopologyTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    private static final Duration ROUND = Duration.ofMillis(300);
    /** Extreme but finite support points (x, y), one task each. */
    private static final Map<String, float[]> EXTREME_POINTS = Map.of("big-y", new float[] {1f, 3e38f},
            "big-x", new float[] {1e30f, 1f}, "huge-x", new float[] {3e38f, 1f},
            "both", new float[] {-3e38f, -3e38f});
    private static final float[] EXTREME_QUERIES = {1e30f, 3e38f, -3e38f, -1e30f};

    @TempDir
    Path stateDir;
    private final Topics topics = Topics.defaults();
    private ActiveModel model;
    private SimpleMeterRegistry registry;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> samples;
    private TestInputTopic<byte[], byte[]> queries;
    private TestOutputTopic<String, Prediction> predictions;
    private TestOutputTopic<String, AdaptationEvent> adaptations;
    private TestOutputTopic<String, DeadLetter> deadLetters;
    private Instant clock = Instant.parse("2026-01-01T00:00:00Z");
    private final List<String> queryIds = new ArrayList<>();

    static Stream<String> bases() {
        return Stream.of("reptile", "steep-gradient", "ridge", "encoder");
    }

    /**
     * The test's bases: the quick sinusoid base (gradient steps); a gradient base whose every input
     * weight is 2 (so a query of 3e38 makes every first-layer unit infinite and the next layer NaN,
     * as the issue saw); the same body with a ridge head; an untrained task encoder.
     */
    private static BaseModel base(String kind) {
        BaseModel quick = TestModels.quickSinusoidBase();
        return switch (kind) {
            case "reptile" -> quick;
            case "steep-gradient" -> {
                float[] theta = quick.parameters();
                for (int j = 0; j < quick.architecture().fanOut(0); j++) {
                    theta[j] = 2f;
                }
                yield new BaseModel("steep@test", "maml", quick.architecture(), theta, quick.adaptation());
            }
            case "ridge" -> new BaseModel("ridge@test", LearnerKind.ANIL_RIDGE.id(), quick.architecture(),
                    quick.parameters(), AdaptationSettings.NONE);
            case "encoder" -> {
                MlpArchitecture enc = MlpArchitecture.parse("2-32-8");
                MlpArchitecture dec = MlpArchitecture.parse("9-32-1");
                yield BaseModel.taskEncoder("te@test", enc, gaussian(enc, 5), dec, gaussian(dec, 6));
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    private static float[] gaussian(MlpArchitecture arch, long seed) {
        Random r = new Random(seed);
        float[] p = new float[arch.parameterCount()];
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (0.3 * r.nextGaussian());
        }
        return p;
    }

    private void start(BaseModel base, Learner learner) {
        model = new ActiveModel(base, learner);
        registry = new SimpleMeterRegistry();
        TopologySettings settings = TopologySettings.of(20, 200, 256, true, 20).withQuerySampleWaitMs(250);
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "finite-outputs-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        driver = new TopologyTestDriver(MetastreamTopology.builder(model,
                AdaptationEngine.onCallingThread(model.learner(), settings.adaptationBatchMax())).settings(settings)
                .topics(topics).metrics(MetastreamMetrics.of(registry, "")).addTo(new org.apache.kafka.streams.Topology()),
                props);
        samples = driver.createInputTopic("samples", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        queries = driver.createInputTopic("queries", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
        predictions = driver.createOutputTopic("predictions", Serdes.String().deserializer(),
                topics.predictions().valueSerde().deserializer());
        adaptations = driver.createOutputTopic("adaptations", Serdes.String().deserializer(),
                topics.adaptations().valueSerde().deserializer());
        deadLetters = driver.createOutputTopic("dead-letters", Serdes.String().deserializer(),
                topics.deadLetters().valueSerde().deserializer());
    }

    @AfterEach
    void stop() {
        if (driver != null) {
            driver.close();
        }
        if (model != null) {
            model.close();
        }
    }

    private void sample(String task, float x, float y) {
        clock = clock.plusMillis(1);
        samples.pipeInput(key(task), SAMPLES.encode(LabelledSample.newBuilder().setEventId(task + "-" + clock)
                .setTaskId(task).setFeatures(List.of(x)).setTarget(y).setEventTime(clock).build()), clock);
    }

    private void query(String task, float x) {
        clock = clock.plusMillis(1);
        String id = task + "-q" + queryIds.size();
        queryIds.add(id);
        queries.pipeInput(key(task), QUERIES.encode(PredictionRequest.newBuilder().setQueryId(id).setTaskId(task)
                .setFeatures(List.of(x)).setEventTime(clock).build()), clock);
    }

    private static byte[] key(String task) {
        return task.getBytes(StandardCharsets.UTF_8);
    }

    /** Five sine points, with the extreme one third when {@code extreme} is given. */
    private void sineTask(String task, float[] extreme) {
        for (int i = 0; i < 5; i++) {
            if (i == 2 && extreme != null) {
                sample(task, extreme[0], extreme[1]);
            }
            float x = -4 + 2 * i;
            sample(task, x, (float) (2 * Math.sin(x + 0.5)));
        }
    }

    private double counter(String name, String tag, String value) {
        var c = registry.find(name).tag(tag, value).counter();
        return c == null ? 0 : c.count();
    }

    private double counter(String name) {
        var c = registry.find(name).counter();
        return c == null ? 0 : c.count();
    }

    /** Every stored state decodes to finite values. */
    private void assertStoredStatesFinite() {
        KeyValueStore<String, io.metastream.schemas.state.AdaptedTask> adapted =
                driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        float[] baseParameters = model.base().parameters();
        try (KeyValueIterator<String, io.metastream.schemas.state.AdaptedTask> it = adapted.all()) {
            while (it.hasNext()) {
                KeyValue<String, io.metastream.schemas.state.AdaptedTask> e = it.next();
                float[] state = AdaptedStateCodec.decode(e.value.getState(), e.value.getStateEncoding(),
                        baseParameters);
                for (float v : state) {
                    assertThat(Float.isFinite(v)).as("stored state of %s", e.key).isTrue();
                }
            }
        }
    }

    /** Every query id is answered or dead-lettered, exactly once; every answer is finite. */
    private List<DeadLetter> assertEveryQueryHasOneFiniteOutcome(List<Prediction> answers) {
        List<DeadLetter> letters = deadLetters.readValuesToList();
        List<String> outcomes = new ArrayList<>();
        for (Prediction p : answers) {
            assertThat(Float.isFinite(p.getValue())).as("prediction %s: %s", p.getQueryId(), p.getValue()).isTrue();
            outcomes.add(p.getQueryId());
        }
        for (DeadLetter l : letters) {
            assertThat(l.getReasonCode()).isEqualTo(RejectReason.NON_FINITE_PREDICTION.name());
            assertThat(l.getSourceTopic()).isEqualTo("queries");
            outcomes.add(QUERIES.decode(l.getValue().array()).getQueryId());
        }
        assertThat(outcomes).containsExactlyInAnyOrderElementsOf(queryIds);
        assertThat(counter("metastream.dead.letters", "reason", "NON_FINITE_PREDICTION")).isEqualTo(letters.size());
        assertThat(counter("metastream.non.finite.predictions", "outcome", "dead_lettered"))
                .isEqualTo(letters.size());
        return letters;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bases")
    void shouldPublishOnlyFinitePredictionsForExtremeSamplesAndQueries(String kind) {
        start(base(kind), new DispatchingLearner(Device.cpu()));
        sineTask("normal", null);
        EXTREME_POINTS.forEach(this::sineTask);
        driver.advanceWallClockTime(ROUND);

        Map<String, AdaptationEvent> events = new HashMap<>();
        adaptations.readValuesToList().forEach(e -> events.put(e.getTaskId(), e));
        assertThat(events).containsKeys(EXTREME_POINTS.keySet().toArray(String[]::new)).containsKey("normal");
        for (String task : EXTREME_POINTS.keySet()) {
            assertThat(events.get(task).getFellBack()).as("%s: %s", kind, task).isTrue();
        }
        for (AdaptationEvent e : events.values()) {
            // The adaptations topic is published too: an overflowed loss is written as the float maximum.
            assertThat(Float.isFinite(e.getLossBefore()) && Float.isFinite(e.getLossAfter()))
                    .as("%s: losses of %s: %s, %s", kind, e.getTaskId(), e.getLossBefore(), e.getLossAfter()).isTrue();
        }
        assertThat(counter("metastream.adaptation.fallback.tasks")).isGreaterThanOrEqualTo(EXTREME_POINTS.size());
        assertStoredStatesFinite();

        // Ordinary and extreme queries, for tasks with extreme samples, an ordinary one and a cold one.
        List<String> tasks = new ArrayList<>(EXTREME_POINTS.keySet());
        tasks.add("normal");
        tasks.add("cold");
        for (String task : tasks) {
            query(task, 0.5f);
            for (float x : EXTREME_QUERIES) {
                query(task, x);
            }
        }
        // A sample after the queries: they are answered as of their time, from an adaptation made
        // for them, which falls back just the same.
        sample("big-y", 2f, 3e38f);
        driver.advanceWallClockTime(ROUND);
        driver.advanceWallClockTime(ROUND);

        List<Prediction> answers = predictions.readValuesToList();
        List<DeadLetter> letters = assertEveryQueryHasOneFiniteOutcome(answers);
        assertThat(answers).filteredOn(p -> p.getQueryId().equals("normal-q" + (tasks.indexOf("normal") * 5)))
                .singleElement().satisfies(p -> assertThat(p.getAdapted()).isTrue());
        assertStoredStatesFinite();
        if (kind.equals("steep-gradient")) {
            // x = 3e38 and -3e38 overflow this base whatever the state: dead letters, counted.
            assertThat(letters).isNotEmpty();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bases")
    void shouldAnswerWithTheBaseWhenAStoredStateIsFiniteButAnswersNonFinite(String kind) {
        start(base(kind), new DispatchingLearner(Device.cpu()));
        sineTask("huge", null);
        sineTask("nan", null);
        driver.advanceWallClockTime(ROUND);
        adaptations.readValuesToList();
        // A finite state whose answers overflow, and a NaN state as a build before this check
        // could have stored: both must be answered by the base.
        KeyValueStore<String, io.metastream.schemas.state.AdaptedTask> adapted =
                driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        float[] huge = hugeState(model.base());
        float[] nan = new float[huge.length];
        Arrays.fill(nan, Float.NaN);
        for (Map.Entry<String, float[]> e : Map.of("huge", huge, "nan", nan).entrySet()) {
            io.metastream.schemas.state.AdaptedTask state = adapted.get(e.getKey());
            state.setState(Floats.toBytes(e.getValue()));
            state.setStateEncoding(AdaptedStateCodec.FLOAT32);
            adapted.put(e.getKey(), state);
        }
        query("huge", 0.5f);
        query("nan", 0.5f);
        driver.advanceWallClockTime(ROUND);

        List<Prediction> answers = predictions.readValuesToList();
        assertEveryQueryHasOneFiniteOutcome(answers);
        float byBase = model.learner().predict(model.base(), Arrays.asList((float[]) null),
                List.<float[][]>of(new float[][] {{0.5f}}))[0][0];
        assertThat(answers).hasSize(2).allSatisfy(p -> {
            assertThat(p.getAdapted()).isFalse();
            assertThat(p.getSupportSize()).isZero();
            assertThat(p.getAdaptedThrough()).isEqualTo(Instant.EPOCH);
            assertThat(p.getValue()).isEqualTo(byBase);
        });
        assertThat(counter("metastream.non.finite.predictions", "outcome", "fell_back")).isEqualTo(2.0);
        assertThat(counter("metastream.predictions", "path", "fell_back")).isEqualTo(2.0);
    }

    /**
     * A finite state whose answers overflow: every head or fast weight near the float maximum, or an
     * embedding at the float maximum with the signs of the first decoder unit's weights.
     */
    private static float[] hugeState(BaseModel base) {
        if (base.learner().equals(LearnerKind.TASK_ENCODER.id())) {
            float[] decoder = base.parameters();
            int units = base.architecture().fanOut(0);
            float[] s = new float[base.embeddingDim()];
            for (int k = 0; k < s.length; k++) {
                s[k] = Math.copySign(Float.MAX_VALUE, decoder[(1 + k) * units]);
            }
            return s;
        }
        int size = base.learner().equals(LearnerKind.ANIL_RIDGE.id()) ? base.architecture().fanIn(2) + 1
                : base.architecture().parameterCount();
        float[] s = new float[size];
        Arrays.fill(s, 3e38f);
        return s;
    }

    /** An application's learner that does not check its states: every state it hands out is NaN. */
    private static final class CarelessLearner extends ForwardingLearner {
        CarelessLearner() {
            super(new DispatchingLearner(Device.cpu()), true);
        }

        @Override
        public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
            AdaptedBatch batch = delegate.adapt(base, supports, settings);
            List<TaskAdaptation> nan = new ArrayList<>();
            for (TaskAdaptation t : batch.tasks()) {
                float[] s = new float[t.state().length];
                Arrays.fill(s, Float.NaN);
                nan.add(new TaskAdaptation(s, t.supportSize(), t.lossBefore(), Float.NaN, false));
            }
            return new AdaptedBatch(nan, batch.micros(), batch.device(), batch.steps());
        }
    }

    @Test
    void shouldNeverStoreANonFiniteStateFromAnApplicationsLearner() {
        start(TestModels.quickSinusoidBase(), new CarelessLearner());
        sineTask("t", null);
        driver.advanceWallClockTime(ROUND);
        AdaptationEvent event = adaptations.readValue();
        assertThat(event.getFellBack()).isTrue();
        assertThat(Float.isFinite(event.getLossAfter())).isTrue();
        KeyValueStore<String, io.metastream.schemas.state.AdaptedTask> adapted =
                driver.getKeyValueStore(StoreNames.ADAPTED_TASKS);
        assertThat(adapted.get("t")).as("nothing stored: the base answers").isNull();
        assertThat(counter("metastream.adaptation.fallback.tasks")).isEqualTo(1.0);
        query("t", 0.5f);
        sample("t", 3f, 0f);
        query("t", 1f);
        driver.advanceWallClockTime(ROUND);
        List<Prediction> answers = predictions.readValuesToList();
        assertEveryQueryHasOneFiniteOutcome(answers);
        assertThat(answers).allSatisfy(p -> assertThat(p.getAdapted()).isFalse());
        assertThat(adapted.get("t")).isNull();
    }
}

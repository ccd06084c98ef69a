package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.MetastreamTopology;
import io.metastream.streams.SampleMapping;
import io.metastream.streams.StoreNames;
import io.metastream.streams.TaskSample;
import io.metastream.streams.TestModels;
import io.metastream.streams.Topics;
import io.metastream.streams.TopologySettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Class labels through the whole topology: a classifying base needs one on every sample, a label
 * over {@link TaskSample#MAX_LABEL_BYTES} is refused whatever the base, each with its own dead-letter
 * reason and counter, and an accepted label reaches the support set, from metastream's own records
 * and from an application's mapping alike. Adaptation is off: these are the input checks.
 */
class ClassLabelInputTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final MlpArchitecture THREE_WAY = MlpArchitecture.parse("1-8-3");
    private static final String LONGEST = "é".repeat(TaskSample.MAX_LABEL_BYTES / 2);

    @TempDir
    Path stateDir;
    private ActiveModel model;
    private TopologyTestDriver driver;
    private TestOutputTopic<String, DeadLetter> deadLetters;
    private final Instant clock = Instant.now().minusSeconds(60);

    @AfterEach
    void stop() {
        if (driver != null) {
            driver.close();
        }
        if (model != null) {
            model.close();
        }
    }

    /** A three-way softmax head: it classifies, and tells at most three classes apart. */
    private static BaseModel threeWayBase() {
        Random r = new Random(3);
        float[] p = new float[THREE_WAY.parameterCount()];
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (0.1 * r.nextGaussian());
        }
        return new BaseModel("three-way@1", "maml", THREE_WAY, p,
                new AdaptationSettings(1, 0.1f).withLoss(Loss.CROSS_ENTROPY));
    }

    private static TopologySettings adaptationOff() {
        TopologySettings on = TopologySettings.of(20, 200, 256, true, 20);
        return new TopologySettings(on.supportMaxSize(), on.adaptationIntervalMs(), on.adaptationBatchMax(),
                on.adaptOnQuery(), on.queryBatchIntervalMs(), on.querySampleWaitMs(), on.queryMaxWaitMs(), on.limits(),
                false, on.stateEncoding(), 0L);
    }

    private static Properties props(Path stateDir) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "class-label-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        return props;
    }

    /** metastream's own Avro samples, through the default topology. */
    private TestInputTopic<byte[], byte[]> start(ActiveModel served) {
        model = served;
        Topics topics = Topics.defaults();
        TopologySettings settings = adaptationOff();
        driver = new TopologyTestDriver(MetastreamTopology.build(topics, settings, model,
                AdaptationEngine.onCallingThread(model.learner(), settings.adaptationBatchMax())), props(stateDir));
        deadLetters = driver.createOutputTopic("dead-letters", Serdes.String().deserializer(),
                topics.deadLetters().valueSerde().deserializer());
        return driver.createInputTopic("samples", Serdes.ByteArray().serializer(), Serdes.ByteArray().serializer());
    }

    private void sample(TestInputTopic<byte[], byte[]> samples, String eventId, String label) {
        samples.pipeInput("t".getBytes(StandardCharsets.UTF_8), SAMPLES.encode(LabelledSample.newBuilder()
                .setEventId(eventId).setTaskId("t").setFeatures(List.of(0.5f)).setTarget(0f).setEventTime(clock)
                .setLabel(label).build()), clock);
    }

    private PackedSupportSet supportSet(String task) {
        KeyValueStore<String, PackedSupportSet> sets = driver.getKeyValueStore(StoreNames.SUPPORT_SETS);
        return sets.get(task);
    }

    private double deadLettersCounted(String tag) {
        return driver.metrics().entrySet().stream()
                .filter(e -> e.getKey().name().equals("dead-letters-total") && e.getKey().tags().containsValue(tag))
                .mapToDouble(e -> (Double) e.getValue().metricValue()).sum();
    }

    @Test
    void shouldDeadLetterSamplesWithoutALabelOrWithATooLongOneForAClassifyingBase() {
        TestInputTopic<byte[], byte[]> samples = start(new ActiveModel(threeWayBase(), "cpu"));
        assertThat(model.base().classifies()).isTrue();
        sample(samples, "a", "cat");
        sample(samples, "none", null);
        sample(samples, "empty", "");
        sample(samples, "long", LONGEST + "x");
        sample(samples, "longest", LONGEST);

        List<DeadLetter> letters = deadLetters.readValuesToList();
        assertThat(letters).extracting(DeadLetter::getReasonCode)
                .containsExactly("MISSING_LABEL", "MISSING_LABEL", "LABEL_TOO_LONG");
        assertThat(letters).extracting(DeadLetter::getOffset).containsExactly(1L, 2L, 3L);
        assertThat(letters.get(0).getReason()).contains("needs a label");
        assertThat(letters.get(2).getReason()).contains("201 UTF-8 bytes");
        assertThat(SAMPLES.decode(letters.get(0).getValue().array()).getEventId())
                .as("the refused record is kept whole").isEqualTo("none");
        assertThat(deadLettersCounted("samples:MISSING_LABEL")).isEqualTo(2.0);
        assertThat(deadLettersCounted("samples:LABEL_TOO_LONG")).isEqualTo(1.0);

        PackedSupportSet held = supportSet("t");
        assertThat(held.size()).isEqualTo(2);
        assertThat(held.label(0)).isEqualTo("cat");
        assertThat(held.label(1)).as("200 bytes: at the bound").isEqualTo(LONGEST);
    }

    @Test
    void shouldKeepSamplesWithOrWithoutLabelsForARegressionBaseButNotATooLongLabel() {
        TestInputTopic<byte[], byte[]> samples = start(TestModels.activeQuickBase());
        assertThat(model.base().classifies()).isFalse();
        sample(samples, "plain", null);
        sample(samples, "named", "cat");
        sample(samples, "long", LONGEST + "x");
        sample(samples, "empty", "");

        assertThat(deadLetters.readValuesToList()).extracting(DeadLetter::getReasonCode)
                .containsExactly("LABEL_TOO_LONG");
        PackedSupportSet held = supportSet("t");
        assertThat(held.size()).isEqualTo(3);
        assertThat(held.label(0)).isNull();
        assertThat(held.label(1)).as("kept for a later classifying base").isEqualTo("cat");
        assertThat(held.label(2)).as("an empty label is none, as a classifier reads it").isNull();
        assertThat(held.classesUpTo(Long.MAX_VALUE, 3).labels()).containsExactly("cat");
    }

    @Test
    void shouldCarryAMappedSamplesLabelToTheSupportSetAndRefuseAMappedSampleWithoutOne() {
        model = new ActiveModel(threeWayBase(), "cpu");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Serde<String> strings = Serdes.String();
        // "label:x" or "x": an application's own records, with and without a class.
        SampleMapping<String, String> mapping = (key, value, ts) -> {
            String[] parts = value.split(":");
            float[] x = {Float.parseFloat(parts[parts.length - 1])};
            return parts.length == 2 ? TaskSample.labelled(key, x, parts[0], ts) : new TaskSample(key, x, 0f, ts);
        };
        driver = new TopologyTestDriver(MetastreamTopology.builder(model,
                        AdaptationEngine.onCallingThread(model.learner(), 8))
                .settings(adaptationOff()).metrics(MetastreamMetrics.of(registry, ""))
                .samples("app-samples", strings, strings, mapping)
                .addTo(new Topology()), props(stateDir));
        TestInputTopic<String, String> samples = driver.createInputTopic("app-samples", strings.serializer(),
                strings.serializer());
        deadLetters = driver.createOutputTopic("dead-letters", strings.deserializer(),
                Topics.defaults().deadLetters().valueSerde().deserializer());
        samples.pipeInput("t", "dog:0.25", clock);
        samples.pipeInput("t", "0.5", clock);
        samples.pipeInput("t", "dog:0.25", clock);

        assertThat(deadLetters.readValuesToList()).extracting(DeadLetter::getReasonCode)
                .containsExactly("MISSING_LABEL");
        assertThat(registry.get("metastream.dead.letters").tag("reason", "MISSING_LABEL").counter().count())
                .isEqualTo(1.0);
        PackedSupportSet held = supportSet("t");
        assertThat(held.size()).as("the redelivered copy has the same content id").isEqualTo(1);
        assertThat(held.label(0)).isEqualTo("dog");
        assertThat(held.eventId(0)).isEqualTo(TaskSample.labelled("t", new float[] {0.25f}, "dog",
                clock.toEpochMilli()).eventId());
    }
}

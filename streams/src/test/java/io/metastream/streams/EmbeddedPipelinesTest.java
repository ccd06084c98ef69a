package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DispatchingLearner;
import io.metastream.learn.Learner;
import io.metastream.learn.SampleSet;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.serde.AvroSerde;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * metastream added to an application's own topology: its records read by its mapping (plain
 * {@code "task;x;y"} strings here), two pipelines under two prefixes beside the application's own
 * processor, and a learner registered by the application.
 */
class EmbeddedPipelinesTest {
    @TempDir
    Path stateDir;

    /** {@code task;x;y} samples, {@code task;id;x} queries, {@code id=value} predictions. */
    private static MetastreamTopology.Builder textPipeline(ActiveModel model, String prefix) {
        return MetastreamTopology.builder(model, AdaptationEngine.onCallingThread(model.learner(), 64))
                .prefix(prefix)
                .settings(TopologySettings.of(20, 50, 64, true, 20).withQuerySampleWaitMs(250))
                .samples(prefix + "-samples", Serdes.String(), Serdes.String(), (k, v, ts) -> {
                    String[] f = v.split(";");
                    return new TaskSample(f[0], new float[] {Float.parseFloat(f[1])}, Float.parseFloat(f[2]), ts);
                })
                .queries(prefix + "-queries", Serdes.String(), Serdes.String(), (k, v, ts) -> {
                    String[] f = v.split(";");
                    return new TaskQuery(f[0], f[1], new float[] {Float.parseFloat(f[2])}, ts);
                })
                .predictions(prefix + "-predictions", Serdes.String(),
                        p -> p.getQueryId() + "=" + p.getValue() + (p.getAdapted() ? " adapted" : " cold"))
                .adaptations(prefix + "-adaptations")
                .deadLetters(prefix + "-dead-letters");
    }

    @Test
    void shouldRunTwoPrefixedPipelinesBesideTheApplicationsOwnProcessor() {
        try (ActiveModel model = TestModels.activeQuickBase()) {
            StreamsBuilder builder = new StreamsBuilder();
            builder.stream("orders", Consumed.with(Serdes.String(), Serdes.String())).mapValues(v -> v.toUpperCase())
                    .to("orders-upper", Produced.with(Serdes.String(), Serdes.String()));
            Topology topology = builder.build();
            textPipeline(model, "a").addTo(topology);
            textPipeline(model, "b").addTo(topology);

            Set<String> stores = new java.util.TreeSet<>();
            for (TopologyDescription.Subtopology s : topology.describe().subtopologies()) {
                s.nodes().forEach(n -> {
                    if (n instanceof TopologyDescription.Processor p) {
                        stores.addAll(p.stores());
                    }
                });
            }
            assertThat(stores).contains("a-support-sets", "b-support-sets", "a-pending-queries", "b-adapted-tasks");

            Properties props = new Properties();
            props.put(StreamsConfig.APPLICATION_ID_CONFIG, "embedded-test");
            props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
            props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
            try (TopologyTestDriver driver = new TopologyTestDriver(topology, props)) {
                Instant t = Instant.parse("2026-01-01T00:00:00Z");
                TestInputTopic<String, String> aSamples = input(driver, "a-samples");
                TestInputTopic<String, String> aQueries = input(driver, "a-queries");
                TestInputTopic<String, String> bQueries = input(driver, "b-queries");
                for (int i = 0; i < 5; i++) {
                    t = t.plusMillis(1);
                    aSamples.pipeInput("u", "u;" + i + ";" + (2.0f * i), t);
                }
                aSamples.pipeInput("u", "u;not-a-number;1", t.plusMillis(1));
                aQueries.pipeInput("u", "u;q1;1.5", t.plusMillis(2));
                bQueries.pipeInput("u", "u;q2;1.5", t.plusMillis(2));
                input(driver, "orders").pipeInput("o", "book", t);
                driver.advanceWallClockTime(Duration.ofMillis(500));

                List<String> a = output(driver, "a-predictions").readValuesToList();
                List<String> b = output(driver, "b-predictions").readValuesToList();
                assertThat(a).singleElement().asString().startsWith("q1=").endsWith(" adapted");
                assertThat(b).as("b has no samples of u: its own stores").singleElement().asString()
                        .startsWith("q2=").endsWith(" cold");
                assertThat(driver.getKeyValueStore("a-support-sets").get("u")).isNotNull();
                assertThat(driver.getKeyValueStore("b-support-sets").get("u")).isNull();

                TestOutputTopic<String, DeadLetter> letters = driver.createOutputTopic("a-dead-letters",
                        Serdes.String().deserializer(), new AvroSerde<>(DeadLetter.class).deserializer());
                DeadLetter letter = letters.readValue();
                assertThat(letter.getReasonCode()).isEqualTo(RejectReason.UNDECODABLE.name());
                assertThat(letter.getReason()).contains("not-a-number");
                assertThat(driver.createOutputTopic("b-dead-letters", Serdes.String().deserializer(),
                        Serdes.String().deserializer()).isEmpty()).isTrue();
                assertThat(output(driver, "orders-upper").readValue()).isEqualTo("BOOK");
            }
        }
    }

    @Test
    void shouldRefuseAPipelinePrefixThatCannotBePartOfATopicName() {
        try (ActiveModel model = TestModels.activeQuickBase()) {
            assertThatThrownBy(() -> textPipeline(model, "my pipeline"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("my pipeline");
        }
    }

    /** A learner of the application's own, registered for its own manifest learner id. */
    @Test
    void shouldServeABaseWithTheLearnerTheApplicationRegistered() {
        BaseModel quick = TestModels.quickSinusoidBase();
        BaseModel custom = new BaseModel("custom@1", "constant", quick.architecture(), quick.parameters(),
                quick.adaptation());
        Learner constant = new Learner() {
            @Override
            public AdaptedBatch adapt(BaseModel base, List<SampleSet> supports, AdaptationSettings settings) {
                throw new UnsupportedOperationException("never adapts");
            }

            @Override
            public float[][] predict(BaseModel base, List<float[]> states, List<float[][]> queries) {
                return queries.stream().map(q -> {
                    float[] out = new float[q.length];
                    java.util.Arrays.fill(out, 7f);
                    return out;
                }).toArray(float[][]::new);
            }

            @Override
            public String device() {
                return "test";
            }

            @Override
            public void close() {
            }
        };
        assertThatThrownBy(() -> new ActiveModel(custom, "cpu"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("constant");
        try (ActiveModel model = new ActiveModel(quick, new DispatchingLearner(Device.cpu()).with("constant",
                constant))) {
            model.swap(custom);
            assertThat(model.learner().predict(model.base(), java.util.Collections.singletonList(null),
                    List.<float[][]>of(new float[][] {{1f}}))[0]).containsExactly(7f);
            BaseModel unknown = new BaseModel("other@1", "nobody", quick.architecture(), quick.parameters(),
                    quick.adaptation());
            assertThatThrownBy(() -> model.swap(unknown)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("nobody").hasMessageContaining("constant");
            assertThat(model.base()).isSameAs(custom);
        }
    }

    private static TestInputTopic<String, String> input(TopologyTestDriver driver, String topic) {
        return driver.createInputTopic(topic, Serdes.String().serializer(), Serdes.String().serializer());
    }

    private static TestOutputTopic<String, String> output(TopologyTestDriver driver, String topic) {
        return driver.createOutputTopic(topic, Serdes.String().deserializer(), Serdes.String().deserializer());
    }
}

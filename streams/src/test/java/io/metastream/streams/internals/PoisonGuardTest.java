package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.schemas.DeadLetter;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.MetastreamTopology;
import io.metastream.streams.SampleMapping;
import io.metastream.streams.StoreNames;
import io.metastream.streams.TaskSample;
import io.metastream.streams.TestModels;
import io.metastream.streams.TopologySettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A record that drives its processor into an Error is isolated as POISON; the processor goes on. */
class PoisonGuardTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Pipeline pipeline = new Pipeline(PipelineNames.unprefixed(),
            TopologySettings.defaults(), null, null, "samples", null, "queries", null,
            MetastreamMetrics.of(registry, ""), new java.util.concurrent.atomic.AtomicLong());

    /** Throws what the record's value names, and records what it handled. */
    private static final class Volatile implements Processor<byte[], byte[], String, SpecificRecord> {
        final List<String> handled = new ArrayList<>();

        @Override
        public void init(ProcessorContext<String, SpecificRecord> context) {
        }

        @Override
        public void process(Record<byte[], byte[]> record) {
            String v = new String(record.value(), StandardCharsets.UTF_8);
            switch (v) {
                case "oom" -> throw new OutOfMemoryError("Java heap space (claimed 2147483647 bytes)");
                case "deep" -> throw new StackOverflowError();
                case "broken-jvm" -> throw new InternalError("not a record's fault");
                default -> handled.add(v);
            }
        }
    }

    @Test
    void shouldDeadLetterTheRecordThatThrewAnErrorAndHandleTheNextOne() {
        Volatile inner = new Volatile();
        PoisonGuard guard = new PoisonGuard(inner, pipeline);
        MockProcessorContext<String, SpecificRecord> context = new MockProcessorContext<>();
        context.setRecordMetadata("samples", 2, 41);
        guard.init(context);

        for (String v : List.of("a", "oom", "b", "deep", "c")) {
            guard.process(new Record<>("t-1".getBytes(StandardCharsets.UTF_8), v.getBytes(StandardCharsets.UTF_8), 5L));
        }

        assertThat(inner.handled).containsExactly("a", "b", "c");
        List<DeadLetter> letters = context.forwarded().stream()
                .map(f -> (DeadLetter) f.record().value()).toList();
        assertThat(letters).extracting(DeadLetter::getReasonCode).containsExactly("POISON", "POISON");
        assertThat(letters).extracting(DeadLetter::getErrorClass)
                .containsExactly(OutOfMemoryError.class.getName(), StackOverflowError.class.getName());
        assertThat(letters.get(0).getSourceTopic()).isEqualTo("samples");
        assertThat(letters.get(0).getOffset()).isEqualTo(41);
        assertThat(StandardCharsets.UTF_8.decode(letters.get(0).getValue()).toString()).isEqualTo("oom");
        assertThat(context.forwarded()).allSatisfy(f ->
                assertThat(f.childName()).contains(Pipeline.DEAD_LETTERS_SINK));
        assertThat(registry.get("metastream.dead.letters").tag("reason", "POISON").counter().count()).isEqualTo(2.0);
    }

    @Test
    void shouldLetAnErrorNoRecordCanCauseEndTheThread() {
        PoisonGuard guard = new PoisonGuard(new Volatile(), pipeline);
        MockProcessorContext<String, SpecificRecord> context = new MockProcessorContext<>();
        guard.init(context);
        assertThatThrownBy(() -> guard.process(new Record<>(new byte[0], "broken-jvm".getBytes(StandardCharsets.UTF_8),
                1L))).isInstanceOf(InternalError.class);
        assertThat(context.forwarded()).isEmpty();
    }

    @TempDir
    java.nio.file.Path stateDir;

    /**
     * Through the whole topology: an application's serde that a record drives into a stack
     * overflow (no decoder of ours can: they are framed first) is a POISON dead letter, and the
     * next record of the partition is still taken.
     */
    @Test
    void shouldDeadLetterARecordThatOverflowsTheApplicationsSerdeAndTakeTheNext() {
        io.metastream.streams.ActiveModel model = TestModels.activeQuickBase();
        java.util.Properties props = new java.util.Properties();
        props.put(org.apache.kafka.streams.StreamsConfig.APPLICATION_ID_CONFIG, "poison-guard-test");
        props.put(org.apache.kafka.streams.StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(org.apache.kafka.streams.StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        org.apache.kafka.common.serialization.Serde<String> strings = org.apache.kafka.common.serialization.Serdes.String();
        SampleMapping<String, String> mapping = (key, value, ts) -> {
            if (value.equals("deep")) {
                throw new StackOverflowError();
            }
            return new TaskSample(key, new float[] {Float.parseFloat(value)}, 1f, ts);
        };
        try (org.apache.kafka.streams.TopologyTestDriver driver = new org.apache.kafka.streams.TopologyTestDriver(
                MetastreamTopology.builder(model, AdaptationEngine.onCallingThread(model.learner(), 8))
                        .samples("samples", strings, strings, mapping)
                        .addTo(new org.apache.kafka.streams.Topology()), props)) {
            var samples = driver.createInputTopic("samples", strings.serializer(), strings.serializer());
            var letters = driver.createOutputTopic("dead-letters", strings.deserializer(),
                    io.metastream.streams.Topics.defaults().deadLetters().valueSerde().deserializer());
            long now = System.currentTimeMillis();
            samples.pipeInput("t-1", "deep", now);
            samples.pipeInput("t-1", "0.5", now + 1);
            assertThat(letters.readValuesToList()).extracting(DeadLetter::getReasonCode).containsExactly("POISON");
            assertThat(driver.<String, Object>getKeyValueStore(StoreNames.SUPPORT_SETS).get("t-1"))
                    .as("the next record was taken").isNotNull();
        } finally {
            model.close();
        }
    }
}

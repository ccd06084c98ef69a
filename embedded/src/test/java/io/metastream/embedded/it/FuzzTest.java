package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.server.MetastreamApp;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ten thousand malformed records of twelve kinds, mixed with valid traffic, through a real broker:
 * the pipeline stays up, every malformed record reaches the dead-letter topic with the right
 * reason, and every valid query is answered exactly once.
 */
@Tag("embedded-broker")
class FuzzTest {
    private static final int MALFORMED = 10_000;
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);

    @TempDir
    Path dir;

    /** One kind of bad input and the reason code it must produce. */
    private record Kind(String name, String reason) {
    }

    private static final List<Kind> KINDS = List.of(
            new Kind("garbage", "UNDECODABLE"), new Kind("truncated", "UNDECODABLE"),
            new Kind("empty", "UNDECODABLE"), new Kind("null", "UNDECODABLE"),
            new Kind("unknown-schema", "UNKNOWN_SCHEMA"), new Kind("wrong-dimension", "WRONG_DIMENSION"),
            new Kind("nan-feature", "NON_FINITE"), new Kind("infinite-target", "NON_FINITE"),
            new Kind("empty-task", "MISSING_TASK_ID"), new Kind("key-mismatch", "KEY_MISMATCH"),
            new Kind("future", "FUTURE_TIMESTAMP"), new Kind("oversized", "OVERSIZED"));

    @Test
    void shouldContainTenThousandMalformedRecordsAndAnswerEveryValidQueryOnce() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(StreamingFixture.MODEL, "production", f.publishVersion(1).version());
            MetastreamApp app = f.startInstance("fuzz");
            Random random = new Random(13);
            Map<String, Integer> expected = new TreeMap<>();
            List<String> validQueries = new ArrayList<>();
            int malformed = 0;
            for (int round = 0; malformed < MALFORMED; round++) {
                validQueries.addAll(f.sendTasks("v" + round + "-", 2, 3, 1));
                for (int i = 0; i < 100 && malformed < MALFORMED; i++, malformed++) {
                    Kind kind = KINDS.get(random.nextInt(KINDS.size()));
                    if (kind.name().equals("oversized") && random.nextInt(4) != 0) {
                        kind = KINDS.get(0); // keep the 64 KiB records to a few hundred
                    }
                    boolean toSamples = random.nextBoolean();
                    String topic = toSamples ? f.topics.samples().name() : f.topics.queries().name();
                    String task = "fz" + random.nextInt(50);
                    f.producer.send(new ProducerRecord<>(topic, kind.name().equals("key-mismatch") ? "other" : task,
                            bad(kind.name(), toSamples, task, random)));
                    expected.merge(kind.reason(), 1, Integer::sum);
                }
            }
            f.producer.flush();

            List<DeadLetter> letters = new CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> readDeadLetters(f, letters, MALFORMED));
            reader.start();
            await(Duration.ofSeconds(120), "every valid query answered", () -> f.answered(validQueries));
            reader.join(120_000);

            assertThat(letters).hasSize(MALFORMED);
            Map<String, Integer> byReason = new TreeMap<>();
            letters.forEach(l -> byReason.merge(l.getReasonCode(), 1, Integer::sum));
            assertThat(byReason).isEqualTo(expected);
            assertThat(byReason).hasSizeGreaterThanOrEqualTo(8);
            assertThat(letters).allSatisfy(l -> {
                assertThat(l.getReason()).isNotBlank();
                assertThat(l.getOffset()).isNotNegative();
                assertThat(l.getSourceTopic()).isIn(f.topics.samples().name(), f.topics.queries().name());
            });
            List<String> answered = f.predictions.stream().map(Prediction::getQueryId).toList();
            assertThat(answered).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(validQueries);
            assertThat(app.streams().state().isRunningOrRebalancing()).isTrue();
            assertThat(app.deadLetterCounts().values().stream().mapToLong(Long::longValue).sum())
                    .as("the dead-letter counters").isEqualTo(MALFORMED);
        }
    }

    /**
     * Under at-least-once a refused output record is skipped and dead-lettered. (Under exactly-once
     * the broker's refusal poisons the whole transaction, which Kafka Streams cannot continue past,
     * so topics must admit the pipeline's outputs, which are all bounded in size.)
     */
    @Test
    void shouldDeadLetterOutputRecordsTheBrokerRefusesAndKeepAnswering() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(StreamingFixture.MODEL, "production", f.publishVersion(1).version());
            try (org.apache.kafka.clients.admin.Admin admin = f.broker.admin()) {
                var topic = new org.apache.kafka.common.config.ConfigResource(
                        org.apache.kafka.common.config.ConfigResource.Type.TOPIC, f.topics.adaptations().name());
                admin.incrementalAlterConfigs(Map.of(topic, List.of(new org.apache.kafka.clients.admin.AlterConfigOp(
                        new org.apache.kafka.clients.admin.ConfigEntry("max.message.bytes", "64"),
                        org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
            }
            MetastreamApp app = f.startInstance("refused",
                    Map.of(io.metastream.streams.MetastreamConfig.PROCESSING_GUARANTEE_CONFIG, "at_least_once"));
            List<String> queries = f.sendTasks("big-", 12, 3, 1);
            await(Duration.ofSeconds(60), "every query answered", () -> f.answered(queries));
            List<DeadLetter> letters = new CopyOnWriteArrayList<>();
            readDeadLetters(f, letters, 12);
            assertThat(letters).hasSizeGreaterThanOrEqualTo(12).allSatisfy(l -> {
                assertThat(l.getReasonCode()).isEqualTo("PRODUCTION_ERROR");
                assertThat(l.getErrorClass()).contains("RecordTooLarge");
            });
            assertThat(f.predictions.stream().map(Prediction::getQueryId).toList())
                    .doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(queries);
            assertThat(app.streams().state().isRunningOrRebalancing()).isTrue();
            long counted = app.deadLetterCounts().entrySet().stream().filter(e -> e.getKey().endsWith(":PRODUCTION_ERROR"))
                    .mapToLong(Map.Entry::getValue).sum();
            assertThat(counted).as("production errors counted").isGreaterThanOrEqualTo(12);
            assertThat(app.deadLetterCounts()).containsKey("punctuation:PRODUCTION_ERROR");
        }
    }

    private static byte[] bad(String kind, boolean sample, String task, Random random) {
        Instant now = Instant.now();
        return switch (kind) {
            case "garbage" -> ("{\"rating\": " + random.nextInt() + "}").getBytes(StandardCharsets.UTF_8);
            case "truncated" -> {
                byte[] good = encode(sample, task, List.of(1f), 1f, now);
                yield java.util.Arrays.copyOf(good, 1 + random.nextInt(good.length - 2));
            }
            case "empty" -> new byte[0];
            case "null" -> null;
            case "unknown-schema" -> stranger(random);
            case "wrong-dimension" -> encode(sample, task, List.of(1f, 2f, 3f), 1f, now);
            case "nan-feature" -> encode(sample, task, List.of(Float.NaN), 1f, now);
            case "infinite-target" -> sample ? encode(true, task, List.of(1f), Float.POSITIVE_INFINITY, now)
                    : encode(false, task, List.of(Float.NEGATIVE_INFINITY), 1f, now);
            case "empty-task" -> encode(sample, "", List.of(1f), 1f, now);
            case "key-mismatch" -> encode(sample, task, List.of(1f), 1f, now);
            case "future" -> encode(sample, task, List.of(1f), 1f, now.plus(Duration.ofDays(30)));
            case "oversized" -> {
                byte[] big = new byte[70_000];
                random.nextBytes(big);
                yield big;
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    private static byte[] encode(boolean sample, String task, List<Float> features, float target, Instant time) {
        return sample
                ? SAMPLES.encode(LabelledSample.newBuilder().setEventId("bad").setTaskId(task).setFeatures(features)
                        .setTarget(target).setEventTime(time).build())
                : QUERIES.encode(PredictionRequest.newBuilder().setQueryId("bad").setTaskId(task)
                        .setFeatures(features).setEventTime(time).build());
    }

    private static byte[] stranger(Random random) {
        Schema s = SchemaBuilder.record("Rating").fields().requiredString("user").requiredDouble("stars").endRecord();
        GenericRecord r = new GenericData.Record(s);
        r.put("user", "u" + random.nextInt(100));
        r.put("stars", random.nextDouble() * 5);
        try {
            ByteBuffer b = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), s).encode(r);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void readDeadLetters(StreamingFixture f, List<DeadLetter> sink, int expected) {
        Map<String, Object> p = new HashMap<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, f.broker.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"));
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(f.topics.deadLetters().name()).stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (sink.size() < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(100))) {
                    sink.add(f.topics.deadLetters().valueSerde().deserializer().deserialize(r.topic(), r.value()));
                }
            }
            // Anything beyond the expected count would be a duplicate: read a little longer.
            for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(1500))) {
                sink.add(f.topics.deadLetters().valueSerde().deserializer().deserialize(r.topic(), r.value()));
            }
        }
    }
}

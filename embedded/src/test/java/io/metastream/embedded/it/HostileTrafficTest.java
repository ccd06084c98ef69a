package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.await;
import static io.metastream.testkit.HostileBytes.concat;
import static io.metastream.testkit.HostileBytes.filled;
import static io.metastream.testkit.HostileBytes.zigzag;
import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.server.ModelPromotion;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The poison pills of issue 21 against a pipeline in its own JVM at {@code -Xmx512m}: length-prefix
 * bombs of 12 to 30 bytes that claim up to 2^31 bytes or items, and framing that lies, sent to
 * samples, queries and the models topic, interleaved with valid traffic on every partition. Before
 * the bounded framing check one such record killed the stream thread with OutOfMemoryError and
 * every replacement thread after it.
 */
@Tag("embedded-broker")
class HostileTrafficTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);
    private static final AvroCodec<ModelChange> CHANGES = AvroCodec.of(ModelChange.class);

    @TempDir
    Path dir;

    /** One hostile record: its name, its bytes given the topic's 10-byte header, the reason it must get. */
    private record Bomb(String name, Function<byte[], byte[]> bytes, String reason) {
    }

    private static final List<Bomb> BOMBS = List.of(
            new Bomb("string-2^31", h -> concat(h, zigzag(Integer.MAX_VALUE), "ab".getBytes()), "UNDECODABLE"),
            new Bomb("second-string-1GiB", h -> concat(h, zigzag(1), "e".getBytes(), zigzag(1 << 30)), "UNDECODABLE"),
            new Bomb("negative-length", h -> concat(h, zigzag(-7)), "UNDECODABLE"),
            new Bomb("endless-varint", h -> concat(h, filled(12, 0xff)), "UNDECODABLE"),
            new Bomb("array-2^31-items", h -> concat(h, zigzag(1), "e".getBytes(), zigzag(1), "t".getBytes(),
                    zigzag(Integer.MAX_VALUE)), "UNDECODABLE"),
            new Bomb("block-size-lies", h -> concat(h, zigzag(1), "e".getBytes(), zigzag(1), "t".getBytes(),
                    zigzag(-3), zigzag(1 << 30)), "UNDECODABLE"),
            new Bomb("block-count-min-long", h -> concat(h, zigzag(1), "e".getBytes(), zigzag(1), "t".getBytes(),
                    zigzag(Long.MIN_VALUE)), "UNDECODABLE"),
            new Bomb("header-cut-short", h -> Arrays.copyOf(h, 6), "UNDECODABLE"),
            new Bomb("registry-format-without-registry", h -> new byte[] {0, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff,
                    (byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f}, "UNDECODABLE"),
            new Bomb("unknown-fingerprint-bomb", h -> concat(new byte[] {(byte) 0xC3, 1, 9, 9, 9, 9, 9, 9, 9, 9},
                    zigzag(Integer.MAX_VALUE)), "UNKNOWN_SCHEMA"),
            new Bomb("all-ones", h -> filled(19, 0xff), "UNDECODABLE"),
            new Bomb("float-cut", h -> concat(h, zigzag(1), "e".getBytes(), zigzag(1), "t".getBytes(), zigzag(1),
                    new byte[] {1, 2}), "UNDECODABLE"));

    @Test
    void shouldDeadLetterEveryBombAnswerEveryValidQueryOnceAndStayReady() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            f.store.setAlias(StreamingFixture.MODEL, "production", f.publishVersion(1).version());
            String v2 = f.publishVersion(2).version();
            int port;
            try (ServerSocket free = new ServerSocket(0)) {
                port = free.getLocalPort();
            }
            Map<String, String> settings = new HashMap<>();
            settings.put("bootstrap.servers", f.broker.bootstrapServers());
            settings.put("application.id", "hostile");
            settings.put("state.dir", dir.resolve("state").toString());
            settings.put("model.store.dir", dir.resolve("models").toString());
            settings.put("model.name", StreamingFixture.MODEL);
            settings.put("instance.id", "hostile");
            settings.put("http.port", Integer.toString(port));
            settings.put("query.sample.wait.ms", "5000");
            ChildInstance child = f.startChild("hostile", settings, "512m");

            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            URI ready = URI.create("http://127.0.0.1:" + port + "/ready");
            List<Integer> readiness = new CopyOnWriteArrayList<>();
            AtomicInteger probes = new AtomicInteger();
            Thread prober = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        readiness.add(http.send(HttpRequest.newBuilder(ready).timeout(Duration.ofSeconds(5)).build(),
                                HttpResponse.BodyHandlers.discarding()).statusCode());
                        probes.incrementAndGet();
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        readiness.add(-1);
                    }
                }
            });
            List<String> valid = new ArrayList<>(f.sendTasks("warm-", 8, 3, 1));
            await(Duration.ofSeconds(60), "the warm-up answered", () -> f.answered(valid));
            prober.start();

            byte[] sampleHeader = Arrays.copyOf(SAMPLES.encode(LabelledSample.newBuilder().setEventId("h")
                    .setTaskId("h").setFeatures(List.of(1f)).setTarget(1f).setEventTime(Instant.now()).build()), 10);
            byte[] queryHeader = Arrays.copyOf(QUERIES.encode(PredictionRequest.newBuilder().setQueryId("h")
                    .setTaskId("h").setFeatures(List.of(1f)).setEventTime(Instant.now()).build()), 10);
            byte[] changeHeader = Arrays.copyOf(CHANGES.encode(ModelChange.newBuilder().setModelName("m").setAlias("a")
                    .setVersion("1").setAction("promote").setChangedAt(Instant.now()).build()), 10);
            Map<String, Integer> expected = new TreeMap<>();
            int hostile = 0;
            for (int round = 0; round < 4; round++) {
                valid.addAll(f.sendTasks("r" + round + "-", 8, 3, 1));
                for (Bomb bomb : BOMBS) {
                    // Keys spread over every partition (4 by default in the fixture's topics).
                    String key = "h" + round + "-" + bomb.name();
                    f.producer.send(new ProducerRecord<>(f.topics.samples().name(), key, bomb.bytes().apply(sampleHeader)));
                    f.producer.send(new ProducerRecord<>(f.topics.queries().name(), key, bomb.bytes().apply(queryHeader)));
                    expected.merge(bomb.reason(), 2, Integer::sum);
                    hostile += 2;
                }
                // The models topic: bombs under the watched key itself, then nothing valid yet.
                f.producer.send(new ProducerRecord<>(f.topics.models().name(), StreamingFixture.MODEL + "/production",
                        BOMBS.get(round).bytes().apply(changeHeader)));
            }
            f.producer.flush();
            // A valid promotion after the models-topic bombs: the watcher must still follow and swap.
            ModelPromotion.promote(f.store, StreamingFixture.MODEL, "production", v2, true,
                    f.broker.bootstrapServers(), f.topics);
            valid.addAll(f.sendTasks("after-", 16, 3, 1));

            List<DeadLetter> letters = new CopyOnWriteArrayList<>();
            FuzzTest.readDeadLetters(f, letters, hostile);
            await(Duration.ofSeconds(120), "every valid query answered", () -> f.answered(valid));
            await(Duration.ofSeconds(60), "the promotion after the bombs served", () -> f.predictions.stream()
                    .anyMatch(p -> p.getModelVersion().equals(StreamingFixture.MODEL + "@" + v2)));
            await(Duration.ofSeconds(10), "a few more readiness probes", () -> probes.get() >= 10);
            prober.interrupt();
            prober.join(10_000);

            Map<String, Integer> byReason = new TreeMap<>();
            letters.forEach(l -> byReason.merge(l.getReasonCode(), 1, Integer::sum));
            assertThat(byReason).as("every hostile record dead-lettered once, with its reason").isEqualTo(expected);
            assertThat(letters).allSatisfy(l -> assertThat(l.getReason()).isNotBlank());
            assertThat(letters.stream().filter(l -> l.getReason().contains("bounded Avro framing")).count())
                    .as("refused by the framing check, before Avro allocated anything").isGreaterThanOrEqualTo(hostile / 2);
            List<String> answered = f.predictions.stream().map(Prediction::getQueryId).toList();
            assertThat(answered).doesNotHaveDuplicates().containsAll(valid);
            assertThat(readiness).as("/ready answered 200 throughout").isNotEmpty().containsOnly(200);
            assertThat(child.isAlive()).isTrue();
            String log = child.output();
            assertThat(log).doesNotContain("OutOfMemoryError").doesNotContain("Replacing thread")
                    .doesNotContain("StackOverflowError");
            assertThat(log).as("the watcher skipped the unreadable changes and carried on")
                    .contains("unreadable model change");
        }
    }
}

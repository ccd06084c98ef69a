package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.server.ModelPromotion;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streams.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hosts that share nothing but a network ({@link NetworkHosts}): a broker on one, an instance on
 * each of two more, each instance with its own state directory and a model store that starts
 * empty, and promotion from this JVM's host. The versions reach the instances only through Kafka
 * (the models and model-artifacts topics); the HTTP task API is asked over the network too.
 */
@Tag("embedded-broker")
class CrossHostTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ALIAS = "production";
    /** Each host has its own ports: every instance can take the same one. */
    private static final int HTTP_PORT = 8080;
    private static final int PARTITIONS = 4;
    private static final int TASKS_PER_PARTITION = 2;
    private static final int SAMPLES_PER_TASK = 4;
    private static final float X = 1.0f;
    private static final Duration SWAP_BOUND = Duration.ofSeconds(30);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Topics topics = Topics.defaults();
    private final Random random = new Random(24);

    @TempDir
    Path dir;

    @Test
    void shouldCarryVersionsToInstancesOnOtherHostsAndLeaveEveryTaskAnsweredWhenOneDies() throws Exception {
        long start = System.nanoTime();
        NetworkHosts.removeLeftovers();
        Optional<String> unavailable = NetworkHosts.unavailable();
        assumeTrue(unavailable.isEmpty(), () -> "no hosts to run on: " + unavailable.orElseThrow());
        try (NetworkHosts hosts = NetworkHosts.create(List.of("b", "i1", "i2"))) {
            // The broker starts on its host while the first version trains here.
            CompletableFuture<ChildInstance> brokerStart = CompletableFuture.supplyAsync(() -> unchecked(() ->
                    ChildInstance.startMain(dir, "broker", hosts.exec("b"), "512m", BrokerMain.class,
                            List.of(dir.resolve("broker").toString(), hosts.address("b")), BrokerMain.READY)));
            LocalDirectoryModelStore store = new LocalDirectoryModelStore(dir.resolve("promoter-store"));
            String v1 = StreamingFixture.publishVersion(store, 1).version();
            String bootstrap = BrokerMain.bootstrapServers(brokerStart.join().output());
            assertThat(bootstrap).startsWith(hosts.address("b") + ":");
            Map<String, Object> client = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            ModelPromotion.promote(store, MODEL, ALIAS, v1, true, client, topics);
            log(start, "broker up at " + bootstrap + ", " + MODEL + "@" + v1 + " promoted");

            Map<String, String> stores = Map.of("i1", "store-i1", "i2", "store-i2");
            CompletableFuture<ChildInstance> i1Start = startInstance(hosts, "i1", bootstrap, stores.get("i1"));
            ChildInstance i2 = startInstance(hosts, "i2", bootstrap, stores.get("i2")).join();
            ChildInstance i1 = i1Start.join();
            String a1 = hosts.address("i1");
            String a2 = hosts.address("i2");
            await(Duration.ofSeconds(60), "both instances ready", () -> ready(a1) && ready(a2));
            log(start, "both instances ready");

            List<String> tasks = tasksOnEveryPartition();
            Map<String, JsonNode> base = new HashMap<>();
            awaitAnswers("both serving " + MODEL + "@" + v1 + " from empty stores", Duration.ofSeconds(30),
                    List.of(a1, a2), tasks, Set.of(a1, a2), a -> version(a, v1), base);
            for (String host : List.of("i1", "i2")) {
                assertThat(new LocalDirectoryModelStore(dir.resolve(stores.get(host))).digest(MODEL, v1))
                        .as("%s's store, filled through Kafka", host).isEqualTo(store.digest(MODEL, v1));
            }

            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap, ProducerConfig.ACKS_CONFIG, "all"),
                    new StringSerializer(), new ByteArraySerializer())) {
                Map<String, SinusoidTasks.Sinusoid> sines = new HashMap<>();
                tasks.forEach(t -> sines.put(t, new SinusoidTasks().sampleTask(random)));
                sendSamples(producer, sines, SAMPLES_PER_TASK);
                Map<String, JsonNode> adapted = new HashMap<>();
                awaitAnswers("every task adapted to its samples", Duration.ofSeconds(60), List.of(a1, a2), tasks,
                        Set.of(a1, a2), a -> version(a, v1) && adaptedTo(a, SAMPLES_PER_TASK), adapted);
                for (String task : tasks) {
                    assertThat(adapted.get(task).get("value").floatValue()).as("%s adapted, not the base", task)
                            .isNotEqualTo(base.get(task).get("value").floatValue());
                }

                String v2 = StreamingFixture.publishVersion(store, 2).version();
                long promoted = System.nanoTime();
                ModelPromotion.promote(store, MODEL, ALIAS, v2, true, client, topics);
                awaitAnswers("both serving " + MODEL + "@" + v2, SWAP_BOUND, List.of(a1, a2), tasks, Set.of(a1, a2),
                        a -> version(a, v2), new HashMap<>());
                log(start, MODEL + "@" + v2 + " served by both " + millisSince(promoted) + " ms after its promotion");
                // States adapted under v1 are not used under v2 until a task's next sample re-adapts it.
                sendSamples(producer, sines, 1);
                Map<String, JsonNode> beforeKill = new HashMap<>();
                awaitAnswers("every task adapted under " + MODEL + "@" + v2, Duration.ofSeconds(60), List.of(a1, a2),
                        tasks, Set.of(a1, a2), a -> version(a, v2) && adaptedTo(a, SAMPLES_PER_TASK + 1), beforeKill);

                long killed = System.nanoTime();
                i1.kill();
                assertThat(ready(a1)).as("nothing answers on i1's host after the kill").isFalse();
                Map<String, JsonNode> survivor = new HashMap<>();
                awaitAnswers("i2 answering every task after i1's death", Duration.ofSeconds(60), List.of(a2), tasks,
                        Set.of(a2), a -> version(a, v2) && adaptedTo(a, SAMPLES_PER_TASK + 1), survivor);
                for (String task : tasks) {
                    assertThat(survivor.get(task).get("value").floatValue())
                            .as("%s answered by i2 from the same adapted state", task)
                            .isEqualTo(beforeKill.get(task).get("value").floatValue());
                }
                long fromStandby = survivor.values().stream().filter(a -> a.get("standby").asBoolean()).count();
                log(start, "i1 killed; i2 answered all " + tasks.size() + " tasks " + millisSince(killed)
                        + " ms later (" + fromStandby + " from a standby)");

                long rolledBack = System.nanoTime();
                ModelPromotion.rollback(store, MODEL, ALIAS, client, topics);
                awaitAnswers("i2 serving " + MODEL + "@" + v1 + " after the rollback", SWAP_BOUND, List.of(a2), tasks,
                        Set.of(a2), a -> version(a, v1), new HashMap<>());
                log(start, "rollback served by i2 " + millisSince(rolledBack) + " ms after it");

                // i1 comes back on a new machine: its old state, an empty store; the rollback must reach it.
                ChildInstance restarted = startInstance(hosts, "i1", bootstrap, "store-i1-restarted").join();
                await(Duration.ofSeconds(60), "the restarted i1 ready", () -> ready(a1));
                awaitAnswers("both serving " + MODEL + "@" + v1 + " after i1's restart", Duration.ofSeconds(60),
                        List.of(a1, a2), tasks, Set.of(a1, a2), a -> version(a, v1), new HashMap<>());
                assertThat(restarted.output()).contains("fetched " + MODEL + "@" + v1);
                assertThat(i2.isAlive()).isTrue();
                log(start, "restarted i1 serving the rolled-back " + MODEL + "@" + v1);
            }
        }
    }

    private CompletableFuture<ChildInstance> startInstance(NetworkHosts hosts, String host, String bootstrap,
            String storeDir) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("bootstrap.servers", bootstrap);
        s.put("application.id", "cross-host");
        s.put("instance.id", host);
        s.put("state.dir", dir.resolve("state-" + host).toString());
        s.put("model.store.dir", dir.resolve(storeDir).toString());
        s.put("model.name", MODEL);
        s.put("http.host", hosts.address(host));
        s.put("http.port", String.valueOf(HTTP_PORT));
        s.put("http.forward.secret", "cross-host-forward-secret");
        s.put("num.standby.replicas", "1");
        s.put("topic.partitions", String.valueOf(PARTITIONS));
        // Two cores run the broker, both instances and this JVM: no warm-up, fewer native threads.
        s.put("warmup.rounds", "0");
        // A dead member is noticed after the session timeout; keep it short for the fail-over.
        s.put("streams.consumer.session.timeout.ms", "6000");
        s.put("streams.consumer.heartbeat.interval.ms", "1000");
        assertThat(dir.resolve(storeDir)).as("an empty store").doesNotExist();
        return CompletableFuture.supplyAsync(() -> unchecked(() ->
                ChildInstance.start(dir, host, s, "512m", hosts.exec(host))));
    }

    /** Task ids whose keys fall on every partition (as the default partitioner places them), so both instances own some. */
    private static List<String> tasksOnEveryPartition() {
        int[] perPartition = new int[PARTITIONS];
        List<String> tasks = new ArrayList<>();
        for (int i = 0; tasks.size() < PARTITIONS * TASKS_PER_PARTITION; i++) {
            String task = "task-" + i;
            int p = Utils.toPositive(Utils.murmur2(task.getBytes(StandardCharsets.UTF_8))) % PARTITIONS;
            if (perPartition[p] < TASKS_PER_PARTITION) {
                perPartition[p]++;
                tasks.add(task);
            }
        }
        return tasks;
    }

    private void sendSamples(KafkaProducer<String, byte[]> producer, Map<String, SinusoidTasks.Sinusoid> sines,
            int count) {
        sines.forEach((task, sine) -> {
            for (int i = 0; i < count; i++) {
                float x = random.nextFloat() * 10 - 5;
                producer.send(new ProducerRecord<>(topics.samples().name(), task, SAMPLES.encode(LabelledSample
                        .newBuilder().setEventId(task + "-" + System.nanoTime()).setTaskId(task)
                        .setFeatures(List.of(x)).setTarget(sine.value(x)).setEventTime(Instant.now()).build())));
            }
        });
        producer.flush();
    }

    /**
     * Waits until every task, asked through each of {@code askVia}, is answered as {@code expected}
     * says, and the answers came from exactly the instances {@code servedBy}; the answers through
     * the last of {@code askVia} land in {@code answers}.
     */
    private void awaitAnswers(String what, Duration timeout, List<String> askVia, List<String> tasks,
            Set<String> servedBy, Predicate<JsonNode> expected, Map<String, JsonNode> answers) {
        String[] last = {"no answer yet"};
        try {
            await(timeout, what, () -> {
                Set<String> servers = new HashSet<>();
                for (String via : askVia) {
                    for (String task : tasks) {
                        JsonNode a = predict(via, task);
                        if (a == null || !a.has("modelVersion") || !expected.test(a)) {
                            last[0] = "via " + via + ": " + task + " answered " + a;
                            return false;
                        }
                        servers.add(a.get("servedBy").asText().replace(":" + HTTP_PORT, ""));
                        answers.put(task, a);
                    }
                }
                last[0] = "served by " + servers;
                return servers.equals(servedBy);
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last: " + last[0], e);
        }
    }

    private static boolean version(JsonNode answer, String version) {
        return answer.get("modelVersion").asText().equals(MODEL + "@" + version);
    }

    private static boolean adaptedTo(JsonNode answer, int samples) {
        return answer.get("adapted").asBoolean() && answer.get("supportSize").asInt() == samples;
    }

    /** The answer of {@code POST /tasks/{task}/predict} on the instance at {@code address}; null unless a 200. */
    private JsonNode predict(String address, String task) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + address + ":" + HTTP_PORT
                    + "/tasks/" + task + "/predict")).timeout(Duration.ofSeconds(5))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"features\": [" + X + "]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? JSON.readTree(r.body()) : JSON.createObjectNode()
                    .put("status", r.statusCode()).put("body", r.body());
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private boolean ready(String address) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://" + address + ":" + HTTP_PORT + "/ready"))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.discarding())
                    .statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static long millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }

    private static void log(long start, String what) {
        System.out.printf("CrossHostTest +%.1f s: %s%n", (System.nanoTime() - start) / 1e9, what);
    }

    private interface IoSupplier<T> {
        T get() throws IOException;
    }

    private static <T> T unchecked(IoSupplier<T> supplier) {
        try {
            return supplier.get();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

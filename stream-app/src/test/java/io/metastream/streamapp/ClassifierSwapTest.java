package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.SequentialBlock;
import io.metastream.embedded.EmbeddedPipeline;
import io.metastream.embedded.Producers;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.learn.omniglot.ConvEmbedding;
import io.metastream.schemas.ClassScore;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.server.MetastreamApp;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.AssignedConsumerThread;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Both kinds of classifier served and swapped live: a prototypical network and a cross-entropy
 * ANIL base on the same 28x28 images pass {@code models verify}, are promoted with
 * {@code models promote --bootstrap-server} to a running pipeline on a real broker, and answer
 * labelled few-shot tasks, each in turn, a task adapted under one re-adapted lazily under the other.
 */
@Tag("embedded-broker")
class ClassifierSwapTest {
    private static final String MODEL = "glyphs";
    private static final int WAYS = 4;
    private static final int PIXELS = ConvEmbedding.IMAGE_PIXELS;

    @TempDir
    Path dir;

    private final Map<String, Prediction> predictions = new ConcurrentHashMap<>();
    private final Random random = new Random(11);
    private final Map<String, List<float[]>> images = new ConcurrentHashMap<>();

    @Test
    void shouldServeAProtoNetAndAnAnilClassifierAndSwapBetweenThemLive() throws Exception {
        DjlRuntime.start(1);
        Path models = dir.resolve("models");
        LocalDirectoryModelStore store = new LocalDirectoryModelStore(models);
        String protoNet = publishProtoNet(store);
        String anil = publishAnil(store);
        Run verify = run("models", "verify", "--store", models.toString(), MODEL);
        assertThat(verify.exit()).as(verify.out() + verify.err()).isZero();
        assertThat(verify.out()).contains("ok    " + MODEL + "@" + protoNet + " (protonet")
                .contains("ok    " + MODEL + "@" + anil + " (anil");
        store.setAlias(MODEL, "production", protoNet);

        try (EmbeddedPipeline pipeline = EmbeddedPipeline.builder().directory(dir.resolve("kafka")).start();
                MetastreamApp app = pipeline.app(Map.of(MetastreamConfig.APPLICATION_ID_CONFIG, "classifier-swap",
                        MetastreamConfig.MODEL_NAME_CONFIG, MODEL, MetastreamConfig.TOPIC_PARTITIONS_CONFIG, 2,
                        MetastreamConfig.HTTP_PORT_CONFIG, 0, MetastreamConfig.HTTP_AUTH_TOKEN_CONFIG, TOKEN))
                        .modelStore(store).startTimeout(Duration.ofSeconds(60)).start();
                KafkaProducer<String, byte[]> producer = Producers.traffic(pipeline.bootstrapServers());
                AssignedConsumerThread reader = collect(pipeline.bootstrapServers(), app.topics())) {
            Topics topics = app.topics();
            List<String> first = sendTask(producer, topics, "p0");
            first.addAll(sendTask(producer, topics, "p1"));
            await("the protonet's answers", () -> predictions.keySet().containsAll(first));
            for (String q : first) {
                Prediction p = predictions.get(q);
                assertThat(p.getModelVersion()).isEqualTo(MODEL + "@" + protoNet);
                assertThat(p.getAdapted()).as(q).isTrue();
                // A query that is its class's one support image sits on its prototype: distance 0.
                assertThat(p.getLabel()).as(q).isEqualTo(expectedLabel(q));
                assertScores(p);
            }
            // The task API answers from the same state, the same way.
            JsonNode http = predictOverHttp(app, "p0", images.get("p0").get(2));
            assertThat(http.get("label").asText()).isEqualTo("p0-class2");
            assertThat(http.get("adapted").asBoolean()).isTrue();
            assertThat(http.get("modelVersion").asText()).isEqualTo(MODEL + "@" + protoNet);
            assertThat(http.get("scores")).hasSize(WAYS);
            assertThat(http.get("scores").get(0).get("label").asText()).isEqualTo("p0-class2");
            // The same probability, to the JSON writer's rounding.
            assertThat(http.get("value").doubleValue()).isCloseTo(predictions.get("p0-q2").getValue(),
                    org.assertj.core.data.Offset.offset(1e-6));

            Run promote = run("models", "promote", "--store", models.toString(), MODEL, anil, "--bootstrap-server",
                    pipeline.bootstrapServers());
            assertThat(promote.exit()).as(promote.err()).isZero();
            List<String> second = new ArrayList<>();
            await("the swap to the ANIL classifier", () -> {
                // A query is answered once its partition's samples pass its timestamp (or after
                // query.sample.wait.ms): any of the tasks sent so far may show the swap.
                second.addAll(sendTask(producer, topics, "a" + second.size()));
                sleep(300);
                return second.stream().map(predictions::get)
                        .anyMatch(p -> p != null && p.getModelVersion().equals(MODEL + "@" + anil));
            });
            // Asked again, a task adapted under the protonet is re-adapted under the new base.
            List<String> again = List.of(query(producer, topics, "p0", 0, "p0-again"));
            await("the ANIL answers", () -> predictions.keySet().containsAll(again));
            Prediction reAdapted = predictions.get("p0-again");
            assertThat(reAdapted.getModelVersion()).isEqualTo(MODEL + "@" + anil);
            assertThat(reAdapted.getAdapted()).isTrue();
            assertThat(reAdapted.getSupportSize()).isEqualTo(WAYS);
            assertScores(reAdapted);
            Prediction byAnil = second.stream().map(predictions::get)
                    .filter(p -> p != null && p.getModelVersion().equals(MODEL + "@" + anil)).findFirst().orElseThrow();
            assertThat(byAnil.getAdapted()).isTrue();
            assertScores(byAnil);

            Run back = run("models", "promote", "--store", models.toString(), MODEL, protoNet, "--bootstrap-server",
                    pipeline.bootstrapServers());
            assertThat(back.exit()).as(back.err()).isZero();
            await("the swap back to the protonet", () -> {
                query(producer, topics, "p1", 1, "p1-back-" + System.nanoTime());
                sleep(300);
                return predictions.values().stream().anyMatch(p -> p.getQueryId().startsWith("p1-back-")
                        && p.getModelVersion().equals(MODEL + "@" + protoNet));
            });
            Prediction backAgain = predictions.values().stream()
                    .filter(p -> p.getQueryId().startsWith("p1-back-") && p.getModelVersion().endsWith("@" + protoNet))
                    .findFirst().orElseThrow();
            assertThat(backAgain.getLabel()).isEqualTo("p1-class1");
            assertScores(backAgain);
        }
    }

    private static final String TOKEN = "classifier-swap-test-token";

    private static JsonNode predictOverHttp(MetastreamApp app, String task, float[] image) throws Exception {
        StringBuilder body = new StringBuilder("{\"features\": [");
        for (int i = 0; i < image.length; i++) {
            body.append(i == 0 ? "" : ",").append(image[i]);
        }
        body.append("]}");
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + app.httpPort().orElseThrow() + "/tasks/" + task + "/predict"))
                .header("Authorization", "Bearer " + TOKEN)
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return new ObjectMapper().readTree(r.body());
    }

    /** The probabilities cover the task's classes exactly, sum to 1, most probable first, and name the label. */
    private static void assertScores(Prediction p) {
        List<ClassScore> scores = p.getScores();
        assertThat(scores).as(p.getQueryId()).hasSize(WAYS);
        String task = p.getTaskId();
        assertThat(scores).extracting(ClassScore::getLabel).containsExactlyInAnyOrder(
                task + "-class0", task + "-class1", task + "-class2", task + "-class3");
        double sum = scores.stream().mapToDouble(ClassScore::getProbability).sum();
        assertThat(sum).as(p.getQueryId()).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
        for (int i = 1; i < scores.size(); i++) {
            assertThat(scores.get(i).getProbability()).isLessThanOrEqualTo(scores.get(i - 1).getProbability());
        }
        assertThat(p.getLabel()).isEqualTo(scores.get(0).getLabel());
        assertThat(p.getValue()).isEqualTo(scores.get(0).getProbability());
    }

    private static String expectedLabel(String queryId) {
        // "<task>-q<class>"
        int at = queryId.lastIndexOf("-q");
        return queryId.substring(0, at) + "-class" + queryId.substring(at + 2);
    }

    /** One support image per class, labelled, then each of them again as a query: the query ids. */
    private List<String> sendTask(KafkaProducer<String, byte[]> producer, Topics topics, String task) {
        List<float[]> own = new ArrayList<>();
        for (int c = 0; c < WAYS; c++) {
            float[] image = new float[PIXELS];
            for (int i = 0; i < PIXELS; i++) {
                image[i] = random.nextFloat() < 0.15f ? 1f : 0f; // sparse ink, as a glyph has
            }
            own.add(image);
            LabelledSample s = LabelledSample.newBuilder().setEventId(task + "-s" + c).setTaskId(task)
                    .setFeatures(boxed(image)).setTarget(0f).setLabel(task + "-class" + c)
                    .setEventTime(Instant.now()).build();
            producer.send(new ProducerRecord<>(topics.samples().name(), task,
                    topics.samples().valueSerde().serializer().serialize(topics.samples().name(), s)));
        }
        images.put(task, own);
        producer.flush();
        sleep(5); // the queries' timestamps come after the samples'
        List<String> ids = new ArrayList<>();
        for (int c = 0; c < WAYS; c++) {
            ids.add(query(producer, topics, task, c, task + "-q" + c));
        }
        return ids;
    }

    private String query(KafkaProducer<String, byte[]> producer, Topics topics, String task, int c, String id) {
        PredictionRequest q = PredictionRequest.newBuilder().setQueryId(id).setTaskId(task)
                .setFeatures(boxed(images.get(task).get(c))).setEventTime(Instant.now()).build();
        producer.send(new ProducerRecord<>(topics.queries().name(), task,
                topics.queries().valueSerde().serializer().serialize(topics.queries().name(), q)));
        producer.flush();
        return id;
    }

    private AssignedConsumerThread collect(String bootstrapServers, Topics topics) {
        return new AssignedConsumerThread("classifier-swap-test", bootstrapServers,
                Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                List.of(topics.predictions().name()), records -> {
                    for (ConsumerRecord<String, byte[]> r : records) {
                        Prediction p = topics.predictions().valueSerde().deserializer().deserialize(r.topic(),
                                r.value());
                        predictions.put(p.getQueryId(), p);
                    }
                }).start();
    }

    private static String publishProtoNet(LocalDirectoryModelStore store) {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            return BaseModelArtifacts.publishProtoNet(store, MODEL, ConvEmbedding.write(block), Map.of("test", true))
                    .version();
        }
    }

    /** A 784-32-4 softmax head meta-trained by nobody: ANIL's layout, steps on the last layer only. */
    private static String publishAnil(LocalDirectoryModelStore store) {
        MlpArchitecture arch = new MlpArchitecture(new int[] {PIXELS, 32, WAYS});
        Random r = new Random(5);
        float[] parameters = new float[arch.parameterCount()];
        for (int i = 0; i < parameters.length; i++) {
            parameters[i] = (float) (r.nextGaussian() * 0.05);
        }
        float[] stepSizes = new float[parameters.length];
        int head = PIXELS * 32 + 32;
        for (int i = head; i < stepSizes.length; i++) {
            stepSizes[i] = 0.5f;
        }
        BaseModel base = new BaseModel(MODEL + "@draft", "anil", arch, parameters,
                new AdaptationSettings(5, 0.5f, 0f, Loss.CROSS_ENTROPY), stepSizes);
        return BaseModelArtifacts.publish(store, MODEL, base, Map.of("test", true)).version();
    }

    private static List<Float> boxed(float[] values) {
        List<Float> out = new ArrayList<>(values.length);
        for (float v : values) {
            out.add(v);
        }
        return out;
    }

    private static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            sleep(50);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        CommandLine cli = MetastreamCommand.commandLine();
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err, true));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream previous = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = cli.execute(args);
        } finally {
            System.setOut(previous);
        }
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString());
    }
}

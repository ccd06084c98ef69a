package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metastream.schemas.Prediction;
import io.metastream.server.MetastreamApp;
import io.metastream.server.ModelPromotion;
import io.metastream.server.PrometheusText;
import io.metastream.server.http.OperationsServer;
import io.metastream.streams.MetastreamConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator sees of two instances on a real broker: Prometheus metrics that add up to the
 * traffic sent, the task API answered by either instance for any task (forwarded to the owner)
 * and equal to the topic path's answer from the same state, and readiness.
 */
@Tag("embedded-broker")
class OperationsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final int TASKS = 24;
    private static final int SAMPLES = 5;
    private static final String TOKEN = "operations-test-bearer-token";

    @TempDir
    Path dir;

    @Test
    void shouldAnswerAnyTaskFromEitherInstanceAndCountEverythingInMetrics() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishVersion(2).version();
            f.store.setAlias(MODEL, "production", v1);
            // Default bind (loopback) and advertised host (the bound address); forwarding signed
            // with a shared secret, the task API behind a token.
            Map<String, Object> http = Map.of(MetastreamConfig.HTTP_PORT_CONFIG, 0,
                    MetastreamConfig.HTTP_AUTH_TOKEN_CONFIG, TOKEN,
                    MetastreamConfig.HTTP_FORWARD_SECRET_CONFIG, "operations-test-forward-secret",
                    MetastreamConfig.NUM_STANDBY_REPLICAS_CONFIG, 1);
            MetastreamApp a = f.startInstance("a", withMetricsPort(http));
            MetastreamApp b = f.startInstance("b", http);
            List<MetastreamApp> both = List.of(a, b);
            await(Duration.ofSeconds(60), "both instances ready after the rebalance", () -> both.stream()
                    .allMatch(app -> app.streams().state() == KafkaStreams.State.RUNNING
                            && get(app, "/ready").statusCode() == 200));

            List<String> first = f.sendTasks("t", TASKS, SAMPLES, 1);
            f.send(f.topics.samples().name(), "t0", new byte[] {1, 2, 3});
            f.producer.flush();
            await(Duration.ofSeconds(60), "the topic path answering every query", () -> f.answered(first));

            // Each query adapted its task first, so every task now has a written state and no
            // pending samples: the state both paths read.
            List<String> second = new ArrayList<>();
            Set<String> servedBy = new HashSet<>();
            for (int t = 0; t < TASKS; t++) {
                String task = "t" + t;
                for (MetastreamApp app : both) {
                    JsonNode view = JSON.readTree(get(app, "/tasks/" + task).body());
                    assertThat(view.get("supportSize").asInt()).as(task).isEqualTo(SAMPLES);
                    assertThat(view.get("adapted").asBoolean()).as(task).isTrue();
                    assertThat(view.get("pendingSamples").asBoolean()).as(task).isFalse();
                    assertThat(view.get("adaptedBase").asText()).isEqualTo(MODEL + "@" + v1);
                    servedBy.add(view.get("servedBy").asText());
                }
                float x = 0.37f * t - 4f;
                String id = task + "-again";
                second.add(id);
                f.sendQuery(task, id, x);
            }
            f.producer.flush();
            await(Duration.ofSeconds(60), "the second queries", () -> f.answered(second));
            for (int t = 0; t < TASKS; t++) {
                String task = "t" + t;
                Prediction viaTopic = f.prediction(task + "-again");
                for (MetastreamApp app : both) {
                    HttpResponse<String> r = post(app, "/tasks/" + task + "/predict",
                            "{\"features\": [" + f.queryFeatures.get(task + "-again") + "]}");
                    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                    JsonNode answer = JSON.readTree(r.body());
                    assertThat(answer.get("adapted").asBoolean()).isTrue();
                    assertThat(answer.get("modelVersion").asText()).isEqualTo(viaTopic.getModelVersion());
                    assertThat(answer.get("value").floatValue()).as(task)
                            .isCloseTo(viaTopic.getValue(), org.assertj.core.data.Offset.offset(1e-5f));
                }
            }
            assertThat(servedBy).as("each instance answered for the tasks it owns").hasSize(2);
            assertThat(servedBy).allMatch(s -> s.startsWith("127.0.0.1:"));
            assertThat(send(HttpRequest.newBuilder(uri(a, "/tasks/t1")).GET().build()).statusCode())
                    .as("no token").isEqualTo(401);
            assertThat(get(a, "/tasks/t1", "X-Metastream-Route", "active").statusCode()).as("forged route")
                    .isEqualTo(403);
            assertThat(post(a, "/tasks/t1/predict", "{\"features\": [1, 2]}").statusCode()).isEqualTo(400);
            // Finite but extreme features: a finite answer (the base's where the state overflows) or
            // a refusal, never NaN or Infinity in the JSON.
            for (String x : List.of("3e38", "-3e38", "1e30")) {
                HttpResponse<String> r = post(a, "/tasks/t1/predict", "{\"features\": [" + x + "]}");
                assertThat(r.statusCode()).as(r.body()).isIn(200, 400);
                assertThat(r.body()).doesNotContain("NaN").doesNotContain("Infinity");
                if (r.statusCode() == 200) {
                    assertThat(Float.isFinite(JSON.readTree(r.body()).get("value").floatValue())).isTrue();
                }
            }
            assertThat(get(b, "/tasks/nobody").statusCode()).isEqualTo(404);

            ModelPromotion.promote(f.store, MODEL, "production", v2, true, f.broker.bootstrapServers(), f.topics);
            await(Duration.ofSeconds(10), "both instances serving " + v2, () -> both.stream()
                    .allMatch(app -> app.model().base().version().equals(MODEL + "@" + v2)));
            a.watcher().orElseThrow().simulateConsumerFailure(new IllegalStateException("drill"));
            String metricsA = "http://127.0.0.1:" + a.metricsPort().orElseThrow() + "/metrics";
            await(Duration.ofSeconds(10), "the watcher restarted", () -> a.watcher().orElseThrow().isFollowing()
                    && scrape(metricsA).sum("metastream_model_swaps_total", "outcome", "WATCHER_RESTARTED") == 1);

            PrometheusText scrapeA = scrape(metricsA);
            PrometheusText scrapeB = scrape("http://127.0.0.1:" + b.httpPort().orElseThrow() + "/metrics");
            assertThat(scrapeA.sum("metastream_samples_total") + scrapeB.sum("metastream_samples_total"))
                    .isEqualTo(TASKS * SAMPLES);
            assertThat(scrapeA.sum("metastream_queries_total") + scrapeB.sum("metastream_queries_total"))
                    .isEqualTo(2 * TASKS);
            assertThat(scrapeA.sum("metastream_predictions_total", "path", "adapted")
                    + scrapeB.sum("metastream_predictions_total", "path", "adapted")).isEqualTo(2 * TASKS);
            assertThat(scrapeA.sum("metastream_predictions_total", "path", "cold")
                    + scrapeB.sum("metastream_predictions_total", "path", "cold")).isZero();
            assertThat(scrapeA.sum("metastream_dead_letters_total", "reason", "UNDECODABLE")
                    + scrapeB.sum("metastream_dead_letters_total", "reason", "UNDECODABLE")).isEqualTo(1);
            assertThat(scrapeA.sum("metastream_query_latency_seconds_count")
                    + scrapeB.sum("metastream_query_latency_seconds_count")).isEqualTo(2 * TASKS);
            for (PrometheusText scrape : List.of(scrapeA, scrapeB)) {
                double tasksAdapted = scrape.sum("metastream_adapted_tasks_total");
                assertThat(tasksAdapted).isPositive();
                // Tasks and learner calls under names that say which (calls include warm-up rounds and
                // query-time adaptations, so neither count bounds the other); the calls' tasks cover the tasks.
                double calls = scrape.sum("metastream_adaptation_call_seconds_count");
                assertThat(calls).isPositive();
                assertThat(scrape.sum("metastream_adaptation_call_tasks_count")).isEqualTo(calls);
                assertThat(scrape.sum("metastream_adaptation_call_tasks_sum")).isGreaterThanOrEqualTo(tasksAdapted);
                assertThat(scrape.sum("metastream_adaptation_call_seconds_sum")).isPositive().isLessThan(60);
                assertThat(scrape.sum("metastream_adaptation_freshness_seconds_count")).isEqualTo(tasksAdapted);
                double freshness = scrape.sum("metastream_adaptation_freshness_seconds_sum")
                        / scrape.sum("metastream_adaptation_freshness_seconds_count");
                assertThat(freshness).as("mean seconds from a task's newest sample to its state").isBetween(0.0, 30.0);
                assertThat(scrape.sum("metastream_model_info", "model", MODEL, "version", v2)).isEqualTo(1);
                assertThat(scrape.sum("metastream_model_info", "version", v1)).isZero();
                assertThat(scrape.withPrefix("metastream_model_info")).hasSize(1);
                assertThat(scrape.sum("metastream_model_swaps_total", "outcome", "SWAPPED")).isEqualTo(1);
                assertThat(scrape.sum("metastream_watcher_following")).isEqualTo(1);
                assertThat(scrape.withPrefix("kafka_stream_thread_process_total")).isNotEmpty();
                assertThat(scrape.sum("jvm_memory_used_bytes")).isPositive();
                // The GC's and the whole process's memory: libtorch and RocksDB live outside the heap.
                assertThat(scrape.withPrefix("jvm_gc_memory_allocated_bytes_total")).isNotEmpty();
                assertThat(scrape.withPrefix("jvm_gc_max_data_size_bytes")).isNotEmpty();
                if (java.nio.file.Files.isReadable(Path.of("/proc/self/status"))) {
                    assertThat(scrape.sum("process_resident_memory_bytes"))
                            .isGreaterThan(scrape.sum("jvm_memory_used_bytes", "area", "heap"));
                }
            }
            String text = scrapeText(metricsA);
            assertThat(PrometheusText.families(text)).containsEntry("metastream_model_info", "gauge")
                    .containsEntry("jvm_gc_memory_allocated_bytes_total", "counter")
                    .containsKeys("jvm_gc_max_data_size_bytes", "jvm_memory_used_bytes", "jvm_threads_live_threads")
                    .doesNotContainKeys("metastream_model_served", "metastream_adaptations_total",
                            "metastream_adaptation_seconds", "metastream_adaptation_batch_tasks");
            assertThat(PrometheusText.familiesMixingUnits(text)).as("families whose name mixes units").isEmpty();
            assertThat(PrometheusText.families(text).keySet()).filteredOn(family -> family.startsWith("metastream_"))
                    .as("metastream's own families in base units only").noneMatch(family -> PrometheusText.units(family)
                            .stream().anyMatch(u -> !u.equals("seconds") && !u.equals("bytes") && !u.equals("tasks")));
            assertThat(scrapeA.sum("metastream_model_swaps_total", "outcome", "WATCHER_FAILED")).isEqualTo(1);
            assertThat(scrapeA.sum("metastream_model_swaps_total", "outcome", "WATCHER_RESTARTED")).isEqualTo(1);
            assertThat(get(a, "/health").statusCode()).isEqualTo(200);
        }
    }

    private static Map<String, Object> withMetricsPort(Map<String, Object> settings) {
        Map<String, Object> out = new java.util.HashMap<>(settings);
        out.put(MetastreamConfig.METRICS_PORT_CONFIG, 0);
        return out;
    }

    private static HttpResponse<String> get(MetastreamApp app, String path, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(app, path)).GET()
                .header("Authorization", "Bearer " + TOKEN);
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return send(request.build());
    }

    private static HttpResponse<String> post(MetastreamApp app, String path, String body) {
        return send(HttpRequest.newBuilder(uri(app, path)).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Authorization", "Bearer " + TOKEN).build());
    }

    private static URI uri(MetastreamApp app, String path) {
        String[] parts = path.split("/", -1);
        if (parts.length > 2 && parts[1].equals("tasks")) {
            parts[2] = OperationsServer.pathSegment(parts[2]);
        }
        return URI.create("http://127.0.0.1:" + app.httpPort().orElseThrow() + String.join("/", parts));
    }

    private static HttpResponse<String> send(HttpRequest request) {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String scrapeText(String url) {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url)).GET().build());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    private static PrometheusText scrape(String url) {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url)).GET().build());
        assertThat(r.statusCode()).isEqualTo(200);
        return PrometheusText.parse(r.body());
    }
}

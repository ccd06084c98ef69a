package io.metastream.embedded.it;

import static io.metastream.embedded.it.StreamingFixture.MODEL;
import static io.metastream.embedded.it.StreamingFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.learn.BaseModel;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.TaskEncoderLearner;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.Prediction;
import io.metastream.server.ModelPromotion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The learner follows the served base's manifest: a pipeline serving a gradient-based (Reptile)
 * base is hot-swapped to a task-encoder base on a real broker, and from then on adapts by the task
 * encoder, keeps task embeddings in the adapted-tasks store and answers from them.
 */
@Tag("embedded-broker")
class LearnerSwapTest {
    @TempDir
    Path dir;

    @Test
    void shouldServeATaskEncoderAfterASwapFromAGradientBaseAndBeatItsColdPrediction() throws Exception {
        try (StreamingFixture f = new StreamingFixture(dir)) {
            String v1 = f.publishVersion(1).version();
            String v2 = f.publishTaskEncoder(2, 1500).version();
            f.store.setAlias(MODEL, "production", v1);
            f.startInstance("a");
            List<String> before = f.sendTasks("before-", 8, 5, 1);
            await(Duration.ofSeconds(60), "queries under the gradient base", () -> f.answered(before));
            assertThat(versions(f, before)).containsOnly(MODEL + "@" + v1);

            ModelPromotion.promote(f.store, MODEL, "production", v2, true, f.broker.bootstrapServers(), f.topics);
            await(Duration.ofSeconds(10), "the swap to the task encoder", () -> f.swaps.stream().anyMatch(
                    e -> e.getToVersion().equals(MODEL + "@" + v2) && e.getStatus().equals("SWAPPED")));
            List<String> after = new ArrayList<>(f.sendTasks("after-", 40, 10, 3));
            // A task adapted under the Reptile base (a full parameter vector) asks again: it must be
            // re-adapted by the task encoder, not read with the other learner's state.
            String again = "before-0-again";
            f.sendQuery("before-0", again, 1.5f);
            after.add(again);
            f.producer.flush();
            await(Duration.ofSeconds(60), "queries under the task encoder", () -> f.answered(after));

            assertThat(versions(f, after)).containsOnly(MODEL + "@" + v2);
            BaseModel encoder = BaseModelArtifacts.load(f.store, MODEL, v2);
            assertThat(encoder.learner()).isEqualTo(LearnerKind.TASK_ENCODER.id());
            double adapted = 0;
            double cold = 0;
            List<Prediction> answers = f.predictions.stream().filter(p -> after.contains(p.getQueryId())).toList();
            try (TaskEncoderLearner learner = new TaskEncoderLearner(Device.cpu())) {
                for (Prediction p : answers) {
                    assertThat(p.getAdapted()).as(p.getQueryId()).isTrue();
                    assertThat(p.getSupportSize()).as(p.getQueryId()).isPositive();
                    float x = f.queryFeatures.get(p.getQueryId());
                    float truth = f.sines.get(p.getTaskId()).value(x);
                    float base = learner.predict(encoder, java.util.Arrays.asList((float[]) null),
                            List.<float[][]>of(new float[][] {{x}}))[0][0];
                    adapted += (p.getValue() - truth) * (p.getValue() - truth);
                    cold += (base - truth) * (base - truth);
                }
            }
            assertThat(answers).hasSize(after.size());
            assertThat(adapted / answers.size()).as("adapted MSE vs the cold embedding's")
                    .isLessThan(0.5 * cold / answers.size());
        }
    }

    private static List<String> versions(StreamingFixture f, List<String> queryIds) {
        return f.predictions.stream().filter(p -> queryIds.contains(p.getQueryId()))
                .map(Prediction::getModelVersion).distinct().toList();
    }
}

package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.schemas.ClassScore;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.serde.AvroCodec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClassAnswersTest {
    @Test
    void shouldNameTheMostProbableClassAndListTheScoresInOrder() {
        ClassAnswers a = ClassAnswers.of(new float[] {0.2f, 0.5f, 0.3f}, List.of("cat", "dog", "eel"));
        assertThat(a.label()).isEqualTo("dog");
        assertThat(a.probability()).isEqualTo(0.5f);
        assertThat(a.scores()).extracting(ClassScore::getLabel).containsExactly("dog", "eel", "cat");
        // Ties keep class order: the earlier class wins.
        assertThat(ClassAnswers.of(new float[] {0.5f, 0.5f}, List.of("a", "b")).label()).isEqualTo("a");
    }

    @Test
    void shouldAnswerByTheColdRuleWithoutTwoClasses() {
        assertThat(ClassAnswers.cold(List.of())).isEqualTo(new ClassAnswers(null, 0f, List.of()));
        ClassAnswers one = ClassAnswers.cold(List.of("only"));
        assertThat(one.label()).isEqualTo("only");
        assertThat(one.probability()).isEqualTo(1f);
        assertThat(ClassAnswers.answeredByModel(new float[4], List.of("only"))).isFalse();
        assertThat(ClassAnswers.answeredByModel(null, List.of("a", "b"))).isFalse();
        assertThat(ClassAnswers.answeredByModel(new float[4], List.of("a", "b"))).isTrue();
        // A state overflowed by an extreme support image is not used, as it is never stored.
        assertThat(ClassAnswers.answeredByModel(new float[] {0f, Float.POSITIVE_INFINITY}, List.of("a", "b")))
                .isFalse();
        assertThat(ClassAnswers.answeredByModel(new float[] {0f, Float.NaN}, List.of("a", "b"))).isFalse();
    }

    /**
     * A hostile producer can give one task support.max.size (10,000) classes with labels of 200
     * bytes: the prediction must still fit a topic's default 1 MiB record limit.
     */
    @Test
    void shouldKeepAPredictionOfTheLargestTaskFarBelowARecordLimit() {
        int classes = 10_000;
        float[] p = new float[classes];
        List<String> labels = new ArrayList<>(classes);
        for (int c = 0; c < classes; c++) {
            p[c] = (c % 97) / 97f / classes;
            labels.add(String.format("%0200d", c));
        }
        p[4242] = 0.5f;
        ClassAnswers a = ClassAnswers.of(p, labels);
        assertThat(a.label()).isEqualTo(labels.get(4242));
        assertThat(a.scores()).hasSize(ClassAnswers.MAX_SCORES);
        assertThat(a.scores().get(1).getProbability()).isLessThanOrEqualTo(a.scores().get(0).getProbability());
        byte[] encoded = AvroCodec.of(Prediction.class).encode(Prediction.newBuilder().setQueryId("q").setTaskId("t")
                .setValue(a.probability()).setModelVersion("m@1").setSupportSize(classes).setAdapted(true)
                .setLatencyMicros(0L).setAdaptedThrough(Instant.EPOCH).setLabel(a.label()).setScores(a.scores())
                .build());
        assertThat(encoded.length).isLessThan(64 * 1024);
    }
}

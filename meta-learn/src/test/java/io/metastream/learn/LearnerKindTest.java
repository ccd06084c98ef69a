package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class LearnerKindTest {
    /**
     * The ids are written into every manifest and training log: spelled out here once more, so
     * that renaming a constant cannot silently change what is on disk.
     */
    @Test
    void shouldKeepTheIdsThatManifestsOnDiskCarry() {
        assertThat(LearnerKind.ids(k -> true)).containsExactly("reptile", "fomaml", "maml", "metasgd", "anil",
                "pretrain", "anil-ridge", "task-encoder", "protonet");
    }

    @Test
    void shouldParseEveryIdBackToItsKind() {
        for (LearnerKind k : LearnerKind.values()) {
            assertThat(LearnerKind.fromId(k.id())).isSameAs(k);
            assertThat(LearnerKind.find(k.id())).contains(k);
        }
    }

    @Test
    void shouldNameTheKnownIdsWhenAnIdIsUnknown() {
        assertThatThrownBy(() -> LearnerKind.fromId("MAML")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'MAML'").hasMessageContaining("reptile").hasMessageContaining("task-encoder");
        assertThat(LearnerKind.find("my-own-learner")).isEmpty();
    }

    @Test
    void shouldSortEveryKindIntoExactlyOneWayOfAdapting() {
        for (LearnerKind k : LearnerKind.values()) {
            int ways = (k.takesInnerSteps() ? 1 : 0) + (k.stepFree() ? 1 : 0) + (k.isMlp() ? 0 : 1);
            assertThat(ways).as(k.id()).isEqualTo(1);
            assertThat(!k.hasStepSizes() || k.takesInnerSteps()).as(k.id()).isTrue();
        }
        assertThat(LearnerKind.ids(LearnerKind::hasStepSizes)).containsExactly("metasgd", "anil");
        assertThat(LearnerKind.ids(LearnerKind::stepFree)).containsExactly("anil-ridge", "task-encoder");
    }

    @Test
    void shouldTieEveryMetaTrainerAlgorithmToTheKindOfItsId() {
        for (MetaTrainer.Algorithm a : MetaTrainer.Algorithm.values()) {
            assertThat(MetaTrainer.Algorithm.fromId(a.id())).isSameAs(a);
            assertThat(MetaTrainer.Algorithm.of(a.kind())).isSameAs(a);
            assertThat(a.hasStepSizes()).isEqualTo(a.kind().hasStepSizes());
        }
        assertThat(Arrays.stream(MetaTrainer.Algorithm.values()).map(MetaTrainer.Algorithm::kind))
                .doesNotContain(LearnerKind.TASK_ENCODER, LearnerKind.PROTONET);
        assertThatThrownBy(() -> MetaTrainer.Algorithm.of(LearnerKind.PROTONET))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("protonet");
        assertThatThrownBy(() -> MetaTrainer.Algorithm.fromId("task-encoder"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reptile");
    }

    @Test
    void shouldRegisterALearnerForEveryKindTheStreamServes() {
        DjlRuntime.start(1);
        try (DispatchingLearner learner = new DispatchingLearner(Device.cpu())) {
            assertThat(learner.learnerIds()).containsExactlyInAnyOrderElementsOf(
                    LearnerKind.ids(k -> true));
        }
    }
}

package io.metastream.training.continual;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.learn.Evaluation;
import io.metastream.learn.GradientLearner;
import org.junit.jupiter.api.Test;

/** A small run of each scenario: after a shift the continual base serves new users better than the frozen one. */
class DriftScenarioTest {
    private static final DriftScenario.Settings SMALL = new DriftScenario.Settings(6, 50, 12, 800,
            new ContinualRound.Settings(30, 600, 25, 10, 0.003f, 10, 0.05, 20), 7L);

    @Test
    void shouldServePostShiftUsersBetterThanTheFrozenBase() {
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            DriftScenario.Report r = DriftScenario.run("drift", SMALL, learner);
            Evaluation.Estimate frozen = r.postShiftByShots().get("frozen").get(5);
            Evaluation.Estimate continual = r.postShiftByShots().get("continual").get(5);
            Evaluation.Estimate oracle = r.postShiftByShots().get("oracle").get(5);
            assertThat(r.promotions()).as(String.join("\n", r.decisions())).isPositive();
            assertThat(continual.mean()).as("5 shots, continual against frozen").isLessThan(frozen.mean());
            // With bounded inner steps 1 shot is a figure, not noise from a few blown-up users.
            Evaluation.Estimate frozenOne = r.postShiftByShots().get("frozen").get(1);
            Evaluation.Estimate continualOne = r.postShiftByShots().get("continual").get(1);
            assertThat(frozenOne.mean()).as("1 shot, frozen: bounded").isLessThan(50);
            assertThat(continualOne.mean()).as("1 shot, continual against frozen").isLessThan(frozenOne.mean());
            assertThat(oracle.mean()).as("the oracle bounds what is reachable").isLessThan(continual.mean());
            assertThat(r.firstPromotionRound()).isGreaterThanOrEqualTo(r.shiftRound());
        }
    }

    @Test
    void shouldPromoteNothingWorseWhenThePopulationStandsStill() {
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            DriftScenario.Report r = DriftScenario.run("stationary", SMALL, learner);
            Evaluation.Estimate frozen = r.forgetting().get("frozen");
            Evaluation.Estimate continual = r.forgetting().get("continual");
            assertThat(continual.mean()).as("original population at 5 shots: %s", r.decisions())
                    .isLessThanOrEqualTo(frozen.mean() * 1.05 + frozen.ci95());
        }
    }
}

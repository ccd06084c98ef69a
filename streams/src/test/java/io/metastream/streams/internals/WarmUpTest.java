package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.RecordingLearner;
import io.metastream.streams.TestModels;
import io.metastream.streams.TopologySettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class WarmUpTest {
    private final ActiveModel model = TestModels.activeQuickBase();
    private final RecordingLearner learner = RecordingLearner.of(model.learner());

    @AfterEach
    void close() {
        model.close();
    }

    @Test
    void shouldRunTheRoundsAskedThroughTheEnginesThreadInFullSizedCalls() {
        TopologySettings settings = TopologySettings.defaults();
        try (AdaptationEngine engine = AdaptationEngine.shared(learner, 256, 0)) {
            WarmUp.Report report = WarmUp.run(model, engine, settings, 3, 60_000);
            assertThat(report.rounds()).isEqualTo(3);
            assertThat(learner.callSizes).containsExactly(64, 64, 64);
            assertThat(learner.threads).containsOnly(AdaptationEngine.THREAD_NAME);
            assertThat(engine.roundCalls()).as("a warm-up is no round").isZero();
        }
    }

    @Test
    void shouldStopWithoutWaitingWhenTheEngineDropsItsJobs() {
        AdaptationEngine engine = AdaptationEngine.shared(learner, 256, 0);
        engine.close();
        assertThat(WarmUp.run(model, engine, TopologySettings.defaults(), 5, 60_000).rounds()).isZero();
        assertThat(learner.callSizes).isEmpty();
    }

    @Test
    void shouldStopAtItsTimeLimit() {
        try (AdaptationEngine engine = AdaptationEngine.onCallingThread(learner, 256)) {
            assertThat(WarmUp.run(model, engine, TopologySettings.defaults(), 1_000, 0).rounds()).isZero();
        }
    }
}

package io.metastream.training.protonet;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import io.metastream.data.omniglot.Omniglot;
import io.metastream.data.omniglot.SyntheticOmniglot;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ProtoNetTrainerTest {
    @Test
    void shouldLowerTheEpisodeLossAndScoreHeldOutCharacters() {
        DjlRuntime.start(1);
        Random data = new Random(3);
        List<Omniglot.Character> chars = new ArrayList<>(SyntheticOmniglot.alphabet("Train", 10, 6, data));
        chars.addAll(SyntheticOmniglot.alphabet("Test", 5, 6, data));
        ProtoNetPlan plan = new ProtoNetPlan(List.of("Train"), 40, 5, 1, 2, false, 3e-3f, 1000, 11L);
        ProtoNetTrainer.Result r = new ProtoNetTrainer(Device.cpu()).train(chars, plan, (done, total, loss) -> { });
        assertThat(r.loss()).hasSize(40);
        assertThat(mean(r.loss(), 30, 40)).isLessThan(mean(r.loss(), 0, 10));
        Evaluation.Estimate acc = ProtoNetEvaluation.evaluate(r.parameters(), chars.subList(10, 15), 5, 1, 2, 20,
                5L, Device.cpu());
        assertThat(acc.tasks()).isEqualTo(20);
        assertThat(acc.mean() - acc.ci95()).as("5-way accuracy above chance (0.2), its 95%% interval included: %s",
                acc).isGreaterThan(0.2);
    }

    private static double mean(float[] v, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += v[i];
        }
        return s / (to - from);
    }
}

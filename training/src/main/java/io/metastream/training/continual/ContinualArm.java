package io.metastream.training.continual;

import io.metastream.learn.BaseModel;
import io.metastream.learn.Learner;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The continual arm of an offline replay: the base that keeps learning, one round at a time, with
 * the champion/challenger verdict of every round. The drift scenario and the MovieLens replay share
 * it, so both count promotions and write decisions the same way.
 */
final class ContinualArm {
    private BaseModel base;
    private final List<String> decisions = new ArrayList<>();
    private int promotions;
    private int firstPromotion = -1;

    ContinualArm(BaseModel start) {
        this.base = start;
    }

    BaseModel base() {
        return base;
    }

    /**
     * Meta-trains a challenger on {@code buffer}'s snapshot and promotes it if it wins.
     *
     * @param countsAsFirst whether a promotion in this round may be the first one reported (the
     *     drift scenario counts only promotions after its shift)
     */
    void round(int r, TaskBuffer buffer, ContinualRound.Settings settings, long seed, Learner learner,
            boolean countsAsFirst) {
        Optional<ContinualRound.Outcome> outcome = ContinualRound.run(base, buffer.snapshot(2), settings, seed, learner);
        if (outcome.isEmpty()) {
            return;
        }
        ChampionChallenger.Verdict v = outcome.get().verdict();
        decisions.add("round " + r + ": " + (v.promote() ? "promoted" : "refused") + " - " + v.reason());
        if (v.promote()) {
            base = outcome.get().candidate();
            promotions++;
            if (firstPromotion < 0 && countsAsFirst) {
                firstPromotion = r;
            }
        }
    }

    List<String> decisions() {
        return decisions;
    }

    int promotions() {
        return promotions;
    }

    int firstPromotion() {
        return firstPromotion;
    }
}

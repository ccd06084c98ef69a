package io.metastream.training.continual;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.ColdStartSplit;
import io.metastream.data.movielens.MovieLens;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Evaluation;
import io.metastream.learn.Learner;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The continual loop on the MovieLens cold-start split, in time order: the trainer's buffer first
 * holds the meta-train (warm) users, as if it had read them from the samples topic; then the cold
 * users arrive in rounds by their first rating. Each cold user is scored prequentially (rating k+1
 * after adapting to the first k) by the frozen and the continual base before anyone trains on it;
 * a {@link ContinualRound} follows every round.
 */
public final class MovieLensContinual {
    private static final int[] SHOTS = {0, 1, 5, 10};

    private MovieLensContinual() {
    }

    public static DriftScenario.Report run(ColdStartData data, BaseModel frozen, ContinualRound.Settings round,
            int rounds, int samplesPerUser, long seed, Learner learner) {
        TaskBuffer buffer = new TaskBuffer(5000, samplesPerUser);
        for (ColdStartSplit.UserHistory u : byFirstRating(data.split().train())) {
            add(buffer, "warm" + u.user(), data, u.ratings(), samplesPerUser);
        }
        List<ColdStartSplit.UserHistory> cold = byFirstRating(data.split().test());
        Map<String, List<double[]>> scored = new LinkedHashMap<>();
        scored.put("frozen", new ArrayList<>());
        scored.put("continual", new ArrayList<>());
        ContinualArm continual = new ContinualArm(frozen);
        int perRound = (cold.size() + rounds - 1) / rounds;
        for (int r = 0; r < rounds; r++) {
            List<ColdStartSplit.UserHistory> arriving = cold.subList(Math.min(cold.size(), r * perRound),
                    Math.min(cold.size(), (r + 1) * perRound));
            List<TaskBuffer.BufferedTask> tasks = new ArrayList<>();
            for (ColdStartSplit.UserHistory u : arriving) {
                tasks.add(new TaskBuffer.BufferedTask("cold" + u.user(), 0, data.features().support(u.ratings())));
            }
            scored.get("frozen").addAll(List.of(Prequential.squaredErrors(learner, frozen, tasks, 11)));
            scored.get("continual").addAll(List.of(Prequential.squaredErrors(learner, continual.base(), tasks, 11)));
            for (ColdStartSplit.UserHistory u : arriving) {
                add(buffer, "cold" + u.user(), data, u.ratings(), samplesPerUser);
            }
            continual.round(r, buffer, round, seed + r, learner, true);
        }
        Map<String, Map<Integer, Evaluation.Estimate>> byShots = new LinkedHashMap<>();
        scored.forEach((arm, rows) -> byShots.put(arm, Prequential.atShots(rows, SHOTS)));
        return new DriftScenario.Report("movielens", byShots, continual.promotions(), continual.firstPromotion(), 0,
                Map.of(), continual.decisions());
    }

    private static List<ColdStartSplit.UserHistory> byFirstRating(List<ColdStartSplit.UserHistory> users) {
        List<ColdStartSplit.UserHistory> sorted = new ArrayList<>(users);
        sorted.sort(Comparator.comparingLong(u -> u.ratings().stream().mapToLong(MovieLens.Rating::timestamp).min()
                .orElse(0)));
        return sorted;
    }

    private static void add(TaskBuffer buffer, String id, ColdStartData data, List<MovieLens.Rating> ratings,
            int cap) {
        var s = data.features().support(ratings.subList(0, Math.min(cap, ratings.size())));
        for (int i = 0; i < s.size(); i++) {
            buffer.add(id, s.features()[i], s.targets()[i]);
        }
    }
}

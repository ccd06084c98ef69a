package io.metastream.streamapp;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.MovieLensFeatures;
import io.metastream.data.movielens.RatingTarget;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.learn.MlpArchitecture;
import io.metastream.training.continual.ContinualRound;
import io.metastream.training.continual.DriftScenario;
import io.metastream.training.continual.MovieLensContinual;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "eval-continual", mixinStandardHelpOptions = true,
        description = "Continual meta-training, offline and in event order: users arrive in rounds, each is scored "
                + "prequentially by the frozen, the continual and (drift only) an oracle base before anyone trains "
                + "on it; prints the MSE of post-shift users at 0, 1, 5 and 10 shots with 95%% CIs, the rounds to the "
                + "first promotion and the forgetting on the original population.")
final class ContinualEvalCommand implements Callable<Integer> {
    @Option(names = "--scenario", defaultValue = "drift", description = "drift or stationary (default ${DEFAULT-VALUE}).")
    String scenario;

    @Option(names = "--rounds", defaultValue = "10", description = "Rounds of users; the shift comes halfway.")
    int rounds;

    @Option(names = "--users", defaultValue = "60", description = "New users per round.")
    int users;

    @Option(names = "--seed", defaultValue = "7", description = "Seed of the users and the training.")
    long seed;

    @Option(names = "--data", description = "A MovieLens 100K directory: run the loop on its cold users in time "
            + "order instead (frozen base: ANIL, 3 inner steps of 0.05, 4000 iterations, item statistics).")
    Path movieLens;

    @Override
    public Integer call() {
        DjlRuntime.start(1);
        if (movieLens != null) {
            return movieLens();
        }
        DriftScenario.Settings d = DriftScenario.Settings.defaults();
        DriftScenario.Settings s = new DriftScenario.Settings(rounds, users, d.samplesPerUser(), d.baseIterations(),
                d.round(), seed);
        DriftScenario.Report r;
        try (GradientLearner learner = new GradientLearner(DjlRuntime.defaultDevice())) {
            r = DriftScenario.run(scenario, s, learner);
        }
        r.decisions().forEach(System.out::println);
        System.out.printf("%s: %d rounds of %d users, shift at round %d%n", r.scenario(), rounds, users,
                r.shiftRound());
        System.out.println("prequential MSE of users from round " + r.shiftRound() + " on (mean +- 95% CI):");
        print(r);
        System.out.println("promotions: " + r.promotions() + (r.firstPromotionRound() < 0 ? ""
                : "; first after the shift in round " + r.firstPromotionRound() + " ("
                        + (r.firstPromotionRound() - r.shiftRound() + 1) + " rounds of users after it)"));
        r.forgetting().forEach((arm, e) -> System.out.printf("forgetting, original population at 5 shots, %s: "
                + "%.3f +- %.3f%n", arm, e.mean(), e.ci95()));
        return 0;
    }

    private int movieLens() {
        ColdStartData data = ColdStartData.read(movieLens,
                RatingTarget.RATING,
                MovieLensFeatures.FeatureSet.ITEM_STATISTICS);
        MetaTrainingPlan plan = new MetaTrainingPlan(
                MlpArchitecture.parse(MovieLensFeatures.DIM
                        + "-32-16-1"),
                new AdaptationSettings(3, 0.05f, 10f), 4000, 25, 90, 10, 0.005f, seed, 1f);
        MetaTrainer.Algorithm anil = MetaTrainer.Algorithm.ANIL;
        MetaTrainer.Result trained = new MetaTrainer(anil,
                DjlRuntime.defaultDevice()).train(data.tasks(), plan, (a, b, c) -> { });
        BaseModel frozen = new BaseModel("movielens@frozen", anil.id(),
                plan.architecture(), trained.parameters(), plan.adaptation(), trained.stepSizes());
        ContinualRound.Settings round =
                new ContinualRound.Settings(40, 1000, 25, 20, 0.002f, 10, 0.05, 20);
        DriftScenario.Report r;
        try (GradientLearner learner = new GradientLearner(DjlRuntime.defaultDevice())) {
            r = MovieLensContinual.run(data, frozen, round, rounds, 20, seed, learner);
        }
        r.decisions().forEach(System.out::println);
        System.out.printf("movielens: %d cold users in %d rounds by first rating%n",
                data.split().test().size(), rounds);
        print(r);
        System.out.println("promotions: " + r.promotions());
        return 0;
    }

    private static void print(DriftScenario.Report r) {
        for (Map.Entry<String, Map<Integer, Evaluation.Estimate>> arm : r.postShiftByShots().entrySet()) {
            StringBuilder line = new StringBuilder(String.format("  %-9s", arm.getKey()));
            arm.getValue().forEach((k, e) -> line.append(String.format("  %2d shots %.3f +- %.3f", k, e.mean(),
                    e.ci95())));
            System.out.println(line);
        }
    }
}

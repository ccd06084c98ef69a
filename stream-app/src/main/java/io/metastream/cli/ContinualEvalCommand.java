package io.metastream.cli;

import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Evaluation;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.continual.DriftScenario;
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

    @Override
    public Integer call() {
        DjlRuntime.start(1);
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
        for (Map.Entry<String, Map<Integer, Evaluation.Estimate>> arm : r.postShiftByShots().entrySet()) {
            StringBuilder line = new StringBuilder(String.format("  %-9s", arm.getKey()));
            arm.getValue().forEach((k, e) -> line.append(String.format("  %2d shots %.3f +- %.3f", k, e.mean(),
                    e.ci95())));
            System.out.println(line);
        }
        System.out.println("promotions: " + r.promotions() + (r.firstPromotionRound() < 0 ? ""
                : "; first after the shift in round " + r.firstPromotionRound() + " ("
                        + (r.firstPromotionRound() - r.shiftRound() + 1) + " rounds of users after it)"));
        r.forgetting().forEach((arm, e) -> System.out.printf("forgetting, original population at 5 shots, %s: "
                + "%.3f +- %.3f%n", arm, e.mean(), e.ci95()));
        return 0;
    }
}

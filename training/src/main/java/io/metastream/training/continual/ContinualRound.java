package io.metastream.training.continual;

import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Learner;
import io.metastream.learn.LearnerKind;
import io.metastream.learn.MetaTrainer;
import io.metastream.learn.MetaTrainingPlan;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * One round of continual meta-training: the most recent {@code heldOut} tasks are kept out, the
 * champion is meta-trained further on the rest with its own algorithm (warm start), and the
 * candidate is judged against it on the held-out tasks. Shared by the stream's meta-trainer and
 * the offline drift scenario, so both decide the same way.
 */
public final class ContinualRound {
    /** What a round trains with and how it judges. */
    public record Settings(int heldOut, int iterations, int metaBatch, int shots, float outerStep, int evalShots,
            double margin, int minHeldOut) {
    }

    /** A round's candidate and the verdict on it. */
    public record Outcome(BaseModel candidate, ChampionChallenger.Verdict verdict, int trainedTasks,
            int heldOutTasks, double trainingSeconds) {
    }

    private ContinualRound() {
    }

    /**
     * @param tasks oldest first seen first
     * @return empty when there are too few tasks to train and judge on
     * @throws IllegalArgumentException when the champion's learner cannot be continued
     */
    public static Optional<Outcome> run(BaseModel champion, List<TaskBuffer.BufferedTask> tasks, Settings s,
            long seed, Learner judge) {
        int heldOut = Math.min(s.heldOut(), tasks.size() / 2);
        if (tasks.size() - heldOut < 2 || heldOut < 2) {
            return Optional.empty();
        }
        // Second-order MAML would work but costs a Hessian-vector product per step; the
        // first-order algorithms are the ones a background round can afford.
        Predicate<LearnerKind> continuable = k -> k.takesInnerSteps() && k != LearnerKind.MAML;
        if (champion.classifies()) {
            // Its buffered tasks would need their labels numbered per task, as the stream does;
            // the task buffer keeps targets only.
            throw new IllegalArgumentException("continual meta-training does not continue classifiers yet; "
                    + champion + " classifies");
        }
        LearnerKind kind = champion.kind().filter(continuable).orElseThrow(() -> new IllegalArgumentException(
                "continual meta-training supports " + LearnerKind.ids(continuable) + "; " + champion + " is "
                        + champion.learner()));
        MetaTrainer.Algorithm algorithm = MetaTrainer.Algorithm.of(kind);
        List<TaskBuffer.BufferedTask> train = tasks.subList(0, tasks.size() - heldOut);
        List<TaskBuffer.BufferedTask> judgeOn = tasks.subList(tasks.size() - heldOut, tasks.size());
        MetaTrainingPlan plan = new MetaTrainingPlan(champion.architecture(), champion.adaptation(), s.iterations(),
                s.metaBatch(), s.shots(), s.shots(), s.outerStep(), seed);
        long started = System.nanoTime();
        MetaTrainer.Result result = new MetaTrainer(algorithm, DjlRuntime.defaultDevice()).train(
                new BufferedTaskFamily(train, champion.inputDim(), "buffer"), plan, (d, t, l) -> { }, champion);
        double seconds = (System.nanoTime() - started) / 1e9;
        BaseModel candidate = new BaseModel(champion.version() + "+1", champion.learner(), champion.architecture(),
                result.parameters(), champion.adaptation(), result.stepSizes());
        ChampionChallenger.Verdict verdict = new ChampionChallenger(judge, s.evalShots(), s.margin(), s.minHeldOut())
                .judge(champion, candidate, judgeOn);
        return Optional.of(new Outcome(candidate, verdict, train.size(), judgeOn.size(), seconds));
    }
}

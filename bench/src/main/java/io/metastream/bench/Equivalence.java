package io.metastream.bench;

import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import java.util.List;

/**
 * Checks that {@link PlainJavaMlp} computes what {@link GradientLearner} computes, so the
 * plain-Java baseline is the same work: every benchmark trial that uses it runs this first, and
 * {@code java -cp bench/target/benchmarks.jar io.metastream.bench.Equivalence} runs it alone.
 */
final class Equivalence {
    /** Largest absolute difference allowed between the two adapted parameter vectors. */
    static final float TOLERANCE = 1e-4f;

    private Equivalence() {
    }

    /**
     * @return the largest absolute parameter difference seen
     * @throws IllegalStateException if any task's parameters differ by more than {@link #TOLERANCE},
     *     its support losses by more than that relative to their size, or its fall-back decision differs
     */
    static float check(GradientLearner learner, BaseModel base, List<SampleSet> supports) {
        List<TaskAdaptation> batched = learner.adapt(base, supports).tasks();
        PlainJavaMlp plain = new PlainJavaMlp(base.architecture());
        float[] theta = base.parameters();
        float worst = 0f;
        for (int t = 0; t < supports.size(); t++) {
            PlainJavaMlp.Adapted mine = plain.adapt(theta, supports.get(t), base.adaptation());
            TaskAdaptation theirs = batched.get(t);
            if (mine.fellBack() != theirs.fellBack()) {
                throw new IllegalStateException("task " + t + ": plain Java fell back " + mine.fellBack()
                        + ", GradientLearner " + theirs.fellBack());
            }
            checkLoss(t, "before", mine.lossBefore(), theirs.lossBefore());
            checkLoss(t, "after", mine.lossAfter(), theirs.lossAfter());
            for (int i = 0; i < theta.length; i++) {
                float diff = Math.abs(mine.state()[i] - theirs.state()[i]);
                if (!(diff <= TOLERANCE)) {
                    throw new IllegalStateException("task " + t + " parameter " + i + ": plain Java "
                            + mine.state()[i] + ", GradientLearner " + theirs.state()[i]);
                }
                worst = Math.max(worst, diff);
            }
        }
        return worst;
    }

    private static void checkLoss(int task, String which, float mine, float theirs) {
        if (!(Math.abs(mine - theirs) <= TOLERANCE * Math.max(1f, Math.abs(theirs)))) {
            throw new IllegalStateException("task " + task + ": support loss " + which + " is " + mine
                    + " in plain Java, " + theirs + " in GradientLearner");
        }
    }

    public static void main(String[] args) {
        DjlRuntime.start(1);
        BaseModel base = Workloads.base();
        List<SampleSet> supports = Workloads.supports(Workloads.POOL);
        try (GradientLearner learner = new GradientLearner(DjlRuntime.defaultDevice())) {
            float worst = check(learner, base, supports);
            System.out.printf("plain Java matches GradientLearner on %d tasks of %s: max |diff| %.3g <= %.0g%n",
                    supports.size(), base, worst, TOLERANCE);
        }
    }
}

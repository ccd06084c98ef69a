package io.metastream.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import io.metastream.learn.BaseModel;
import io.metastream.learn.SampleSet;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdaptationEngineTest {
    private final ActiveModel model = TestModels.activeQuickBase();
    private final RecordingLearner learner = RecordingLearner.of(model.learner());
    private AdaptationEngine engine;

    @AfterEach
    void stop() {
        if (engine != null) {
            engine.close();
        }
        model.close();
    }

    @Test
    void shouldGatherJobsFromSeveralThreadsIntoOneCallWithTheSameResults() throws Exception {
        engine = AdaptationEngine.shared(learner, 256, 2_000);
        BaseModel base = model.base();
        List<SampleSet> first = supports(3, 1);
        List<SampleSet> second = supports(4, 2);
        AdaptationEngine.Job a = new AdaptationEngine.Job(base, first, job -> { });
        AdaptationEngine.Job b = new AdaptationEngine.Job(base, second, job -> { });
        Thread other = new Thread(() -> engine.submit(b));
        engine.submit(a);
        other.start();
        other.join();
        awaitDone(a, b);

        // Both stream threads' jobs went into one learner call, made on the engine's thread.
        assertThat(learner.callSizes).containsExactly(7);
        assertThat(learner.threads).containsExactly(AdaptationEngine.THREAD_NAME);
        assertThat(a.callSize()).isEqualTo(7);
        // Each job gets back exactly what adapting its own tasks alone would give.
        float[] alone = model.learner().adapt(base, List.of(second.get(2))).tasks().get(0).state();
        assertThat(b.result(2).state()).containsExactly(alone, offset(1e-5f));
        float[] aloneA = model.learner().adapt(base, List.of(first.get(0))).tasks().get(0).state();
        assertThat(a.result(0).state()).containsExactly(aloneA, offset(1e-5f));
    }

    @Test
    void shouldShowHowLongAHungLearnerCallHasRunAndZeroOnceItReturns() throws Exception {
        RecordingLearner hanging = RecordingLearner.holdingFirstCall(model.learner());
        engine = AdaptationEngine.shared(hanging, 256, 0);
        assertThat(engine.currentCallMillis()).as("idle").isZero();
        AdaptationEngine.Job job = new AdaptationEngine.Job(model.base(), supports(2, 5), j -> { });
        engine.submit(job);
        assertThat(hanging.entered.await(10, TimeUnit.SECONDS)).isTrue();
        Thread.sleep(300);
        assertThat(engine.currentCallMillis()).as("a call that has not returned").isGreaterThanOrEqualTo(250);
        assertThat(job.isDone()).isFalse();
        hanging.release.countDown();
        awaitDone(job);
        assertThat(engine.currentCallMillis()).as("between calls").isZero();
    }

    @Test
    void shouldAdaptAQueryJobBetweenTwoCallsOfARoundInsteadOfAfterTheWholeRound() throws Exception {
        RecordingLearner hanging = RecordingLearner.holdingFirstCall(model.learner());
        engine = AdaptationEngine.shared(hanging, 2, 0);
        List<String> finished = Collections.synchronizedList(new ArrayList<>());
        AdaptationEngine.Job round = new AdaptationEngine.Job(model.base(), supports(6, 7), j -> finished.add("round"));
        engine.submit(round);
        assertThat(hanging.entered.await(10, TimeUnit.SECONDS)).isTrue();
        AdaptationEngine.Job query = new AdaptationEngine.Job(model.base(), supports(1, 8), j -> finished.add("query"));
        engine.submitForQueries(query);
        hanging.release.countDown();
        awaitDone(round, query);

        assertThat(hanging.callSizes).as("the round's first call, the query, the rest of the round")
                .containsExactly(2, 1, 2, 2);
        assertThat(finished).containsExactly("query", "round");
        assertThat(engine.roundCalls()).as("the query's call is not a round's").isEqualTo(3);
        assertThat(engine.roundTasks()).isEqualTo(6);
        float[] alone = model.learner().adapt(model.base(), List.of(supports(1, 8).get(0))).tasks().get(0).state();
        assertThat(query.result(0).state()).containsExactly(alone, offset(1e-5f));
    }

    @Test
    void shouldHandAJobOverAsSoonAsItsOwnCallsAreDone() throws Exception {
        engine = AdaptationEngine.shared(learner, 3, 1_000);
        List<String> finished = Collections.synchronizedList(new ArrayList<>());
        AdaptationEngine.Job small = new AdaptationEngine.Job(model.base(), supports(1, 9), j -> finished.add(
                "small after " + learner.callSizes.size() + " calls"));
        AdaptationEngine.Job large = new AdaptationEngine.Job(model.base(), supports(4, 10), j -> finished.add(
                "large after " + learner.callSizes.size() + " calls"));
        engine.submit(small);
        engine.submit(large);
        awaitDone(small, large);
        assertThat(learner.callSizes).as("gathered into one group of 5").containsExactly(3, 2);
        assertThat(finished).containsExactly("small after 1 calls", "large after 2 calls");
    }

    @Test
    void shouldSplitWorkIntoCallsOfAtMostTheBatchMax() throws Exception {
        engine = AdaptationEngine.shared(learner, 8, 0);
        AdaptationEngine.Job job = new AdaptationEngine.Job(model.base(), supports(20, 3), j -> { });
        engine.submit(job);
        awaitDone(job);
        assertThat(learner.callSizes).containsExactly(8, 8, 4);
        assertThat(engine.tasksAdapted()).isEqualTo(20);
        assertThat(engine.roundCalls()).isEqualTo(3);
        assertThat(engine.roundTasks()).isEqualTo(20);
        // A query's adaptation runs on its caller and is no round.
        AdaptationEngine.Job now = new AdaptationEngine.Job(model.base(), supports(2, 8), j -> { });
        engine.runHere(now);
        assertThat(now.isDone()).isTrue();
        assertThat(engine.learnerCalls()).isEqualTo(4);
        assertThat(engine.roundCalls()).isEqualTo(3);
    }

    @Test
    void shouldFailOnlyThePoisonedTaskOfACall() throws Exception {
        engine = AdaptationEngine.shared(learner, 256, 0);
        List<SampleSet> tasks = new ArrayList<>(supports(3, 4));
        // Two features where the base takes one: the learner rejects the whole call.
        tasks.set(1, new SampleSet(new float[][] {{1f, 2f}}, new float[] {0.5f}));
        AdaptationEngine.Job job = new AdaptationEngine.Job(model.base(), tasks, j -> { });
        engine.submit(job);
        awaitDone(job);
        assertThat(job.result(0)).isNotNull();
        assertThat(job.result(2)).isNotNull();
        assertThat(job.result(1)).isNull();
        assertThat(job.error(1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldRunTheHookOnTheAdaptingThreadBeforeTheJobIsDone() throws Exception {
        engine = AdaptationEngine.shared(learner, 256, 0);
        List<String> hookThread = Collections.synchronizedList(new ArrayList<>());
        AdaptationEngine.Job job = new AdaptationEngine.Job(model.base(), supports(2, 5), j -> {
            assertThat(j.isDone()).isFalse();
            hookThread.add(Thread.currentThread().getName());
        });
        engine.submit(job);
        awaitDone(job);
        assertThat(hookThread).containsExactly(AdaptationEngine.THREAD_NAME);
    }

    @Test
    void shouldAdaptOnTheSubmittingThreadWithoutAnEngineThread() {
        engine = AdaptationEngine.onCallingThread(learner, 2);
        AdaptationEngine.Job job = new AdaptationEngine.Job(model.base(), supports(3, 6), j -> { });
        engine.submit(job);
        assertThat(job.isDone()).isTrue();
        assertThat(learner.callSizes).containsExactly(2, 1);
        assertThat(learner.threads).containsOnly(Thread.currentThread().getName());
    }

    @Test
    void shouldHoldJobsUntilSteppedAndGatherThemIntoOneCall() {
        engine = AdaptationEngine.handStepped(learner, 256);
        assertThat(engine.isShared()).as("a job finishes after submit returns").isTrue();
        AdaptationEngine.Job a = new AdaptationEngine.Job(model.base(), supports(2, 8), j -> { });
        AdaptationEngine.Job b = new AdaptationEngine.Job(model.base(), supports(3, 9), j -> { });
        engine.submit(a);
        engine.submit(b);
        assertThat(a.isDone()).isFalse();
        assertThat(learner.callSizes).isEmpty();
        assertThat(engine.runQueued()).isEqualTo(2);
        assertThat(a.isDone() && b.isDone()).isTrue();
        assertThat(learner.callSizes).containsExactly(5);
        assertThat(engine.roundTasks()).isEqualTo(5);
        assertThat(engine.runQueued()).as("nothing left").isZero();

        AdaptationEngine.Job late = new AdaptationEngine.Job(model.base(), supports(1, 10), j -> { });
        engine.submit(late);
        engine.close();
        assertThat(late.isCancelled()).as("queued when the engine closed").isTrue();
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> AdaptationEngine.onCallingThread(learner, 2).runQueued())
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldCancelWhatIsSubmittedAfterClose() {
        engine = AdaptationEngine.shared(learner, 256, 0);
        engine.close();
        AdaptationEngine.Job job = new AdaptationEngine.Job(model.base(), supports(2, 7), j -> { });
        engine.submit(job);
        assertThat(job.isDone()).isTrue();
        assertThat(job.isCancelled()).isTrue();
        assertThat(learner.callSizes).isEmpty();
    }

    private static void awaitDone(AdaptationEngine.Job... jobs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (AdaptationEngine.Job job : jobs) {
            while (!job.isDone()) {
                assertThat(System.nanoTime()).as("job done within 30 s").isLessThan(deadline);
                Thread.sleep(5);
            }
        }
    }

    /** Sinusoid-like support sets of 5 points each. */
    private static List<SampleSet> supports(int count, long seed) {
        Random random = new Random(seed);
        List<SampleSet> out = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            float[][] x = new float[5][1];
            float[] y = new float[5];
            double phase = random.nextDouble() * Math.PI;
            for (int i = 0; i < 5; i++) {
                x[i][0] = (float) (random.nextDouble() * 10 - 5);
                y[i] = (float) (3 * Math.sin(x[i][0] + phase));
            }
            out.add(new SampleSet(x, y));
        }
        return out;
    }

    @Test
    void shouldNameAtMostTwentyTasksInALogLine() {
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 25; i++) {
            ids.add("t" + i);
        }
        assertThat(AdaptationEngine.abbreviated(ids.subList(0, 3))).isEqualTo("[t0, t1, t2]");
        assertThat(AdaptationEngine.abbreviated(ids)).startsWith("[t0, t1").contains("t19, ... 5 more]")
                .doesNotContain("t20");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AdaptationEngine.Job(null, List.of("a"),
                List.of(), j -> { })).isInstanceOf(IllegalArgumentException.class);
    }
}

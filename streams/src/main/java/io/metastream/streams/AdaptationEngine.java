package io.metastream.streams;

import io.metastream.learn.AdaptedBatch;
import io.metastream.learn.BaseModel;
import io.metastream.learn.Learner;
import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskAdaptation;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the background adaptations of every stream thread of an instance in shared micro-batches.
 *
 * <p>A stream task reads its dirty tasks' support sets, submits them as a {@link Job} and goes on
 * processing records; the engine thread gathers the jobs of all stream tasks and threads that
 * arrive within {@code adaptation.engine.wait.ms} (or until {@code adaptation.batch.max} tasks),
 * makes one learner call per base and per {@code adaptation.batch.max} tasks, and marks each job
 * done. The stream task picks its finished job up on a later punctuation and writes the states and
 * events itself, so state writes and output records stay inside the stream task's own transaction
 * and exactly-once holds: a job lost to a crash or a rebalance leaves its tasks marked dirty in the
 * changelogged store, and whoever owns them next adapts them again.
 *
 * <p>Queries come first. The adaptations that waiting queries need ({@link #submitForQueries}) join
 * the queue at its front, and a long round checks for them between its learner calls, so a query
 * waits for at most one call of {@code adaptation.batch.max} tasks, not for a whole round.
 *
 * <p>DJL allows one {@code GradientCollector} per JVM and keeps grad mode per thread. The learners
 * served here take their gradients by hand ({@code MlpMath}) or need none, so no collector is ever
 * open during adaptation; all background adaptation of the instance also runs on this one thread,
 * so nothing here could contend for one if a learner did.
 *
 * <p>Without a thread ({@link #onCallingThread}) a job is adapted inside {@link #submit}, on the
 * stream thread: the deterministic mode the {@code TopologyTestDriver} tests use, and the baseline
 * the end-to-end benchmark compares the engine with. A {@link #handStepped} engine has no thread
 * either but keeps its jobs until {@link #runQueued} is called: a round stays in flight exactly as
 * long as a test wants, with nothing to wait for.
 */
public final class AdaptationEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AdaptationEngine.class);
    /** The engine thread's name, for profiles and CPU accounting. */
    public static final String THREAD_NAME = "metastream-adaptation-engine";

    private final Learner learner;
    private final int batchMax;
    private final long waitNanos;
    /** Rounds join at the back; the adaptations queries wait for ({@link #submitForQueries}) at the front. */
    private final LinkedBlockingDeque<Job> queue = new LinkedBlockingDeque<>();
    private final Thread thread;
    /** Jobs wait in {@link #queue} until {@link #runQueued} (no thread of its own). */
    private final boolean stepped;
    private volatile boolean running = true;
    private final AtomicLong learnerCalls = new AtomicLong();
    private final AtomicLong tasksAdapted = new AtomicLong();
    private final AtomicLong tasksDelivered = new AtomicLong();
    private final AtomicLong roundCalls = new AtomicLong();
    private final AtomicLong roundTasks = new AtomicLong();
    private volatile MetastreamMetrics metrics = MetastreamMetrics.none();
    /** System.nanoTime() when the engine thread's current learner call began; 0 while it is between calls. */
    private volatile long callStartedNanos;

    private AdaptationEngine(Learner learner, int batchMax, long waitMs, boolean ownThread, boolean stepped) {
        if (batchMax < 1 || waitMs < 0) {
            throw new IllegalArgumentException("batch max must be positive and wait non-negative: " + batchMax
                    + ", " + waitMs);
        }
        this.learner = learner;
        this.batchMax = batchMax;
        this.waitNanos = TimeUnit.MILLISECONDS.toNanos(waitMs);
        this.stepped = stepped;
        if (ownThread) {
            thread = new Thread(this::loop, THREAD_NAME);
            thread.setDaemon(true);
            thread.start();
        } else {
            thread = null;
        }
    }

    /** An engine with its own thread, shared by all stream threads of the instance. */
    public static AdaptationEngine shared(Learner learner, int batchMax, long waitMs) {
        return new AdaptationEngine(learner, batchMax, waitMs, true, false);
    }

    /** An engine that adapts each job on the thread that submits it, in calls of at most {@code batchMax}. */
    public static AdaptationEngine onCallingThread(Learner learner, int batchMax) {
        return new AdaptationEngine(learner, batchMax, 0, false, false);
    }

    /**
     * An engine that queues the jobs submitted to it and adapts them, on the calling thread, when
     * {@link #runQueued} is called: a test steps it by hand to decide when a round finishes.
     */
    public static AdaptationEngine handStepped(Learner learner, int batchMax) {
        return new AdaptationEngine(learner, batchMax, 0, false, true);
    }

    /** Records every learner call's batch size and duration in {@code metrics} from now on. */
    public AdaptationEngine recordTo(MetastreamMetrics metrics) {
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        return this;
    }

    /**
     * Whether a submitted job finishes after {@link #submit} returns (on the engine's own thread, or
     * when a hand-stepped engine is stepped) rather than inside it.
     */
    public boolean isShared() {
        return thread != null || stepped;
    }

    /** Learner calls made so far, for rounds and for queries. */
    public long learnerCalls() {
        return learnerCalls.get();
    }

    /** Tasks adapted so far, for rounds and for queries. */
    public long tasksAdapted() {
        return tasksAdapted.get();
    }

    /**
     * Tasks whose results have been handed to their jobs, completion hooks run: after this moves,
     * the next punctuation of the job's stream task sees the round done.
     */
    public long tasksDelivered() {
        return tasksDelivered.get();
    }

    /** Learner calls made for submitted rounds (background adaptation) so far. */
    public long roundCalls() {
        return roundCalls.get();
    }

    /** Tasks adapted in submitted rounds so far; divided by {@link #roundCalls()}, the mean batch. */
    public long roundTasks() {
        return roundTasks.get();
    }

    /** Hands {@code job} to the engine: adapted later on its thread, or now when it has none. */
    public void submit(Job job) {
        if (thread == null && !stepped) {
            adapt(List.of(job), true);
        } else if (!running) {
            job.cancel();
        } else {
            queue.addLast(job);
        }
    }

    /**
     * Hands {@code job}, adaptations that queries wait for, to the engine ahead of every round: on
     * its thread at the next learner call, batched with the other stream tasks' query jobs. Without
     * a thread of its own (a hand-stepped engine too: queries are not stepped) it is adapted now, on
     * the calling thread, as {@link #runHere} does.
     */
    public void submitForQueries(Job job) {
        if (thread == null) {
            adapt(List.of(job), false);
        } else if (!running) {
            job.cancel();
        } else {
            job.forQueries = true;
            queue.addFirst(job);
        }
    }

    /**
     * Adapts every job queued so far on the calling thread, gathered as the engine thread gathers
     * them (one learner call per base and per {@code adaptation.batch.max} tasks).
     *
     * @return the jobs run
     * @throws IllegalStateException unless the engine is {@link #handStepped}
     */
    public int runQueued() {
        if (!stepped) {
            throw new IllegalStateException("only a hand-stepped engine runs its queue on the caller's thread");
        }
        List<Job> jobs = new ArrayList<>();
        queue.drainTo(jobs);
        adapt(jobs, true);
        return jobs.size();
    }

    /** Adapts {@code job} on the calling thread, whatever the engine's mode (queries cannot wait). */
    public void runHere(Job job) {
        adapt(List.of(job), false);
    }

    private void loop() {
        List<Job> gathered = new ArrayList<>();
        while (running) {
            try {
                Job first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                gathered.add(first);
                int tasks = first.size();
                long deadline = System.nanoTime() + waitNanos;
                while (tasks < batchMax) {
                    Job next = queue.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    if (next == null) {
                        break;
                    }
                    gathered.add(next);
                    tasks += next.size();
                }
                adapt(gathered, true);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (RuntimeException | Error e) {
                // adapt() catches the learner's failures per task; anything else must not end the loop.
                LOG.error("adaptation engine round failed", e);
                gathered.forEach(Job::cancel);
            } finally {
                gathered.clear();
            }
        }
        queue.forEach(Job::cancel);
    }

    /**
     * On the engine's thread, between two learner calls of a round: adapts the query jobs queued
     * meanwhile, so that they do not wait for the rest of the round.
     */
    private void adaptQueriesWaiting() {
        if (Thread.currentThread() != thread) {
            return;
        }
        List<Job> waiting = new ArrayList<>();
        for (Job head = queue.peekFirst(); head != null && head.forQueries; head = queue.peekFirst()) {
            Job taken = queue.pollFirst();
            if (taken != null) {
                waiting.add(taken);
            }
        }
        if (!waiting.isEmpty()) {
            adapt(waiting, false);
        }
    }

    /**
     * One learner call per base and per {@code batchMax} tasks for the jobs given, query jobs first;
     * each job is done as soon as the calls that hold its tasks are, not when the whole group is.
     */
    private void adapt(List<Job> jobs, boolean round) {
        Map<BaseModel, List<Job>> byBase = new IdentityHashMap<>();
        for (Job job : jobs) {
            if (!job.cancelled && job.forQueries) {
                byBase.computeIfAbsent(job.base, b -> new ArrayList<>()).add(job);
            }
        }
        for (Job job : jobs) {
            if (!job.cancelled && !job.forQueries) {
                byBase.computeIfAbsent(job.base, b -> new ArrayList<>()).add(job);
            }
        }
        for (Map.Entry<BaseModel, List<Job>> group : byBase.entrySet()) {
            List<SampleSet> supports = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (Job job : group.getValue()) {
                supports.addAll(job.supports);
                for (int i = 0; i < job.supports.size(); i++) {
                    ids.add(job.taskIds == null ? "?" : job.taskIds.get(i));
                }
            }
            TaskAdaptation[] results = new TaskAdaptation[supports.size()];
            RuntimeException[] errors = new RuntimeException[supports.size()];
            long micros = 0;
            String device = learner.device();
            int steps = 0;
            int callSize = Math.min(batchMax, supports.size());
            int nextJob = 0;
            int jobStart = 0;
            for (int from = 0; from < supports.size(); from += batchMax) {
                if (from > 0) {
                    adaptQueriesWaiting();
                }
                int to = Math.min(supports.size(), from + batchMax);
                try {
                    List<SampleSet> slice = supports.subList(from, to);
                    AdaptedBatch batch = timed(() -> learner.adapt(group.getKey(), slice));
                    countCall(group.getValue(), jobStart, nextJob, from, to, round, batch.micros());
                    for (int i = from; i < to; i++) {
                        results[i] = batch.tasks().get(i - from);
                    }
                    micros += batch.micros();
                    device = batch.device();
                    steps = batch.steps();
                } catch (RuntimeException batchFailure) {
                    // One poisoned support set must not fail its neighbours: retry one task at a time.
                    // Logged here because a retry that succeeds would otherwise leave no trace of it.
                    LOG.warn("adapting a batch of {} tasks on {} failed; retrying them one at a time; tasks {}",
                            to - from, group.getKey().version(), abbreviated(ids.subList(from, to)), batchFailure);
                    for (int i = from; i < to; i++) {
                        try {
                            SampleSet single = supports.get(i);
                            AdaptedBatch one = timed(() -> learner.adapt(group.getKey(), List.of(single)));
                            countCall(group.getValue(), jobStart, nextJob, i, i + 1, round, one.micros());
                            results[i] = one.tasks().get(0);
                            micros += one.micros();
                            device = one.device();
                            steps = one.steps();
                        } catch (RuntimeException e) {
                            errors[i] = e;
                        }
                    }
                }
                tasksAdapted.addAndGet(to - from);
                // Hand over every job whose tasks are all adapted now.
                long microsPerTask = micros / to;
                while (nextJob < group.getValue().size() && jobStart + group.getValue().get(nextJob).size() <= to) {
                    Job job = group.getValue().get(nextJob);
                    job.finish(results, errors, jobStart, microsPerTask, callSize, device, steps);
                    tasksDelivered.addAndGet(job.size());
                    jobStart += job.size();
                    nextJob++;
                }
            }
            // Jobs with no task at all.
            for (; nextJob < group.getValue().size(); nextJob++) {
                group.getValue().get(nextJob).finish(results, errors, jobStart, 0, callSize, device, steps);
            }
        }
    }

    /** A learner call on the engine's own thread, timed so that a hung call can be seen ({@link #currentCallMillis}). */
    private AdaptedBatch timed(Supplier<AdaptedBatch> call) {
        if (Thread.currentThread() != thread) {
            return call.get();
        }
        callStartedNanos = System.nanoTime() | 1; // never 0 while a call runs
        try {
            return call.get();
        } finally {
            callStartedNanos = 0;
        }
    }

    /**
     * How long the engine thread's current learner call has run, or 0 between calls: a call that
     * never returns stops all background adaptation of the instance, and this is how it shows
     * ({@code /ready}, {@code metastream_adaptation_engine_call_seconds}, {@code ENGINE_STALLED}).
     */
    public long currentCallMillis() {
        long started = callStartedNanos;
        return started == 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    }

    /** At most 20 ids, and how many more: a log line, not a dump. */
    static String abbreviated(List<String> ids) {
        return ids.size() <= 20 ? ids.toString()
                : ids.subList(0, 20).toString().replace("]", ", ... " + (ids.size() - 20) + " more]");
    }

    /**
     * Counts one learner call of the tasks {@code [from, to)} of a group; a call counts as a round's
     * when it holds a task of a round (a job not submitted for queries).
     */
    private void countCall(List<Job> group, int jobStart, int firstJob, int from, int to, boolean round, long micros) {
        metrics.adaptationCall(to - from, micros);
        learnerCalls.incrementAndGet();
        if (!round) {
            return;
        }
        int roundTasksInCall = 0;
        int start = jobStart;
        for (int j = firstJob; j < group.size() && start < to; j++) {
            int end = start + group.get(j).size();
            if (!group.get(j).forQueries) {
                roundTasksInCall += Math.max(0, Math.min(end, to) - Math.max(start, from));
            }
            start = end;
        }
        if (roundTasksInCall > 0) {
            roundCalls.incrementAndGet();
            roundTasks.addAndGet(roundTasksInCall);
        }
    }

    /** Stops the engine thread; jobs still queued are cancelled (their tasks stay dirty). */
    @Override
    public void close() {
        running = false;
        if (stepped) {
            queue.forEach(Job::cancel);
        }
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Support sets to adapt to one base. Filled on the engine's thread; {@link #isDone()} is the
     * hand-over (a volatile write after every field is set), so the submitting thread may then
     * read everything without locks.
     */
    public static final class Job {
        private final BaseModel base;
        private final List<String> taskIds;
        private final List<SampleSet> supports;
        private final Consumer<Job> whenAdapted;
        private final TaskAdaptation[] results;
        private final RuntimeException[] errors;
        private long microsPerTask;
        private int callSize;
        private String device;
        private int steps;
        /** Set before it is queued: adaptations that queries wait for ({@link #submitForQueries}). */
        private volatile boolean forQueries;
        private volatile boolean cancelled;
        private volatile boolean done;

        /**
         * @param whenAdapted runs on the adapting thread once the results are in, before the job is
         *     done: work on the results that need not hold up the stream thread (encoding states)
         */
        public Job(BaseModel base, List<SampleSet> supports, Consumer<Job> whenAdapted) {
            this(base, null, supports, whenAdapted);
        }

        /** @param taskIds the task of each support set, for the logs; or null when not known */
        public Job(BaseModel base, List<String> taskIds, List<SampleSet> supports, Consumer<Job> whenAdapted) {
            if (taskIds != null && taskIds.size() != supports.size()) {
                throw new IllegalArgumentException(taskIds.size() + " task ids for " + supports.size() + " supports");
            }
            this.base = base;
            this.taskIds = taskIds == null ? null : List.copyOf(taskIds);
            this.supports = List.copyOf(supports);
            this.whenAdapted = whenAdapted;
            this.results = new TaskAdaptation[supports.size()];
            this.errors = new RuntimeException[supports.size()];
        }

        private void finish(TaskAdaptation[] all, RuntimeException[] allErrors, int offset, long microsPerTask,
                int callSize, String device, int steps) {
            System.arraycopy(all, offset, results, 0, results.length);
            System.arraycopy(allErrors, offset, errors, 0, errors.length);
            this.microsPerTask = microsPerTask;
            this.callSize = callSize;
            this.device = device;
            this.steps = steps;
            try {
                whenAdapted.accept(this);
            } finally {
                done = true;
            }
        }

        int size() {
            return supports.size();
        }

        public BaseModel base() {
            return base;
        }

        /** The adapted task {@code i}, or {@code null} when adapting it failed ({@link #error}). */
        public TaskAdaptation result(int i) {
            return results[i];
        }

        public RuntimeException error(int i) {
            return errors[i];
        }

        public long microsPerTask() {
            return microsPerTask;
        }

        public int callSize() {
            return callSize;
        }

        public String device() {
            return device;
        }

        public int steps() {
            return steps;
        }

        /** Finished: adapted (with per-task failures, if any) or cancelled. */
        public boolean isDone() {
            return done;
        }

        public boolean isCancelled() {
            return cancelled;
        }

        /** Nobody will read the result (the stream task closed, or the engine stopped). */
        public void cancel() {
            cancelled = true;
            done = true;
        }
    }
}

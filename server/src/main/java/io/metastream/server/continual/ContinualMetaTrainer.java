package io.metastream.server.continual;

import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.SampleSet;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.server.ModelPromotion;
import io.metastream.store.AliasConflictException;
import io.metastream.store.ModelManifest;
import io.metastream.store.ModelStore;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.RejectReason;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.AssignedConsumerThread;
import io.metastream.training.continual.ChampionChallenger;
import io.metastream.training.continual.ContinualRound;
import io.metastream.training.continual.TaskBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continual meta-training from the stream, in the style of follow-the-meta-leader (Finn et al.,
 * "Online Meta-Learning", ICML 2019): reads the samples topic (read-committed, from the beginning,
 * no consumer group: the offsets it trained on go into each candidate's provenance), keeps a
 * bounded buffer of recent tasks, and every {@code meta.train.every.new.tasks} new tasks (or
 * {@code meta.train.every.ms}) continues meta-training the served base with its own algorithm.
 * The most recent tasks are held out by task; the candidate is published as a new version with
 * alias {@code candidate}, judged against the champion prequentially on them
 * ({@link ChampionChallenger}), and promoted to the served alias through the normal hot swap only
 * when it wins. Every decision goes to model-events with its figures. Rounds run on their own
 * thread, never on a stream thread; ingestion is not touched.
 *
 * <p>The topic is not trusted: a sample is buffered only if it passes the pipeline's own checks
 * ({@link SampleRecords}, against the served base's input size), and a round takes at most
 * {@code meta.train.max.tasks.per.round} tasks, those with the most samples
 * ({@link TaskBuffer#snapshot(int, int, long)}), so neither one malformed sample nor a flood of new
 * task ids decides what a round trains and judges on.
 *
 * <p>Its alias moves are compare-and-set: a candidate is promoted only if the alias still points
 * at the champion it was judged against, and a regressing promotion is rolled back only if it is
 * the trainer's own and the alias still points at it, to the version it replaced. An operator's
 * move always wins; the trainer reports {@link #ALIAS_CONFLICT} and moves nothing.
 */
public final class ContinualMetaTrainer implements AutoCloseable {
    /** The instance id of its model-events. */
    public static final String INSTANCE = "meta-trainer";
    public static final String CANDIDATE_ALIAS = "candidate";
    public static final String PROMOTED = "CANDIDATE_PROMOTED";
    public static final String REFUSED = "CANDIDATE_REFUSED";
    /** A newly served version did worse on the users who came after it than the one before: rolled back. */
    public static final String ROLLED_BACK = "LIVE_REGRESSION_ROLLED_BACK";
    /** A newly served version held up on the users who came after it. */
    public static final String KEPT = "LIVE_CHECK_PASSED";
    /**
     * The trainer did not move the alias because someone else moved it since the trainer read it: a
     * promotion decided against a champion no longer served, or a rollback of its own promotion
     * after an operator moved the alias. The reason names the expected and actual versions.
     */
    public static final String ALIAS_CONFLICT = "ALIAS_CONFLICT";
    /** The trainer's consumer of the samples topic failed; it restarts with a backoff (once per outage). */
    public static final String TRAINER_FAILED = "TRAINER_FAILED";
    /** It follows the samples topic again. */
    public static final String TRAINER_RESTARTED = "TRAINER_RESTARTED";
    /** Someone else moved the alias away from the version the trainer promoted: its live check ends. */
    public static final String LIVE_CHECK_DROPPED = "LIVE_CHECK_DROPPED";
    private static final Logger LOG = LoggerFactory.getLogger(ContinualMetaTrainer.class);

    private final MetastreamConfig config;
    private final ContinualTrainingConfig settings;
    private final ModelStore store;
    private final Topics topics;
    private final String model;
    private final String alias;
    private final TaskBuffer buffer;
    private long newestEventMs = Long.MIN_VALUE;
    private final ContinualRound.Settings roundSettings;
    /** Scores rounds and live checks; created on the round thread, which alone uses it. */
    private volatile GradientLearner judge;
    private final Map<Integer, Long> offsets = new TreeMap<>();
    private final ExecutorService rounds = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "meta-trainer-round");
        t.setDaemon(true);
        return t;
    });
    private final List<Decision> decisions = new CopyOnWriteArrayList<>();
    private long roundsFinished;
    private AssignedConsumerThread consumer;
    private long tasksAtLastRound;
    private long lastRoundMs = System.currentTimeMillis();
    private boolean roundRunning;
    private long skipped;
    private final Map<RejectReason, Long> refused = new EnumMap<>(RejectReason.class);
    private final int maxRecordBytes;
    private final long maxFutureMs;
    private final int maxTasksPerRound;
    /** The input size of the served version {@link #dimOf}; 0: unknown. */
    private int servedDim;
    private String dimOf;
    // The live check of the trainer's own last promotion: the version it promoted, the one that
    // replaced, and the first task number seen after it; users from then on judge whether it was a
    // regression. Only a promotion this trainer made is checked and rolled back, and only while
    // the alias still points at it: a version someone else chose is theirs to judge.
    private String served;
    private String promoted;
    private String replaced;
    private long watchFrom = -1;
    private long lastAliasCheckMs;

    /** What one round decided, with the figures it decided on. */
    public record Decision(String candidateVersion, String championVersion, boolean promoted,
            ChampionChallenger.Verdict verdict, Map<Integer, Long> offsets, int trainedTasks, int heldOutTasks) {
    }

    public ContinualMetaTrainer(MetastreamConfig config, ContinualTrainingConfig settings, ModelStore store) {
        this.config = config;
        this.settings = settings;
        this.store = store;
        this.topics = Topics.from(config);
        this.model = config.getString(MetastreamConfig.MODEL_NAME_CONFIG);
        this.alias = config.getString(MetastreamConfig.MODEL_ALIAS_CONFIG);
        this.maxRecordBytes = config.getInt(MetastreamConfig.INPUT_MAX_RECORD_BYTES_CONFIG);
        this.maxFutureMs = config.getLong(MetastreamConfig.INPUT_MAX_FUTURE_MS_CONFIG);
        this.maxTasksPerRound = settings.getInt(ContinualTrainingConfig.MAX_TASKS_PER_ROUND_CONFIG);
        this.buffer = new TaskBuffer(settings.getInt(ContinualTrainingConfig.BUFFER_TASKS_CONFIG),
                settings.getInt(ContinualTrainingConfig.BUFFER_SAMPLES_CONFIG));
        this.roundSettings = new ContinualRound.Settings(
                settings.getInt(ContinualTrainingConfig.HELD_OUT_TASKS_CONFIG),
                settings.getInt(ContinualTrainingConfig.ITERATIONS_CONFIG),
                settings.getInt(ContinualTrainingConfig.META_BATCH_CONFIG),
                settings.getInt(ContinualTrainingConfig.SHOTS_CONFIG),
                settings.getDouble(ContinualTrainingConfig.OUTER_STEP_CONFIG).floatValue(),
                settings.getInt(ContinualTrainingConfig.EVAL_SHOTS_CONFIG),
                settings.getDouble(ContinualTrainingConfig.MARGIN_CONFIG),
                settings.getInt(ContinualTrainingConfig.MIN_HELD_OUT_TASKS_CONFIG));
    }

    /** Whether its consumer follows the samples topic now (false while it waits to restart, or once closed). */
    public boolean isFollowing() {
        AssignedConsumerThread c = consumer;
        return c != null && c.isFollowing();
    }

    /** Starts following the samples topic; rounds start on their own as tasks arrive. */
    public ContinualMetaTrainer start() {
        served = store.alias(model, alias).orElse(null);
        Map<String, Object> props = new HashMap<>(config.clientProperties());
        props.remove(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumer = new AssignedConsumerThread("meta-trainer", config.getString(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG),
                props, List.of(topics.samples().name()), records -> records.forEach(this::take))
                .restartOnFailure(Duration.ofMillis(200), Duration.ofSeconds(30),
                        new AssignedConsumerThread.FailureListener() {
                            @Override
                            public void failed(RuntimeException error, int failures, Duration backoff) {
                                LOG.warn("meta-trainer consumer failed ({} in a row); restarting in {}", failures,
                                        backoff, error);
                                if (failures == 1) {
                                    // Seen on model-events once per outage, not once per retry.
                                    announce(served, served, TRAINER_FAILED, error.getClass().getSimpleName()
                                            + ": " + error.getMessage() + " (restarting in " + backoff.toMillis()
                                            + " ms; no rounds until then)");
                                }
                            }

                            @Override
                            public void recovered(int failures) {
                                LOG.info("meta-trainer consumer follows the samples topic again");
                                announce(served, served, TRAINER_RESTARTED, "following " + topics.samples().name()
                                        + " again after " + failures + " failure(s)");
                            }
                        })
                .start();
        return this;
    }

    private synchronized void take(ConsumerRecord<String, byte[]> r) {
        offsets.put(r.partition(), r.offset() + 1);
        // The pipeline's own checks: what it dead-letters is not training data either. A future-dated
        // sample would also move the buffer's window ahead and empty it.
        SampleRecords.Checked checked = SampleRecords.check(
                r.key() == null ? null : r.key().getBytes(StandardCharsets.UTF_8), r.value(), r.timestamp(),
                servedInputDim(), maxRecordBytes, maxFutureMs, System.currentTimeMillis());
        if (!checked.accepted()) {
            skipped++;
            refused.merge(checked.refused(), 1L, Long::sum);
            LOG.debug("meta-trainer skips {}-{}@{}: {} {}", r.topic(), r.partition(), r.offset(), checked.refused(),
                    checked.detail());
            return;
        }
        LabelledSample s = checked.sample();
        float[] x = new float[s.getFeatures().size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = s.getFeatures().get(i);
        }
        long eventTime = s.getEventTime().toEpochMilli();
        buffer.add(s.getTaskId(), x, s.getTarget(), eventTime);
        newestEventMs = Math.max(newestEventMs, eventTime);
        noticeServedVersion();
        maybeStartRound();
    }

    /**
     * The input size of the version served now, read from the store once per version; 0 while it
     * cannot be read (no version served yet): samples are then taken whatever their size, and each
     * round keeps only those of its champion's size ({@link #ofInputSize}).
     */
    private int servedInputDim() {
        String version = served;
        if (version != null && !version.equals(dimOf)) {
            dimOf = version;
            try {
                servedDim = BaseModelArtifacts.load(store, model, version).inputDim();
            } catch (RuntimeException e) {
                servedDim = 0;
                LOG.warn("meta-trainer cannot read the input size of {} {}; checks samples without it", model,
                        version, e);
            }
        }
        return version == null ? 0 : servedDim;
    }

    /**
     * The samples of {@code tasks} with {@code inputDim} features, and the tasks left with at least
     * two: a round never fails on a sample of another size (one taken before the served size was
     * known, or under a base of another size).
     */
    static List<TaskBuffer.BufferedTask> ofInputSize(List<TaskBuffer.BufferedTask> tasks, int inputDim) {
        List<TaskBuffer.BufferedTask> out = new ArrayList<>(tasks.size());
        for (TaskBuffer.BufferedTask t : tasks) {
            float[][] x = t.samples().features();
            int keep = 0;
            for (float[] row : x) {
                keep += row.length == inputDim ? 1 : 0;
            }
            if (keep == x.length) {
                out.add(t);
            } else if (keep >= 2) {
                float[][] kx = new float[keep][];
                float[] ky = new float[keep];
                for (int i = 0, k = 0; i < x.length; i++) {
                    if (x[i].length == inputDim) {
                        kx[k] = x[i];
                        ky[k++] = t.samples().targets()[i];
                    }
                }
                out.add(new TaskBuffer.BufferedTask(t.taskId(), t.firstSeen(), new SampleSet(kx, ky)));
            }
        }
        return out;
    }

    /** A move of the served alias by someone else ends the live check of the trainer's own promotion. */
    private void noticeServedVersion() {
        long now = System.currentTimeMillis();
        if (now - lastAliasCheckMs < 1000) {
            return;
        }
        lastAliasCheckMs = now;
        String current = store.alias(model, alias).orElse(null);
        String dropped = null;
        synchronized (this) {
            if (current != null && !current.equals(served)) {
                served = current;
                if (promoted != null && !promoted.equals(current)) {
                    dropped = promoted;
                    endLiveCheck();
                }
            }
        }
        if (dropped != null) {
            LOG.info("{} moved from {} (promoted by the meta-trainer) to {} by someone else: no live check, no "
                    + "automatic rollback of it", alias, dropped, current);
            announce(dropped, current, LIVE_CHECK_DROPPED, alias + " moved from " + dropped + " to " + current
                    + " by someone else; the meta-trainer rolls back only its own promotion while it stands");
        }
    }

    private synchronized void startLiveCheck(String before, String now) {
        replaced = before;
        promoted = now;
        served = now;
        watchFrom = before == null ? -1 : buffer.tasksSeen();
    }

    private synchronized void endLiveCheck() {
        promoted = null;
        replaced = null;
        watchFrom = -1;
    }

    /**
     * The trainer's own promotion: a compare-and-set from {@code champion}, the version the round
     * judged against, to {@code candidate}, announced; then the live check of it starts. If the
     * alias moved during the round nothing moves: the candidate beat a version no longer served.
     *
     * @return the conflict if the alias had moved, null if the candidate was promoted
     */
    AliasConflictException promote(String candidate, String champion) {
        try {
            ModelPromotion.compareAndPromote(store, model, alias, champion, candidate, true,
                    config.clientProperties(), topics);
        } catch (AliasConflictException e) {
            LOG.warn("candidate {} not promoted: {}", candidate, e.getMessage());
            return e;
        }
        startLiveCheck(champion, candidate);
        return null;
    }

    /**
     * Rolls back the trainer's own last promotion to the version it replaced, by compare-and-set on
     * the version it promoted: if someone moved the alias since, nothing moves (an operator's choice
     * stands, and no version nobody chose is ever reached) and the refusal goes to model-events.
     *
     * @param why the regression's figures, for model-events
     * @return whether the alias moved back
     * @throws IllegalStateException if the trainer has no promotion of its own under check
     */
    boolean rollBackOwnPromotion(String why) {
        String version;
        String back;
        synchronized (this) {
            version = promoted;
            back = replaced;
        }
        if (version == null || back == null) {
            throw new IllegalStateException("the meta-trainer has no promotion of its own to roll back");
        }
        try {
            ModelPromotion.rollBackTo(store, model, alias, version, back, config.clientProperties(), topics);
        } catch (AliasConflictException e) {
            LOG.warn("not rolling {} back to {}: {}", version, back, e.getMessage());
            announce(version, e.actual() == null ? version : e.actual(), ALIAS_CONFLICT, "did not roll " + version
                    + " back to " + back + ": " + e.getMessage() + "; " + why);
            synchronized (this) {
                served = e.actual();
                endLiveCheck();
            }
            return false;
        }
        announce(version, back, ROLLED_BACK, why);
        LOG.warn("rolled {} back to {}: {}", version, back, why);
        synchronized (this) {
            served = back;
            endLiveCheck();
        }
        return true;
    }

    private void maybeStartRound() {
        long fresh = buffer.tasksSeen() - tasksAtLastRound;
        boolean due = fresh >= settings.getInt(ContinualTrainingConfig.EVERY_NEW_TASKS_CONFIG)
                || (fresh > 0 && System.currentTimeMillis() - lastRoundMs
                        >= settings.getLong(ContinualTrainingConfig.EVERY_MS_CONFIG));
        if (!due || roundRunning) {
            return;
        }
        roundRunning = true;
        tasksAtLastRound = buffer.tasksSeen();
        long window = settings.getLong(ContinualTrainingConfig.BUFFER_WINDOW_MS_CONFIG);
        if (window > 0) {
            // Stream time, not the wall clock: a replay of last month keeps last month's window.
            int expired = buffer.expireBefore(newestEventMs - window);
            if (expired > 0) {
                LOG.info("meta-training buffer: {} samples older than {} ms left; {} tasks remain", expired, window,
                        buffer.size());
            }
        }
        List<TaskBuffer.BufferedTask> tasks = buffer.snapshot(2, maxTasksPerRound,
                settings.getLong(ContinualTrainingConfig.SEED_CONFIG) + tasksAtLastRound);
        Map<Integer, Long> at = new TreeMap<>(offsets);
        rounds.execute(() -> {
            try {
                round(tasks, at).ifPresent(decisions::add);
            } catch (RuntimeException e) {
                LOG.error("meta-training round failed; the served base is unchanged", e);
            } finally {
                synchronized (this) {
                    roundRunning = false;
                    lastRoundMs = System.currentTimeMillis();
                    roundsFinished++;
                }
            }
        });
    }

    /**
     * One round on {@code tasks} (oldest first seen first), read up to {@code offsets}: continue the
     * served base on all but the most recent, judge it on those, and promote it if it wins.
     *
     * @return the decision, or empty when there are too few tasks to train and judge on
     */
    public Optional<Decision> round(List<TaskBuffer.BufferedTask> buffered, Map<Integer, Long> offsets) {
        liveCheck(buffered);
        String championVersion = store.alias(model, alias).orElseThrow(() -> new IllegalStateException(
                "no version of " + model + " is " + alias + ": nothing to continue from"));
        BaseModel champion = BaseModelArtifacts.load(store, model, championVersion);
        List<TaskBuffer.BufferedTask> tasks = ofInputSize(buffered, champion.inputDim());
        Optional<ContinualRound.Outcome> ran = ContinualRound.run(champion, tasks, roundSettings,
                settings.getLong(ContinualTrainingConfig.SEED_CONFIG) + tasksAtLastRound, judge());
        if (ran.isEmpty()) {
            LOG.info("meta-training round skipped: {} tasks buffered", tasks.size());
            return Optional.empty();
        }
        ContinualRound.Outcome outcome = ran.get();
        ChampionChallenger.Verdict verdict = outcome.verdict();
        List<TaskBuffer.BufferedTask> judgeOn = tasks.subList(tasks.size() - outcome.heldOutTasks(), tasks.size());
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("continual", true);
        provenance.put("parent_version", championVersion);
        provenance.put("topic", topics.samples().name());
        Map<String, Long> trainedThrough = new LinkedHashMap<>();
        offsets.forEach((p, o) -> trainedThrough.put(String.valueOf(p), o));
        provenance.put("offsets", trainedThrough);
        provenance.put("trained_tasks", outcome.trainedTasks());
        provenance.put("held_out_tasks", judgeOn.size());
        provenance.put("held_out_first_seen_from", judgeOn.get(0).firstSeen());
        provenance.put("iterations", roundSettings.iterations());
        provenance.put("training_seconds", outcome.trainingSeconds());
        provenance.put("decision", verdict.promote() ? "promoted" : "refused");
        provenance.put("figures", verdict.figures());
        ModelManifest manifest = BaseModelArtifacts.publish(store, model, outcome.candidate(), provenance);
        store.setAlias(model, CANDIDATE_ALIAS, manifest.version());
        String reason = verdict.reason() + "; figures " + verdict.figures();
        String status = verdict.promote() ? PROMOTED : REFUSED;
        boolean promotedNow = false;
        if (verdict.promote()) {
            AliasConflictException conflict = promote(manifest.version(), championVersion);
            promotedNow = conflict == null;
            if (conflict != null) {
                status = ALIAS_CONFLICT;
                reason = "won against " + championVersion + " but not promoted: " + conflict.getMessage() + "; "
                        + reason;
            }
        }
        announce(championVersion, manifest.version(), status, reason);
        LOG.info("meta-training round: candidate {} {} ({})", manifest.version(),
                promotedNow ? "promoted" : "not promoted", reason);
        return Optional.of(new Decision(manifest.version(), championVersion, promotedNow, verdict,
                Map.copyOf(offsets), outcome.trainedTasks(), judgeOn.size()));
    }

    /**
     * Judges the trainer's own last promotion against the version it replaced, on the users first
     * seen after it, once there are enough of them; rolls it back if the one before wins by the
     * margin (the same test a candidate must pass, the other way round).
     */
    private void liveCheck(List<TaskBuffer.BufferedTask> tasks) {
        String now;
        String before;
        long from;
        synchronized (this) {
            now = promoted;
            before = replaced;
            from = watchFrom;
        }
        if (now == null || before == null || from < 0) {
            return;
        }
        List<TaskBuffer.BufferedTask> seenAfter = tasks.stream().filter(t -> t.firstSeen() >= from).toList();
        int needed = roundSettings.minHeldOut();
        if (seenAfter.size() < needed) {
            return;
        }
        BaseModel nowServed = BaseModelArtifacts.load(store, model, now);
        List<TaskBuffer.BufferedTask> after = ofInputSize(seenAfter, nowServed.inputDim());
        if (after.size() < needed) {
            return;
        }
        ChampionChallenger.Verdict v = new ChampionChallenger(judge(), roundSettings.evalShots(),
                roundSettings.margin(), needed)
                .judge(nowServed, BaseModelArtifacts.load(store, model, before), after);
        String figures = "; figures " + v.figures() + " (champion: " + now + ", challenger: " + before + ")";
        if (v.promote()) {
            boolean back = rollBackOwnPromotion("version " + now + " regressed on " + after.size()
                    + " users who came after it: " + v.reason() + figures);
            liveDecisions.add(new LiveCheck(now, before, back, v));
        } else {
            announce(before, now, KEPT, "version " + now + " held up on " + after.size() + " users: " + v.reason()
                    + figures);
            endLiveCheck();
            liveDecisions.add(new LiveCheck(now, before, false, v));
        }
    }

    private GradientLearner judge() {
        if (judge == null) {
            judge = new GradientLearner(DjlRuntime.defaultDevice());
        }
        return judge;
    }

    /** A live check of a newly served version against the one before it. */
    public record LiveCheck(String checked, String against, boolean rolledBack, ChampionChallenger.Verdict verdict) {
    }

    private final List<LiveCheck> liveDecisions = new CopyOnWriteArrayList<>();

    /** The live checks made so far, oldest first. */
    public List<LiveCheck> liveChecks() {
        return new ArrayList<>(liveDecisions);
    }

    private void announce(String from, String to, String status, String reason) {
        Map<String, Object> props = new HashMap<>(config.clientProperties());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        // No version served yet (the alias is not set) is "none", not a null the schema refuses.
        ModelSwapEvent event = ModelSwapEvent.newBuilder().setInstanceId(INSTANCE).setModelName(model)
                .setAlias(alias).setFromVersion(from == null ? "none" : from).setToVersion(to == null ? "none" : to)
                .setStatus(status).setReason(reason).setLoadMicros(0).setAt(Instant.now()).build();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props, new StringSerializer(),
                new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(topics.modelEvents().name(), INSTANCE, topics.modelEvents()
                    .valueSerde().serializer().serialize(topics.modelEvents().name(), event))).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.error("could not publish {} of {} to {}", status, to, topics.modelEvents().name(), e);
        }
    }

    /**
     * Rounds finished so far: decided, skipped for too few tasks, or failed. A caller that waits
     * for the trainer to look at new tasks waits for this to grow, since a skipped round decides
     * nothing.
     */
    public synchronized long roundsFinished() {
        return roundsFinished;
    }

    /** The decisions made so far, oldest first. */
    public List<Decision> decisions() {
        return new ArrayList<>(decisions);
    }

    public synchronized long tasksSeen() {
        return buffer.tasksSeen();
    }

    /** Samples not used (refused by the pipeline's checks): the pipeline dead-letters them. */
    public synchronized long skipped() {
        return skipped;
    }

    /** Samples not used, by the reason the pipeline gives when it dead-letters them. */
    public synchronized Map<RejectReason, Long> refused() {
        return new EnumMap<>(refused);
    }

    @Override
    public void close() {
        if (consumer != null) {
            consumer.close();
        }
        rounds.shutdown();
        try {
            rounds.awaitTermination(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // The round thread has ended (or is abandoned after the wait): the learner is free to close.
        if (judge != null) {
            judge.close();
        }
    }
}

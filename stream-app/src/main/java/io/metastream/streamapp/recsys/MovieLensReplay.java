package io.metastream.streamapp.recsys;

import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.ColdStartSplit;
import io.metastream.data.movielens.MovieLens;
import io.metastream.embedded.JitCompilers;
import io.metastream.embedded.Pacing;
import io.metastream.embedded.Producers;
import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.Prediction;
import io.metastream.schemas.PredictionRequest;
import io.metastream.streams.Topics;
import io.metastream.streams.internals.AssignedConsumerThread;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Replays the meta-test (cold) users of a MovieLens folder into a running pipeline, in timestamp
 * order, and reads back what it answers. Each rating becomes, in this order, a query for the
 * rated item (the prequential test: predicted before it is learned) and a labelled sample; after
 * a user's support ratings, their held-out query items (the protocol's last 10) are asked once.
 * Every user is a task keyed {@code <prefix>u<id>}; a fresh prefix per run keeps replays into the
 * same pipeline apart.
 *
 * <p>Records carry strictly increasing timestamps (wall clock, at least 1 ms apart), so the
 * pipeline's rule of answering a query once its partition's samples are past the query's
 * timestamp gives each prequential query exactly the ratings before it.
 */
public final class MovieLensReplay {
    private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(120);

    /** What kind of record an event is. */
    public enum Kind {
        SAMPLE, PREQUENTIAL_QUERY, HELD_OUT_QUERY
    }

    /**
     * One record to produce: {@code given} is how many of the user's ratings were produced as
     * samples before it.
     */
    public record Event(Kind kind, MovieLens.Rating rating, int given, String id) {
        boolean query() {
            return kind != Kind.SAMPLE;
        }
    }

    /** How to replay: events a second, at most this many users (0 = all meta-test users), task-id prefix. */
    public record Options(int rate, int maxUsers, String taskPrefix, int warmUpUsers) {
        public Options {
            if (rate < 1 || maxUsers < 0 || warmUpUsers < 0) {
                throw new IllegalArgumentException("rate must be positive, maxUsers and warmUpUsers >= 0: " + rate
                        + ", " + maxUsers + ", " + warmUpUsers);
            }
        }

        /** No warm-up: every record sent is the cold users'. */
        public Options(int rate, int maxUsers, String taskPrefix) {
            this(rate, maxUsers, taskPrefix, 0);
        }
    }

    /** Task ids of warm-up users start with the task prefix and this. */
    private static final String WARM_UP = "warm-up-";

    private final ColdStartData data;
    private final Options options;
    private final PrintStream out;

    public MovieLensReplay(ColdStartData data, Options options, PrintStream out) {
        this.data = data;
        this.options = options;
        this.out = out;
    }

    /** The events in production order: the cold users' ratings merged by timestamp. */
    public List<Event> schedule() {
        List<ColdStartSplit.UserHistory> users = data.split().test();
        if (options.maxUsers() > 0 && users.size() > options.maxUsers()) {
            users = users.subList(0, options.maxUsers());
        }
        return schedule(users);
    }

    /**
     * The first {@code warmUpUsers} meta-train users' ratings, asked and sent as the cold users' are:
     * traffic the JIT compiles the hot paths on before the clock starts. Their figures are not reported.
     */
    List<Event> warmUpSchedule() {
        List<ColdStartSplit.UserHistory> users = data.split().train();
        return schedule(users.subList(0, Math.min(options.warmUpUsers(), users.size())));
    }

    private List<Event> schedule(List<ColdStartSplit.UserHistory> users) {
        List<Event> timeline = new ArrayList<>();
        for (ColdStartSplit.UserHistory h : users) {
            List<MovieLens.Rating> support = h.support();
            for (int j = 0; j < support.size(); j++) {
                MovieLens.Rating r = support.get(j);
                timeline.add(new Event(Kind.PREQUENTIAL_QUERY, r, j, options.taskPrefix() + "u" + r.user() + "-p" + j));
                timeline.add(new Event(Kind.SAMPLE, r, j, options.taskPrefix() + "u" + r.user() + "-i" + r.item()));
            }
            for (MovieLens.Rating r : h.query()) {
                timeline.add(new Event(Kind.HELD_OUT_QUERY, r, support.size(),
                        options.taskPrefix() + "u" + r.user() + "-h" + r.item()));
            }
        }
        // A held-out query is asked right after the user's last support rating. The sort is
        // stable, so a user's query stays before its sample and the held-out queries come last.
        Map<Integer, Long> lastSupport = new HashMap<>();
        for (Event e : timeline) {
            if (e.kind() == Kind.SAMPLE) {
                lastSupport.merge(e.rating().user(), e.rating().timestamp(), Math::max);
            }
        }
        List<Event> ordered = new ArrayList<>(timeline);
        ordered.sort(Comparator.comparingLong((Event e) -> e.kind() == Kind.HELD_OUT_QUERY
                ? lastSupport.getOrDefault(e.rating().user(), Long.MIN_VALUE) : e.rating().timestamp()));
        return ordered;
    }

    /** What came back for each query id, and what went wrong. */
    public record Outcome(List<Event> events, Map<String, Prediction> predictions, Map<String, Double> latencyMs,
            long duplicates, long deadLetters, Map<String, Long> deadLettersByReason, double seconds) {
    }

    /** Produces the schedule to {@code topics} at the configured rate and waits for every answer. */
    public Outcome run(String bootstrapServers, Topics topics) {
        List<Event> events = schedule();
        List<Event> warmUp = warmUpSchedule();
        long warmUpQueries = warmUp.stream().filter(Event::query).count();
        AtomicLong warmUpAnswered = new AtomicLong();
        Map<String, Long> sentNanos = new ConcurrentHashMap<>();
        Map<String, Prediction> predictions = new ConcurrentHashMap<>();
        Map<String, Double> latencyMs = new ConcurrentHashMap<>();
        AtomicLong duplicates = new AtomicLong();
        AtomicLong deadLetters = new AtomicLong();
        Map<String, Long> byReason = new ConcurrentHashMap<>();
        String prefix = options.taskPrefix();
        long queries = events.stream().filter(Event::query).count();
        long start = System.nanoTime();
        try (AssignedConsumerThread reader = new AssignedConsumerThread("movielens-replay", bootstrapServers,
                Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                List.of(topics.predictions().name(), topics.deadLetters().name()), records -> {
                    long now = System.nanoTime();
                    for (ConsumerRecord<String, byte[]> r : records) {
                        if (r.key() == null || !r.key().startsWith(prefix)) {
                            continue;
                        }
                        if (r.key().startsWith(prefix + WARM_UP)) {
                            warmUpAnswered.incrementAndGet();
                            continue;
                        }
                        if (r.topic().equals(topics.predictions().name())) {
                            Prediction p = topics.predictions().valueSerde().deserializer().deserialize(r.topic(),
                                    r.value());
                            if (predictions.putIfAbsent(p.getQueryId(), p) != null) {
                                duplicates.incrementAndGet();
                            } else if (sentNanos.containsKey(p.getQueryId())) {
                                latencyMs.put(p.getQueryId(), (now - sentNanos.get(p.getQueryId())) / 1e6);
                            }
                        } else {
                            DeadLetter d = topics.deadLetters().valueSerde().deserializer().deserialize(r.topic(),
                                    r.value());
                            deadLetters.incrementAndGet();
                            byReason.merge(d.getReasonCode(), 1L, Long::sum);
                        }
                    }
                }).start();
                KafkaProducer<String, byte[]> producer = Producers.traffic(bootstrapServers)) {
            long[] lastTimestamp = {0};
            if (!warmUp.isEmpty()) {
                long warmUpStart = System.nanoTime();
                for (int k = 0; k < warmUp.size(); k++) {
                    Pacing.awaitDue(warmUpStart, k, 2.0 * options.rate());
                    produce(producer, topics, warmUp.get(k), prefix + WARM_UP, lastTimestamp);
                }
                producer.flush();
                long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
                while (warmUpAnswered.get() < warmUpQueries && System.nanoTime() < deadline) {
                    Pacing.sleepMillis(20);
                }
                long settle = JitCompilers.awaitIdle(Duration.ofSeconds(5));
                out.printf(Locale.ROOT, "warm-up: %d warm users' ratings, %d of %d queries answered in %.1f s; JIT "
                        + "idle after %.1f s more%n", warmUp.size(), warmUpAnswered.get(), warmUpQueries,
                        (System.nanoTime() - warmUpStart - settle) / 1e9, settle / 1e9);
            }
            start = System.nanoTime();
            long lastPrint = start;
            int sent = 0;
            for (Event e : events) {
                Pacing.awaitDue(start, sent, options.rate());
                if (e.kind() != Kind.SAMPLE) {
                    sentNanos.put(e.id(), System.nanoTime());
                }
                produce(producer, topics, e, prefix, lastTimestamp);
                sent++;
                if (System.nanoTime() - lastPrint > 1_000_000_000L) {
                    lastPrint = System.nanoTime();
                    progress(start, sent, events.size(), predictions.size(), queries);
                }
            }
            producer.flush();
            long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
            while (predictions.size() < queries && System.nanoTime() < deadline) {
                reader.failure().ifPresent(f -> {
                    throw new IllegalStateException("the prediction reader failed: " + f, f);
                });
                if (System.nanoTime() - lastPrint > 1_000_000_000L) {
                    lastPrint = System.nanoTime();
                    progress(start, sent, events.size(), predictions.size(), queries);
                }
                Pacing.sleepMillis(20);
            }
            Pacing.sleepMillis(300); // late duplicates, if any, are counted
            progress(start, sent, events.size(), predictions.size(), queries);
        }
        return new Outcome(events, new HashMap<>(predictions), new HashMap<>(latencyMs), duplicates.get(),
                deadLetters.get(), new HashMap<>(byReason), (System.nanoTime() - start) / 1e9);
    }

    /** Sends one event of user {@code e.rating().user()} as task {@code taskPrefix + "u" + user}. */
    private void produce(KafkaProducer<String, byte[]> producer, Topics topics, Event e, String taskPrefix,
            long[] lastTimestamp) {
        lastTimestamp[0] = Math.max(System.currentTimeMillis(), lastTimestamp[0] + 1);
        String task = taskPrefix + "u" + e.rating().user();
        float[] features = data.features().encode(e.rating().user(), e.rating().item());
        List<Float> f = new ArrayList<>(features.length);
        for (float v : features) {
            f.add(v);
        }
        Instant time = Instant.ofEpochMilli(lastTimestamp[0]);
        if (e.kind() == Kind.SAMPLE) {
            LabelledSample s = LabelledSample.newBuilder().setEventId(e.id()).setTaskId(task).setFeatures(f)
                    .setTarget(data.target().of(e.rating().rating())).setEventTime(time).build();
            producer.send(new ProducerRecord<>(topics.samples().name(), null, lastTimestamp[0], task,
                    topics.samples().valueSerde().serializer().serialize(topics.samples().name(), s)));
        } else {
            // Read-your-writes: answered once the user's earlier ratings are in, however quiet the
            // partition is after them.
            PredictionRequest q = PredictionRequest.newBuilder().setQueryId(e.id()).setTaskId(task).setFeatures(f)
                    .setEventTime(time).setAfterSamples((long) e.given()).build();
            producer.send(new ProducerRecord<>(topics.queries().name(), null, lastTimestamp[0], task,
                    topics.queries().valueSerde().serializer().serialize(topics.queries().name(), q)));
        }
    }

    private void progress(long start, int sent, int total, int answered, long queries) {
        out.printf(Locale.ROOT, "[%5.1fs] sent %d/%d | predictions %d/%d%n", (System.nanoTime() - start) / 1e9, sent,
                total, answered, queries);
    }
}

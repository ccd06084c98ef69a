package io.metastream.streamapp.demo;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.PredictionRequest;
import io.metastream.schemas.serde.AvroCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;

/**
 * The demo's traffic: a population of sinusoid tasks (Finn et al. 2017 distribution), each giving
 * its samples and then its queries, with about {@value #IN_FLIGHT} tasks active at any time so the
 * streams of different tasks interleave; plus malformed records of several kinds.
 */
final class SimulatedPopulation {
    static final int IN_FLIGHT = 64;
    /** Task ids of the warm-up traffic start with this; its figures are not reported. */
    static final String WARM_UP_PREFIX = "warm-up-";
    /** Tasks in the warm-up traffic: about 3,000 records. */
    static final int WARM_UP_TASKS = 200;
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);
    private static final AvroCodec<PredictionRequest> QUERIES = AvroCodec.of(PredictionRequest.class);

    /** One record to produce. {@code truth} is the noise-free target of a valid query, else NaN. */
    record Event(boolean sample, String key, byte[] value, String queryId, float x, float truth, String badKind) {
        boolean isValidQuery() {
            return !sample && badKind == null;
        }
    }

    private final DemoOptions options;
    private final Random random;
    private final SinusoidTasks family = new SinusoidTasks();

    SimulatedPopulation(DemoOptions options) {
        this.options = options;
        this.random = new Random(options.seed());
    }

    /** The whole schedule, in production order. */
    List<Event> schedule() {
        return schedule("task-", options.tasks(), options.badFraction(), random);
    }

    /**
     * Traffic like the population's, {@value #WARM_UP_TASKS} tasks of its own and no bad records,
     * to send through the whole path before the clock starts: the JIT compiles the hot paths of
     * the clients, the broker and the pipeline on it, which on two cores otherwise starves the first
     * seconds of real traffic (p99 1.5 s against 0.5 s with the C2 compiler off, docs/BENCHMARKS.md).
     */
    List<Event> warmUp() {
        return schedule(WARM_UP_PREFIX, WARM_UP_TASKS, 0, new Random(~options.seed()));
    }

    private List<Event> schedule(String prefix, int tasks, double badFraction, Random random) {
        int perTask = options.shots() + options.queriesPerTask();
        List<Event> events = new ArrayList<>(tasks * perTask * 11 / 10);
        List<int[]> active = new ArrayList<>(); // {task index, events emitted}
        List<SinusoidTasks.Sinusoid> sinusoids = new ArrayList<>();
        int next = 0;
        while (next < tasks || !active.isEmpty()) {
            while (active.size() < IN_FLIGHT && next < tasks) {
                sinusoids.add(family.sampleTask(random));
                active.add(new int[] {next++, 0});
            }
            int slot = random.nextInt(active.size());
            int[] state = active.get(slot);
            String task = prefix + state[0];
            SinusoidTasks.Sinusoid sine = sinusoids.get(state[0]);
            float x = SinusoidTasks.MIN_X + random.nextFloat() * (SinusoidTasks.MAX_X - SinusoidTasks.MIN_X);
            int i = state[1]++;
            if (i < options.shots()) {
                events.add(new Event(true, task, SAMPLES.encode(sample(task, task + "-s" + i, x, sine.value(x))),
                        null, x, Float.NaN, null));
            } else {
                String queryId = task + "-q" + (i - options.shots());
                // Read-your-writes: answered once the task's samples are in.
                events.add(new Event(false, task, QUERIES.encode(PredictionRequest.newBuilder(query(task, queryId, x))
                        .setAfterSamples((long) options.shots()).build()), queryId, x, sine.value(x), null));
            }
            if (state[1] == perTask) {
                active.remove(slot);
            }
            if (random.nextDouble() < badFraction) {
                events.add(malformed(task, random));
            }
        }
        return events;
    }

    private static LabelledSample sample(String task, String eventId, float x, float y) {
        return LabelledSample.newBuilder().setEventId(eventId).setTaskId(task).setFeatures(List.of(x)).setTarget(y)
                .setEventTime(Instant.now()).build();
    }

    private static PredictionRequest query(String task, String queryId, float x) {
        return PredictionRequest.newBuilder().setQueryId(queryId).setTaskId(task).setFeatures(List.of(x))
                .setEventTime(Instant.now()).build();
    }

    /** One of six kinds of bad input, each a reason the pipeline must name. */
    private Event malformed(String task, Random random) {
        int kind = random.nextInt(6);
        boolean toSamples = random.nextBoolean();
        byte[] value = switch (kind) {
            case 0 -> "{\"not\":\"avro\"}".getBytes(StandardCharsets.UTF_8);
            case 1 -> toSamples ? SAMPLES.encode(LabelledSample.newBuilder(sample(task, "bad", 1f, 1f))
                    .setFeatures(List.of(1f, 2f, 3f)).build())
                    : QUERIES.encode(PredictionRequest.newBuilder(query(task, "bad", 1f))
                            .setFeatures(List.of(1f, 2f)).build());
            case 2 -> toSamples ? SAMPLES.encode(sample(task, "bad", Float.NaN, 1f))
                    : QUERIES.encode(query(task, "bad", Float.POSITIVE_INFINITY));
            case 3 -> toSamples ? SAMPLES.encode(sample("", "bad", 1f, 1f)) : QUERIES.encode(query("", "bad", 1f));
            case 4 -> unknownSchema();
            default -> {
                byte[] good = SAMPLES.encode(sample(task, "bad", 1f, 1f));
                yield Arrays.copyOf(good, good.length / 2);
            }
        };
        String[] kinds = {"not-avro", "wrong-dimension", "non-finite", "empty-task-id", "unknown-schema", "truncated"};
        return new Event(toSamples, task, value, null, Float.NaN, Float.NaN, kinds[kind]);
    }

    private static byte[] unknownSchema() {
        Schema stranger = SchemaBuilder.record("LabelledSample").namespace("io.metastream.schemas").fields()
                .requiredString("task_id").requiredDouble("rating").endRecord();
        GenericRecord r = new GenericData.Record(stranger);
        r.put("task_id", "x");
        r.put("rating", 4.5);
        try {
            ByteBuffer b = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), stranger).encode(r);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

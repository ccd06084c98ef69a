package io.metastream.bench;

import io.metastream.data.sinusoid.SinusoidTasks;
import io.metastream.embedded.Producers;
import io.metastream.learn.SampleSet;
import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.serde.AvroCodec;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;

/**
 * Gives a running instance ({@code metastream run}) tasks to serve: {@code --tasks} sinusoid tasks
 * named {@code task-0, task-1, ...}, {@code --shots} labelled samples each, on the samples topic, as
 * single-object Avro records like any producer's. Used by {@code bench/http-predict.sh} before it
 * loads the predict endpoint.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar io.metastream.bench.SeedTasks --bootstrap-servers HOST:PORT \
 *     [--topic samples] [--tasks 1000] [--shots 10] [--seed 7]
 * </pre>
 */
public final class SeedTasks {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);

    private SeedTasks() {
    }

    private static byte[] sample(String eventId, String task, float x, float y) {
        return SAMPLES.encode(LabelledSample.newBuilder().setEventId(eventId).setTaskId(task).setFeatures(List.of(x))
                .setTarget(y).setEventTime(Instant.now()).build());
    }

    public static void main(String[] args) throws InterruptedException, ExecutionException {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("--bootstrap-servers", null);
        options.put("--topic", "samples");
        options.put("--tasks", "1000");
        options.put("--shots", "10");
        options.put("--seed", "7");
        for (int i = 0; i < args.length; i += 2) {
            if (!options.containsKey(args[i]) || i + 1 >= args.length) {
                throw new IllegalArgumentException("unknown option or missing value: " + args[i] + "; known: "
                        + options.keySet());
            }
            options.put(args[i], args[i + 1]);
        }
        if (options.get("--bootstrap-servers") == null) {
            throw new IllegalArgumentException("--bootstrap-servers is required");
        }
        String topic = options.get("--topic");
        int tasks = Integer.parseInt(options.get("--tasks"));
        int shots = Integer.parseInt(options.get("--shots"));
        Random random = new Random(Long.parseLong(options.get("--seed")));
        SinusoidTasks family = new SinusoidTasks();
        try (KafkaProducer<String, byte[]> producer = Producers.traffic(options.get("--bootstrap-servers"))) {
            // One acknowledged record per partition first, of a task outside the seeded ones: a new
            // idempotent producer's first pipelined batches to a topic just created can stall on the
            // broker (see EndToEnd's warm-up).
            for (PartitionInfo p : producer.partitionsFor(topic)) {
                producer.send(new ProducerRecord<>(topic, p.partition(), System.currentTimeMillis(), "seed-warm-up",
                        sample("seed-warm-up-" + p.partition(), "seed-warm-up", 0f, 0f))).get();
            }
            long sent = 0;
            for (int t = 0; t < tasks; t++) {
                String task = "task-" + t;
                SampleSet support = family.sampleTask(random).sample(random, shots);
                for (int k = 0; k < support.size(); k++) {
                    producer.send(new ProducerRecord<>(topic, task,
                            sample(task + "-" + k, task, support.features()[k][0], support.targets()[k])));
                    sent++;
                }
            }
            producer.flush();
            System.out.println("sent " + sent + " samples of " + tasks + " tasks to " + topic);
        }
    }
}

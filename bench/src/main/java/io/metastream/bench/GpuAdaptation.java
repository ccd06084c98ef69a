package io.metastream.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.SampleSet;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tasks per second of {@link GradientLearner#adapt} on every device named, in one JVM, so that GPU
 * and CPU figures share a run: the work of {@link AdaptationBenchmark} (same base, same seeded
 * support sets, plain SGD), timed with a plain clock instead of JMH. JMH forks a JVM per trial and
 * meta-trains the base again in each; on a lent GPU machine whose minutes are counted, one JVM that
 * trains once is what fits. Every adaptation returns its parameters to the Java heap
 * ({@code toFloatArray}), so each timed call includes the copies to and from the device and waits
 * for the device to finish.
 *
 * <p>Before timing, each device's adapted parameters are checked against the plain-Java
 * adaptation ({@link Equivalence}): a device that computes something else is reported, not timed.
 *
 * <pre>
 * java -cp ... io.metastream.bench.GpuAdaptation --devices gpu,cpu \
 *     --gpu-batches 1,4,16,64,256,1024,4096,16384,65536 --cpu-batches 1,4,16,64,256,1024,4096 \
 *     --warmup-ms 1000 --iterations 3 --iteration-ms 1000 --report gpu.json
 * </pre>
 * A device is {@code gpu}, {@code cpu} or {@code default} ({@link DjlRuntime#defaultDevice()}). Exits
 * with status 2 when a device failed (after measuring the others and writing the report).
 */
public final class GpuAdaptation {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private GpuAdaptation() {
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("--devices", "gpu,cpu");
        options.put("--gpu-batches", "1,4,16,64,256,1024,4096,16384");
        options.put("--cpu-batches", "1,4,16,64,256,1024,4096");
        options.put("--warmup-ms", "1000");
        options.put("--iterations", "3");
        options.put("--iteration-ms", "1000");
        options.put("--report", "gpu-adaptation.json");
        for (int i = 0; i < args.length; i += 2) {
            if (!options.containsKey(args[i]) || i + 1 >= args.length) {
                throw new IllegalArgumentException("unknown option or missing value: " + args[i] + "; known: "
                        + options.keySet());
            }
            options.put(args[i], args[i + 1]);
        }
        long warmupMs = Long.parseLong(options.get("--warmup-ms"));
        int iterations = Integer.parseInt(options.get("--iterations"));
        long iterationMs = Long.parseLong(options.get("--iteration-ms"));

        Engine engine = DjlRuntime.start(1);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("versions", DjlRuntime.versions());
        report.put("engineGpuCount", engine.getGpuCount());
        report.put("defaultDevice", DjlRuntime.defaultDevice().toString());
        report.put("libtorchThreads", Integer.getInteger("ai.djl.pytorch.num_threads", 1));
        report.put("options", options);
        System.out.println("engine " + engine.getEngineName() + " " + engine.getVersion() + ", GPUs seen by the engine: "
                + engine.getGpuCount() + ", DjlRuntime.defaultDevice(): " + DjlRuntime.defaultDevice());

        long trainStart = System.nanoTime();
        BaseModel base = Workloads.base();
        report.put("baseTrainingSeconds", (System.nanoTime() - trainStart) / 1e9);
        report.put("base", base.toString());
        // For adaptation_reference.py, which then adapts from the same point in parameter space.
        report.put("baseParameters", base.parameters());

        List<Map<String, Object>> results = new ArrayList<>();
        int failed = 0;
        for (String name : options.get("--devices").split(",")) {
            Device device = switch (name) {
                case "gpu" -> Device.gpu();
                case "cpu" -> Device.cpu();
                case "default" -> DjlRuntime.defaultDevice();
                default -> throw new IllegalArgumentException("unknown device " + name);
            };
            int[] sizes = Arrays.stream(options.get(device.isGpu() ? "--gpu-batches" : "--cpu-batches").split(","))
                    .mapToInt(Integer::parseInt).toArray();
            try (GradientLearner learner = new GradientLearner(device)) {
                measureDevice(learner, base, sizes, warmupMs, iterations, iterationMs, results);
            } catch (RuntimeException e) {
                // A device the engine cannot use (no CUDA build, no GPU) is reported, and the
                // others are still measured. libtorch's messages list every dispatch key: cut.
                String error = e.toString().substring(0, Math.min(e.toString().length(), 1500));
                System.out.println(name + ": failed: " + error);
                results.add(Map.of("device", name, "error", error));
                failed++;
            }
        }
        report.put("results", results);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValue(Path.of(options.get("--report")).toFile(), report);
        if (failed > 0) {
            System.exit(2);
        }
    }

    /** The plain-Java check, then one row per batch size, appended to {@code results}. */
    private static void measureDevice(GradientLearner learner, BaseModel base, int[] sizes, long warmupMs,
            int iterations, long iterationMs, List<Map<String, Object>> results) {
        Map<String, Object> check = new LinkedHashMap<>();
        check.put("device", learner.device());
        try {
            float worst = Equivalence.check(learner, base, Workloads.supports(Workloads.POOL));
            check.put("matchesPlainJava", true);
            check.put("maxAbsParameterDiff", worst);
        } catch (RuntimeException e) {
            check.put("matchesPlainJava", false);
            check.put("error", e.toString());
            results.add(check);
            throw new IllegalStateException(learner.device() + " does not match plain Java, not timed: " + e, e);
        }
        System.out.println(learner.device() + ": matches plain Java, max |diff| " + check.get("maxAbsParameterDiff"));
        results.add(check);
        for (int size : sizes) {
            Map<String, Object> row = measure(learner, base, size, warmupMs, iterations, iterationMs);
            System.out.printf("%s batch %6d: %,12.0f tasks/s (min %,.0f, max %,.0f), %,.0f tasks per CPU-s of"
                    + " the calling thread%n", learner.device(), size, row.get("tasksPerSecond"),
                    row.get("minTasksPerSecond"), row.get("maxTasksPerSecond"), row.get("tasksPerCpuSecond"));
            results.add(row);
        }
    }

    /**
     * Adapts a pool of {@code max(POOL, size)} tasks in calls of {@code size} over and over: first for
     * {@code warmupMs}, then for {@code iterations} timed stretches of at least {@code iterationMs}
     * (whole passes over the pool), each giving one tasks/s figure.
     */
    private static Map<String, Object> measure(GradientLearner learner, BaseModel base, int size, long warmupMs,
            int iterations, long iterationMs) {
        List<List<SampleSet>> batches = Workloads.batches(Workloads.supports(Math.max(Workloads.POOL, size)), size);
        int pool = batches.stream().mapToInt(List::size).sum();
        long until = System.nanoTime() + warmupMs * 1_000_000;
        do {
            pass(learner, base, batches);
        } while (System.nanoTime() < until);
        double[] rates = new double[iterations];
        long tasks = 0;
        long cpu = 0;
        long wall = 0;
        for (int i = 0; i < iterations; i++) {
            long done = 0;
            long cpuStart = THREADS.getCurrentThreadCpuTime();
            long start = System.nanoTime();
            long end;
            do {
                pass(learner, base, batches);
                done += pool;
                end = System.nanoTime();
            } while (end - start < iterationMs * 1_000_000);
            cpu += THREADS.getCurrentThreadCpuTime() - cpuStart;
            wall += end - start;
            tasks += done;
            rates[i] = done * 1e9 / (end - start);
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("device", learner.device());
        row.put("batchSize", size);
        row.put("tasksPerSecond", tasks * 1e9 / wall);
        row.put("minTasksPerSecond", Arrays.stream(rates).min().orElse(0));
        row.put("maxTasksPerSecond", Arrays.stream(rates).max().orElse(0));
        row.put("iterations", rates);
        row.put("microsPerCall", wall / 1e3 / (tasks / (double) size));
        row.put("tasksPerCpuSecond", cpu == 0 ? 0 : tasks * 1e9 / cpu);
        return row;
    }

    private static void pass(GradientLearner learner, BaseModel base, List<List<SampleSet>> batches) {
        for (List<SampleSet> batch : batches) {
            if (learner.adapt(base, batch).tasks().size() != batch.size()) {
                throw new IllegalStateException("adapt returned the wrong number of tasks");
            }
        }
    }
}

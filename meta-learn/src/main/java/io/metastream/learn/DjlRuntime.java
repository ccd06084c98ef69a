package io.metastream.learn;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.pytorch.jni.JniUtils;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The one place that starts the PyTorch engine. Thread counts must be set before the engine loads
 * (libtorch reads them once), and on a 2-core machine shared with Kafka Streams the intra-op pool
 * must not claim every core.
 */
public final class DjlRuntime {
    /** Intra-op threads the engine was started with; 0 until {@link #start} has run. */
    private static volatile int startedIntraOpThreads;
    /** Whether the calling thread's libtorch thread count has been set. */
    private static final ThreadLocal<Boolean> THREAD_CONFIGURED = ThreadLocal.withInitial(() -> false);

    private DjlRuntime() {
    }

    /**
     * Sets libtorch's intra-op and inter-op thread counts unless the user already set them, then
     * loads the engine. Safe to call more than once; only the first call can change the threads.
     */
    public static synchronized Engine start(int intraOpThreads) {
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(Math.max(1, intraOpThreads)));
        }
        if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
        Engine engine;
        try {
            engine = Engine.getEngine("PyTorch");
        } catch (EngineException e) {
            // The libraries bring no native libtorch (the application picks CPU or CUDA), so the
            // likely cause is that none was picked; DJL's own message does not say so.
            throw new EngineException("the PyTorch engine did not start (" + e.getMessage() + "). The application"
                    + " provides libtorch: ai.djl.pytorch:pytorch-native-cpu with its platform's classifier on the"
                    + " class path, a libtorch directory in PYTORCH_LIBRARY_PATH, or DJL's download with"
                    + " -Dai.djl.offline=false", e);
        }
        if (startedIntraOpThreads == 0) {
            startedIntraOpThreads = Math.max(1, Integer.getInteger("ai.djl.pytorch.num_threads", 1));
        }
        return engine;
    }

    /**
     * Gives the calling thread the intra-op thread count the engine was started with. libtorch's
     * CPU build keeps that count per OS thread (OpenMP), and the engine sets it only in the thread
     * that loads it; any other thread, a Kafka Streams stream thread for one, otherwise runs its ops
     * on OpenMP's default of one thread per core. On a busy 2-core machine that made a one-task
     * adaptation in such a thread take 20 to several hundred times longer (docs/BENCHMARKS.md). One
     * native call per thread, then a thread-local check; does nothing before {@link #start}.
     */
    static void configureCurrentThread() {
        int threads = startedIntraOpThreads;
        if (threads > 0 && !THREAD_CONFIGURED.get()) {
            JniUtils.setNumThreads(threads);
            THREAD_CONFIGURED.set(true);
        }
    }

    /**
     * The intra-op threads libtorch runs a pipeline thread's ops with, as libtorch itself reports
     * them ({@code get_num_threads}) for the calling thread once it is configured as
     * {@link #configureCurrentThread} configures every thread that runs a learner; 0 before
     * {@link #start}.
     */
    public static int intraOpThreads() {
        if (startedIntraOpThreads == 0) {
            return 0;
        }
        configureCurrentThread();
        return JniUtils.getNumThreads();
    }

    /** A GPU when the engine sees one (a CUDA libtorch via PYTORCH_LIBRARY_PATH), else the CPU. */
    public static Device defaultDevice() {
        Engine engine = start(1);
        return engine.getGpuCount() > 0 ? Device.gpu() : Device.cpu();
    }

    /**
     * The device a name stands for, so that code above this module (the library's API, a command
     * line, a configuration value) can name a device without DJL types: {@code "cpu"}, {@code "gpu"}
     * (the first GPU) or {@code "gpu:N"}. A GPU is checked against the GPUs the engine sees, so a
     * wrong name fails here rather than at the first tensor.
     *
     * @throws IllegalArgumentException if the name is none of those, or names a GPU the engine does
     *     not see
     */
    public static Device device(String name) {
        String n = Objects.requireNonNull(name, "device").trim().toLowerCase(Locale.ROOT);
        if (n.equals("cpu")) {
            return Device.cpu();
        }
        int gpu;
        if (n.equals("gpu")) {
            gpu = 0;
        } else if (n.startsWith("gpu:") && n.length() > 4 && n.substring(4).chars().allMatch(Character::isDigit)
                && n.length() <= 13) {
            gpu = Integer.parseInt(n.substring(4));
        } else {
            throw new IllegalArgumentException("device '" + name + "': expected cpu, gpu or gpu:N");
        }
        int seen = start(1).getGpuCount();
        if (gpu >= seen) {
            throw new IllegalArgumentException("device '" + name + "': the engine sees " + seen + " GPU"
                    + (seen == 1 ? "" : "s") + " (a CUDA libtorch comes through PYTORCH_LIBRARY_PATH)");
        }
        return Device.gpu(gpu);
    }

    /** Library versions for provenance, metastream's own first. */
    public static Map<String, String> versions() {
        Engine engine = start(1);
        Map<String, String> v = new LinkedHashMap<>();
        v.put("metastream", MetastreamVersion.get());
        v.put("djl", Engine.getDjlVersion());
        v.put("engine", engine.getEngineName() + " " + engine.getVersion());
        v.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        v.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        return v;
    }
}

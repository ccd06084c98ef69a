package io.metastream.learn;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one place that starts the PyTorch engine. Thread counts must be set before the engine loads
 * (libtorch reads them once), and on a 2-core machine shared with Kafka Streams the intra-op pool
 * must not claim every core.
 */
public final class DjlRuntime {
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
        return Engine.getEngine("PyTorch");
    }

    /** A GPU when the engine sees one (a CUDA libtorch via PYTORCH_LIBRARY_PATH), else the CPU. */
    public static Device defaultDevice() {
        Engine engine = start(1);
        return engine.getGpuCount() > 0 ? Device.gpu() : Device.cpu();
    }

    /** Library versions for provenance. */
    public static Map<String, String> versions() {
        Engine engine = start(1);
        Map<String, String> v = new LinkedHashMap<>();
        v.put("djl", Engine.getDjlVersion());
        v.put("engine", engine.getEngineName() + " " + engine.getVersion());
        v.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        v.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        return v;
    }
}

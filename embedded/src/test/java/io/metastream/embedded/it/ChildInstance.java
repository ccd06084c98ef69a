package io.metastream.embedded.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A metastream instance in its own JVM ({@code run --config}), so that a test can kill it the way
 * a machine dies: SIGKILL, no shutdown hook, no clean close. Another main of the tests (a broker,
 * {@link BrokerMain}) runs the same way, and either can run on another host ({@link NetworkHosts}).
 */
final class ChildInstance {
    private final Process process;
    private final Path log;

    private ChildInstance(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** Starts an instance as {@code run} does, with these settings, and waits until it reports RUNNING. */
    static ChildInstance start(Path dir, String name, Map<String, String> settings) throws IOException {
        return start(dir, name, settings, "768m");
    }

    /** As {@link #start(Path, String, Map)}, with {@code -Xmx<heap>}. */
    static ChildInstance start(Path dir, String name, Map<String, String> settings, String heap) throws IOException {
        return start(dir, name, settings, heap, List.of());
    }

    /**
     * As {@link #start(Path, String, Map, String)}, with the {@code java} command run by
     * {@code launcher} (e.g. {@code ip netns exec NS}, to run it on another host; empty for none).
     */
    static ChildInstance start(Path dir, String name, Map<String, String> settings, String heap,
            List<String> launcher) throws IOException {
        Path config = dir.resolve(name + ".properties");
        Files.writeString(config, settings.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .collect(Collectors.joining("\n")));
        return startMain(dir, name, launcher, heap, ChildMain.class, List.of(config.toString()), "running;");
    }

    /**
     * Starts {@code main} with {@code args} in a JVM of its own on the test class path, run by
     * {@code launcher}, and waits until its output contains {@code ready}.
     */
    static ChildInstance startMain(Path dir, String name, List<String> launcher, String heap, Class<?> main,
            List<String> args, String ready) throws IOException {
        Path log = dir.resolve(name + "-" + System.nanoTime() + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(launcher);
        command.addAll(List.of(java, "-Xmx" + heap, "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), main.getName()));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ChildInstance child = new ChildInstance(p, log);
        try {
            StreamingFixture.await(Duration.ofSeconds(90), name + " to start (log " + log + ")",
                    () -> child.output().contains(ready) || !p.isAlive());
        } catch (AssertionError e) {
            p.destroyForcibly();
            throw e;
        }
        if (!p.isAlive()) {
            throw new AssertionError(name + " exited at start:\n" + child.output());
        }
        return child;
    }

    String output() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** SIGKILL, and wait for the process to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM; returns the exit code, or -1 if it did not exit within {@code timeout}. */
    int terminate(Duration timeout) throws InterruptedException {
        process.destroy();
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    boolean isAlive() {
        return process.isAlive();
    }
}

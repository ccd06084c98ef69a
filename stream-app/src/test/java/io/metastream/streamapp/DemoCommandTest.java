package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.streamapp.demo.DemoReport;
import io.metastream.streamapp.demo.DriftDemo;
import io.metastream.streamapp.demo.JsonReports;
import io.metastream.streamapp.demo.OmniglotDemo;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code demo} as a user runs it: every scenario takes the common options and writes its report. */
class DemoCommandTest {
    @TempDir
    Path dir;

    /**
     * In a JVM of its own: libtorch takes its thread count once per JVM, and another test of this
     * module may have started the engine already.
     */
    @Test
    @Tag("embedded-broker")
    void shouldRunTheSinusoidDemoOnTheLibtorchThreadsThatDjlThreadsSets() throws Exception {
        Path report = dir.resolve("report.json");
        Path log = dir.resolve("demo.log");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx1g", "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                MetastreamCommand.class.getName(), "demo", "--tasks", "4", "--shots", "3", "--queries", "1",
                "--rate", "200", "--bad-fraction", "0", "--train-iterations", "20", "--data-dir",
                dir.resolve("data").toString(), "--set", "djl.threads=2", "--report", report.toString()));
        Process demo = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean exited = demo.waitFor(5, TimeUnit.MINUTES);
        if (!exited) {
            demo.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);

        assertThat(exited).as(output).isTrue();
        assertThat(demo.exitValue()).as(output).isZero();
        DemoReport written = DemoReport.read(report);
        assertThat(written.djlThreads()).as("libtorch's own thread count on a pipeline thread").isEqualTo(2);
        assertThat(written.tasks()).isEqualTo(4);
        assertThat(written.predictions()).isEqualTo(4);
        assertThat(output).contains("2 libtorch thread(s)");
    }

    @Test
    @Tag("embedded-broker")
    void shouldSendTheDriftUsersOfTasksAndWriteTheDriftReport() throws IOException {
        Path report = dir.resolve("drift.json");
        // 40 users (4 a round) and short training runs, so that every round still gets a decision.
        int exit = MetastreamCommand.commandLine().execute("demo", "--scenario", "drift", "--tasks", "40",
                "--rate", "2000", "--train-iterations", "50", "--partitions", "2", "--report", report.toString(),
                "--set", "meta.train.iterations=20", "--set", "meta.train.held.out.tasks=8",
                "--set", "meta.train.min.held.out.tasks=4");

        assertThat(exit).as("1 when nothing was promoted, 0 when something was").isIn(0, 1);
        assertThat(report).exists();
        DriftDemo.Report written = DriftDemo.Report.read(report);
        assertThat(written.users()).isEqualTo(40);
        assertThat(written.rounds()).isEqualTo(DriftDemo.ROUNDS);
        assertThat(written.predictions()).as("a query before each of the first 11 samples of every user")
                .isEqualTo(40 * 11);
        assertThat(written.decisions()).isNotEmpty();
    }

    /**
     * The few-shot scenario as a fresh clone runs it, smaller: a protonet trained on the bundled
     * data on first run, 5-way 1-shot episodes of the held-out alphabets through the stream, and the
     * same episodes scored offline. The stream must answer every query once and agree with offline.
     */
    @Test
    @Tag("embedded-broker")
    void shouldAnswerEveryOmniglotQueryOnceAndMatchTheOfflineAccuracy() throws IOException {
        Path report = dir.resolve("omniglot.json");
        int exit = MetastreamCommand.commandLine().execute("demo", "--scenario", "omniglot", "--tasks", "24",
                "--ways", "5", "--shots", "1", "--queries", "3", "--rate", "2000", "--train-iterations", "30",
                "--partitions", "2", "--data-dir", dir.resolve("data").toString(), "--report", report.toString());

        OmniglotDemo.Report written = JsonReports.read(report, OmniglotDemo.Report.class);
        assertThat(written.tasks()).isEqualTo(24);
        assertThat(written.ways()).isEqualTo(5);
        assertThat(written.shots()).isEqualTo(1);
        assertThat(written.predictions()).isEqualTo(24 * 5 * 3);
        assertThat(written.missingPredictions()).isZero();
        assertThat(written.duplicatePredictions()).isZero();
        assertThat(written.predictionsAdapted()).isEqualTo(24 * 5 * 3);
        assertThat(written.deadLetters()).isZero();
        assertThat(Math.abs(written.accuracyStream() - written.accuracyOffline())).as("stream vs offline")
                .isLessThanOrEqualTo(0.01);
        // 30 training episodes already beat chance (20%) by far on 5-way tasks.
        assertThat(written.accuracyOffline()).isGreaterThan(0.4);
        assertThat(exit).isZero();
    }

    @Test
    void shouldRefuseAnOptionThatTheScenarioDoesNotTake() {
        StringWriter err = new StringWriter();
        CommandLine cli = MetastreamCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));

        int exit = cli.execute("demo", "--scenario", "drift", "--swap");

        assertThat(exit).isEqualTo(1);
        assertThat(err.toString()).contains("--swap applies to the sinusoid scenario, not to drift");
    }
}

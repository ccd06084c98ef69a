package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's help renders cleanly: picocli prints a warning to standard error, and the raw
 * text, when a description has a stray {@code %} (it formats descriptions like printf).
 */
class HelpTest {
    @Test
    void everyCommandsHelpRendersWithoutAFormatWarning() {
        CommandLine root = new CommandLine(new MetastreamCommand());
        assertThat(root.getSubcommands()).containsKeys("eval", "train", "demo", "replay");
        PrintStream previous = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            for (String name : root.getSubcommands().keySet()) {
                StringWriter out = new StringWriter();
                CommandLine cli = new CommandLine(new MetastreamCommand());
                cli.setOut(new PrintWriter(out));
                assertThat(cli.execute(name, "--help")).as(name).isZero();
                assertThat(out.toString()).as(name).contains("Usage: metastream " + name);
            }
        } finally {
            System.setErr(previous);
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
    }
}

package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
        assertThat(root.getSubcommands().get("train").getSubcommands())
                .containsOnlyKeys("sinusoid", "movielens", "omniglot", "records");
        assertThat(root.getSubcommands().get("eval").getSubcommands())
                .containsOnlyKeys("sinusoid", "movielens", "omniglot");
        PrintStream previous = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            for (List<String> command : commands(root, new ArrayList<>())) {
                String help = help(command);
                assertThat(help).as(command.toString()).contains("Usage: metastream " + String.join(" ", command))
                        // A family's help holds that family's options only.
                        .doesNotContainPattern("\\w only:").doesNotContain("${");
            }
        } finally {
            System.setErr(previous);
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
    }

    @Test
    void shouldShowEachTrainingFamilyItsOwnOptionsAndLearnersOnly() {
        assertThat(help(List.of("train", "sinusoid"))).contains("--learner", "task-encoder", "anil-ridge",
                "--embedding-dim", "--inner-steps", "--store", "--promote").doesNotContain("--data", "--ways",
                "--hidden", "--target", "protonet", "--out=", "--algorithm");
        assertThat(help(List.of("train", "movielens"))).contains("--data", "--target", "--support-prior",
                "--inner-steps", "--protocol", "--split-seed", "--embedding-dim", "task-encoder", "anil-ridge")
                .doesNotContain("--ways", "--hidden", "protonet");
        assertThat(help(List.of("train", "omniglot"))).contains("--ways", "--test-alphabets", "--store", "--learner",
                "protonet, anil, maml, fomaml, metasgd", "--loss", "cross-entropy", "--hidden", "--inner-steps")
                .doesNotContain("--target", "anil-ridge", "task-encoder", "--algorithm");
        assertThat(help(List.of("train", "records"))).contains("--hidden", "--held-out", "--topic",
                "--bootstrap-server", "--loss").doesNotContain("--ways", "--target", "anil-ridge", "task-encoder");
        assertThat(help(List.of("eval", "movielens"))).contains("--data", "--target", "--report", "--protocol",
                "--round-to-stars")
                .doesNotContain("--ways", "--steps", "--shots");
    }

    @Test
    void shouldPrintThePomsProjectVersion() {
        String pom = System.getProperty("metastream.project.version");
        assertThat(pom).as("system property metastream.project.version, set by surefire").isNotBlank();
        StringWriter out = new StringWriter();
        CommandLine cli = MetastreamCommand.commandLine();
        cli.setOut(new PrintWriter(out));
        assertThat(cli.execute("--version")).isZero();
        assertThat(out.toString().strip()).isEqualTo("metastream " + pom);
    }

    private static List<List<String>> commands(CommandLine parent, List<String> prefix) {
        List<List<String>> all = new ArrayList<>();
        parent.getSubcommands().forEach((name, sub) -> {
            List<String> command = new ArrayList<>(prefix);
            command.add(name);
            all.add(command);
            all.addAll(commands(sub, command));
        });
        return all;
    }

    private static String help(List<String> command) {
        StringWriter out = new StringWriter();
        CommandLine cli = new CommandLine(new MetastreamCommand());
        cli.setOut(new PrintWriter(out));
        List<String> args = new ArrayList<>(command);
        args.add("--help");
        assertThat(cli.execute(args.toArray(String[]::new))).as(command.toString()).isZero();
        return out.toString();
    }
}

package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metastream.learn.LearnerKind;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code train} and {@code eval} take the task family as a subcommand; the spellings from before
 * (the family in {@code --dataset}, sinusoid by default) still run, with a note. Every case here
 * fails fast, before any training, so that the routing is what is tested.
 */
class FamilyCommandsTest {
    @TempDir
    Path dir;

    private final StringWriter err = new StringWriter();

    private CommandLine cli() {
        CommandLine cli = MetastreamCommand.commandLine();
        cli.setOut(new PrintWriter(new StringWriter()));
        cli.setErr(new PrintWriter(err, true));
        return cli;
    }

    @Test
    void shouldAnswerAFamilylessTrainWithAUsageErrorThatListsTheFamilies() {
        assertThat(cli().execute("train")).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required subcommand").contains("sinusoid", "movielens",
                "omniglot", "records");
    }

    @Test
    void shouldNameTheKnownLearnersForAnUnknownOne() {
        assertThat(cli().execute("train", "sinusoid", "--learner", "mamll")).isEqualTo(2);
        assertThat(err.toString()).contains("unknown learner 'mamll'").contains("maml", "task-encoder");
    }

    @Test
    void shouldRefuseALearnerTheFamilyCannotTrain() {
        assertThat(cli().execute("train", "records", "--learner", "task-encoder")).isEqualTo(2);
        assertThat(err.toString()).contains("task-encoder is not a learner").contains("reptile");
        assertThat(cli().execute("train", "omniglot", "--learner", "reptile")).isEqualTo(2);
        assertThat(err.toString()).contains("omniglot trains protonet, anil, maml, fomaml, metasgd, not reptile");
    }

    @Test
    void shouldRunTheOldDatasetSpellingAsItsFamilyWithANote() {
        Path missing = dir.resolve("none.csv");
        assertThat(cli().execute("train", "--out", dir.toString(), "--dataset", "records", "--data",
                missing.toString(), "--algorithm", "fomaml")).isEqualTo(1);
        assertThat(err.toString()).contains("note: this is `train records ...` now").contains("none.csv");
    }

    @Test
    void shouldRunOptionsWithoutAFamilyAsSinusoidTheOldDefault() {
        assertThat(cli().execute("train", "--algorithm", "maml", "--iterations", "0", "--out", dir.toString()))
                .isEqualTo(1);
        assertThat(err.toString()).contains("note: this is `train sinusoid ...` now")
                .contains("iterations, metaBatch, shots and queryShots must be positive");
        assertThat(cli().execute("eval", "--model", dir.toString(), "--tasks", "1")).isEqualTo(1);
        assertThat(err.toString()).contains("note: this is `eval sinusoid ...` now").contains("--tasks must be >= 2");
    }

    /** The whole old spelling end to end: the family, the store and the learner all arrive. */
    @Test
    void shouldTrainTheLearnerAnOldSinusoidCommandLineNamesIntoItsStore() throws IOException {
        assertThat(cli().execute("train", "--algorithm", "fomaml", "--iterations", "3", "--out", dir.toString(),
                "--name", "old")).isZero();
        JsonNode manifest = new ObjectMapper().readTree(dir.resolve("old/1/manifest.json").toFile());
        assertThat(manifest.get("learner").asText()).isEqualTo("fomaml");
        assertThat(dir.resolve("_runs/old-v1/training-log.json")).exists();
    }

    @Test
    void shouldKeepTheOldOptionNamesAsHiddenAliases() {
        CommandLine train = new CommandLine(new MetastreamCommand());
        SinusoidTrain sinusoid = train.parseArgs("train", "sinusoid", "--out", "old-store", "--algorithm", "maml")
                .subcommand().subcommand().commandSpec().commandLine().getCommand();
        assertThat(sinusoid.publish.store()).isEqualTo(Path.of("old-store"));
        assertThat(sinusoid.algorithm).isEqualTo(LearnerKind.MAML);
        CommandLine eval = new CommandLine(new MetastreamCommand());
        SinusoidEval scored = eval.parseArgs("eval", "sinusoid", "--model", "old-store").subcommand().subcommand()
                .commandSpec().commandLine().getCommand();
        assertThat(scored.options.store()).isEqualTo(Path.of("old-store"));
        CommandLine fresh = new CommandLine(new MetastreamCommand());
        SinusoidTrain defaults = fresh.parseArgs("train", "sinusoid").subcommand().subcommand().commandSpec()
                .commandLine().getCommand();
        assertThat(defaults.publish.store()).isEqualTo(Path.of("metastream-data/models"));
        assertThat(defaults.learner).isEqualTo(LearnerKind.REPTILE);
    }

    @Test
    void shouldRewriteOnlyTheOldSpellings() {
        CommandLine root = new CommandLine(new MetastreamCommand());
        assertThat(FamilyDefault.rewrite(root, List.of("train", "--dataset=omniglot", "--ways", "5")))
                .contains(List.of("train", "omniglot", "--ways", "5"));
        assertThat(FamilyDefault.rewrite(root, List.of("eval", "--ref", "x@1")))
                .contains(List.of("eval", "sinusoid", "--ref", "x@1"));
        assertThat(FamilyDefault.rewrite(root, List.of("train", "records", "--bogus"))).isEmpty();
        assertThat(FamilyDefault.rewrite(root, List.of("train", "--dataset", "cifar"))).isEmpty();
        assertThat(FamilyDefault.rewrite(root, List.of("train", "sinusiod"))).isEqualTo(Optional.empty());
        assertThat(FamilyDefault.rewrite(root, List.of("models", "--dataset", "x"))).isEmpty();
    }
}

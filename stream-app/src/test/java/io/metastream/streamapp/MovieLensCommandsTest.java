package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metastream.data.movielens.ColdStartData;
import io.metastream.data.movielens.ColdStartEvaluation;
import io.metastream.data.movielens.RatingTarget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The recommendation workflow as a user runs it: synthesize, train, eval, each a command. */
class MovieLensCommandsTest {
    @TempDir
    Path dir;

    /** The help is where a new user reads the default recipe: it must be the one `train` runs. */
    @Test
    void theHelpDescribesTheDefaultRecipe() {
        String help = String.join(" ", MovieLensTrain.class.getAnnotation(CommandLine.Command.class).description());
        ColdStartData.Recipe recipe = ColdStartData.defaultRecipe(RatingTarget.RATING);
        assertThat(recipe.learner().id()).isEqualTo("task-encoder");
        assertThat(help).contains("a task encoder (an embedding of " + recipe.embeddingDim() + " ")
                .contains("with a prior of " + Math.round(recipe.plan().adaptation().supportPrior()) + ",")
                .contains("decoder " + recipe.plan().architecture().spec())
                .contains(recipe.plan().iterations() + " iterations of " + recipe.plan().metaBatch() + " users")
                .contains("outer step size " + recipe.plan().outerStepSize() + " decaying linearly to "
                        + recipe.plan().finalOuterStepFraction() + " of it");
        ColdStartData.Recipe clicks = ColdStartData.defaultRecipe(RatingTarget.BINARY);
        assertThat(help).contains("(" + clicks.plan().iterations() + " of " + clicks.plan().metaBatch()
                + " for --target binary)");
        assertThat(recipe.nextQueryShare()).as("the help says every time-protocol episode asks the next ratings")
                .isEqualTo(1.0);
    }

    @Test
    void shouldTrainOnAFolderAndReportEveryMethodAndRefuseOtherData() throws IOException {
        Path data = dir.resolve("ml");
        Path models = dir.resolve("models");
        CommandLine cli = new CommandLine(new MetastreamCommand());
        assertThat(cli.execute("synthesize", "--out", data.toString(), "--users", "200", "--items", "150")).isZero();
        assertThat(data.resolve("u.data")).exists();
        assertThat(cli.execute("train", "movielens", "--data", data.toString(), "--store",
                models.toString(), "--iterations", "200", "--promote", "production")).isZero();
        assertThat(models.resolve("_runs/movielens-v1/learning-curve.png")).exists();
        JsonNode log = new ObjectMapper().readTree(models.resolve("_runs/movielens-v1/training-log.json").toFile());
        assertThat(log.get("provenance").get("data_fingerprint").asText()).hasSize(16);
        // The default recipe: a task encoder over the item statistics, its pooling shrunk by 5 ratings.
        assertThat(log.get("algorithm").asText()).isEqualTo("task-encoder");
        assertThat(log.get("provenance").get("support_prior").asDouble()).isEqualTo(5.0);
        assertThat(log.get("provenance").get("feature_set").asText()).isEqualTo("item-statistics");
        assertThat(log.get("provenance").get("loss").asText()).isEqualTo("mae");

        Path report = dir.resolve("eval.json");
        assertThat(cli.execute("eval", "movielens", "--data", data.toString(), "--store",
                models.toString(), "--report", report.toString())).isZero();
        JsonNode r = new ObjectMapper().readTree(report.toFile());
        assertThat(r.get("metric").asText()).isEqualTo("mae");
        assertThat(r.get("tasks").asInt()).isEqualTo(r.get("methods").get("global_mean").get("mae").get("n").asInt());
        JsonNode methods = r.get("methods");
        for (ColdStartEvaluation.Method m : ColdStartEvaluation.Method.values()) {
            assertThat(methods.get(m.id())).as(m.id()).isNotNull();
        }
        assertThat(r.get("mean").asDouble()).as("the headline is the adapted model's MAE")
                .isEqualTo(methods.get("meta_adapted").get("mae").get("mean").asDouble());
        assertThat(r.get("ci95").asDouble()).isPositive();
        // The synthetic users have tastes and the items have qualities: using them must show.
        assertThat(methods.get("meta_adapted").get("mae").get("mean").asDouble())
                .isLessThan(methods.get("global_mean").get("mae").get("mean").asDouble());
        assertThat(methods.get("matrix_factorisation").get("rmse").get("mean").asDouble())
                .isLessThan(methods.get("global_mean").get("rmse").get("mean").asDouble());
        assertThat(methods.get("item_mean").get("ndcg3").get("mean").asDouble())
                .as("ranking by item quality beats a constant").isGreaterThan(
                        methods.get("global_mean").get("ndcg3").get("mean").asDouble());
        assertThat(r.get("mae_by_support").get("0").get("meta_adapted").get("mean").asDouble())
                .isEqualTo(r.get("mae_by_support").get("0").get("base_unadapted").get("mean").asDouble());

        // The model carries its data's fingerprint: other data is refused, with a way out.
        Path other = dir.resolve("other");
        assertThat(cli.execute("synthesize", "--out", other.toString(), "--users", "200", "--items", "150",
                "--seed", "2")).isZero();
        java.io.StringWriter err = errorsOf(cli);
        assertThat(cli.execute("eval", "movielens", "--data", other.toString(), "--store",
                models.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("train movielens");
        assertThat(Files.exists(dir.resolve("other/u.data"))).isTrue();
    }

    /**
     * The click variant end to end as a user runs it: a logistic base (its manifest says so) that
     * eval scores by AUC and log-loss, better than the global positive rate; eval refuses the
     * wrong feature set with the option that fixes it.
     */
    @Test
    void shouldTrainAndScoreTheBinaryTargetAndRefuseAnotherFeatureSet() throws IOException {
        Path data = dir.resolve("ml");
        Path models = dir.resolve("models");
        CommandLine cli = new CommandLine(new MetastreamCommand());
        assertThat(cli.execute("synthesize", "--out", data.toString(), "--users", "200", "--items", "150")).isZero();
        assertThat(cli.execute("train", "movielens", "--data", data.toString(), "--store",
                models.toString(), "--target", "binary", "--features", "all", "--learner", "anil",
                "--inner-steps", "2", "--iterations", "300", "--outer-step-size", "0.005")).isZero();
        JsonNode manifest = new ObjectMapper().readTree(models.resolve("movielens-binary/1/manifest.json").toFile());
        assertThat(manifest.toString()).contains("\"loss\":\"logistic\"");
        assertThat(manifest.get("provenance").get("target").asText()).isEqualTo("binary");
        assertThat(manifest.get("provenance").get("feature_set").asText()).isEqualTo("all");

        Path report = dir.resolve("eval.json");
        assertThat(cli.execute("eval", "movielens", "--data", data.toString(), "--store",
                models.toString(), "--target", "binary", "--features", "all", "--report",
                report.toString())).isZero();
        JsonNode r = new ObjectMapper().readTree(report.toFile());
        assertThat(r.get("metric").asText()).isEqualTo("auc");
        assertThat(r.get("methods").get("item_median")).as("no median of a click").isNull();
        double adapted = r.get("methods").get("meta_adapted").get("logloss").get("mean").asDouble();
        double global = r.get("methods").get("global_mean").get("logloss").get("mean").asDouble();
        assertThat(adapted).isLessThan(global);
        assertThat(r.get("adapted_minus_best_other").get("all").get("best_other").asText()).isNotEqualTo("meta_adapted");

        java.io.StringWriter err = errorsOf(cli);
        assertThat(cli.execute("eval", "movielens", "--data", data.toString(), "--store",
                models.toString(), "--target", "binary", "--ref", "movielens-binary@1")).isEqualTo(1);
        assertThat(err.toString()).contains("--features all");
    }

    /**
     * MeLU's random protocol as a user runs it: train and eval on the same seeded split, every
     * baseline scored on the same users; another split is refused with the options that select
     * the model's, since its meta-train users would be that split's cold ones.
     */
    @Test
    void shouldTrainAndEvalOnTheMeluSplitAndRefuseAnotherSplit() throws IOException {
        Path data = dir.resolve("ml");
        Path models = dir.resolve("models");
        CommandLine cli = new CommandLine(new MetastreamCommand());
        assertThat(cli.execute("synthesize", "--out", data.toString(), "--users", "200", "--items", "150")).isZero();
        assertThat(cli.execute("train", "movielens", "--data", data.toString(), "--store", models.toString(),
                "--protocol", "melu", "--split-seed", "3", "--iterations", "100")).isZero();
        JsonNode manifest = new ObjectMapper().readTree(models.resolve("movielens/1/manifest.json").toFile());
        assertThat(manifest.get("provenance").get("protocol_id").asText()).isEqualTo("melu:3");

        Path report = dir.resolve("eval.json");
        assertThat(cli.execute("eval", "movielens", "--data", data.toString(), "--store", models.toString(),
                "--protocol", "melu", "--split-seed", "3", "--report", report.toString())).isZero();
        JsonNode r = new ObjectMapper().readTree(report.toFile());
        assertThat(r.get("protocol_id").asText()).isEqualTo("melu:3");
        assertThat(r.get("protocol").asText()).contains("random");
        int users = r.get("tasks").asInt();
        for (ColdStartEvaluation.Method m : ColdStartEvaluation.Method.values()) {
            assertThat(r.get("methods").get(m.id()).get("mae").get("n").asInt()).as(m.id()).isEqualTo(users);
        }
        String best = r.get("adapted_minus_best_other").get("all").get("best_other").asText();
        assertThat(best).isNotIn("meta_adapted", "base_unadapted");

        java.io.StringWriter err = errorsOf(cli);
        assertThat(cli.execute("eval", "movielens", "--data", data.toString(), "--store", models.toString(),
                "--ref", "movielens@1")).isEqualTo(1);
        assertThat(err.toString()).contains("--protocol melu --split-seed 3");
        assertThat(cli.execute("eval", "movielens", "--data", data.toString(), "--store", models.toString(),
                "--protocol", "melu", "--split-seed", "4", "--ref", "movielens@1")).isEqualTo(1);
    }

    /** Makes {@code cli} print a failed command's message, as the jar's main does, and returns what it prints. */
    private static java.io.StringWriter errorsOf(CommandLine cli) {
        java.io.StringWriter err = new java.io.StringWriter();
        cli.setErr(new java.io.PrintWriter(err));
        cli.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("error: " + e.getMessage());
            return 1;
        });
        return err;
    }
}

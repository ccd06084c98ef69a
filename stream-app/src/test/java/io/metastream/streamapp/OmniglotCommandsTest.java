package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.SequentialBlock;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.learn.omniglot.ConvEmbedding;
import io.metastream.store.LocalDirectoryModelStore;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class OmniglotCommandsTest {
    @TempDir
    Path dir;

    /** A user folder in the full layout: one background and one evaluation alphabet of random strokes. */
    private Path omniglotFolder() throws IOException {
        Random random = new Random(9);
        Path data = dir.resolve("omniglot");
        for (String[] split : new String[][] {{"images_background", "Alpha", "6"}, {"images_evaluation", "Beta", "5"}}) {
            for (int c = 1; c <= Integer.parseInt(split[2]); c++) {
                int x = random.nextInt(80);
                int y = random.nextInt(80);
                for (int d = 1; d <= 20; d++) {
                    BufferedImage image = new BufferedImage(105, 105, BufferedImage.TYPE_BYTE_BINARY);
                    Graphics2D g = image.createGraphics();
                    g.setColor(Color.WHITE);
                    g.fillRect(0, 0, 105, 105);
                    g.setColor(Color.BLACK);
                    g.fillRect(x + random.nextInt(5), y + random.nextInt(5), 20, 8);
                    g.dispose();
                    Path png = data.resolve(split[0]).resolve(split[1]).resolve(String.format("character%02d", c))
                            .resolve(String.format("%04d_%02d.png", c, d));
                    Files.createDirectories(png.getParent());
                    ImageIO.write(image, "png", png.toFile());
                }
            }
        }
        return data;
    }

    @Test
    void shouldTrainOnAUserFolderAndEvaluateOnItsEvaluationAlphabets() throws IOException {
        Path data = omniglotFolder();
        Path models = dir.resolve("models");
        CommandLine cli = new CommandLine(new MetastreamCommand());
        int trained = cli.execute("train", "omniglot", "--data", data.toString(), "--store", models.toString(),
                "--ways", "5", "--iterations", "3");
        assertThat(trained).isZero();
        assertThat(models.resolve("_runs/omniglot-v1/learning-curve.png")).exists();
        assertThat(models.resolve("_runs/omniglot-v1/training-log.json")).exists();

        Path report = dir.resolve("report.json");
        int evaluated = cli.execute("eval", "omniglot", "--store", models.toString(), "--data",
                data.toString(), "--ways", "5", "--shots", "1", "--report", report.toString());
        assertThat(evaluated).isZero();
        JsonNode r = new ObjectMapper().readTree(report.toFile());
        assertThat(r.get("metric").asText()).isEqualTo("accuracy");
        assertThat(r.get("tasks").asInt()).isEqualTo(600);
        assertThat(r.get("mean").asDouble() - r.get("ci95").asDouble()).as("5-way accuracy above chance (0.2), "
                + "its 95% interval included").isGreaterThan(0.2);
        assertThat(r.get("ci95").asDouble()).isPositive();
        assertThat(r.get("test_alphabets").get(0).asText()).isEqualTo("Beta");
    }

    /**
     * An ANIL base with a softmax head: trained and published with loss cross-entropy in its
     * manifest, loaded back as a classifier, and scored by {@code eval omniglot} through adapt and
     * classify.
     */
    @Test
    void shouldTrainACrossEntropyAnilBaseThatLoadsAsAClassifierAndEvaluateIt() throws IOException {
        Path data = omniglotFolder();
        Path models = dir.resolve("models");
        CommandLine cli = MetastreamCommand.commandLine();
        int trained = cli.execute("train", "omniglot", "--learner", "anil", "--loss", "cross-entropy", "--data",
                data.toString(), "--store", models.toString(), "--ways", "5", "--hidden", "32,16", "--iterations",
                "20", "--meta-batch", "4", "--name", "glyphs");
        assertThat(trained).isZero();
        BaseModel base = BaseModelArtifacts.load(new LocalDirectoryModelStore(models), "glyphs", "1");
        assertThat(base.classifies()).isTrue();
        assertThat(base.maxClasses()).isEqualTo(5);
        assertThat(base.architecture().spec()).isEqualTo("784-32-16-5");
        assertThat(base.adaptation().loss()).isEqualTo(Loss.CROSS_ENTROPY);
        assertThat(base.hasStepSizes()).isTrue();
        JsonNode manifest = new ObjectMapper().readTree(models.resolve("glyphs/1/manifest.json").toFile());
        assertThat(manifest.at("/adaptation/loss").asText()).isEqualTo("cross-entropy");
        assertThat(manifest.at("/provenance/test_alphabets/0").asText()).isEqualTo("Beta");
        assertThat(manifest.at("/provenance/metrics/5way_1shot/accuracy").asDouble()).isBetween(0.0, 1.0);

        Path report = dir.resolve("anil.json");
        int evaluated = cli.execute("eval", "omniglot", "--store", models.toString(), "--ref", "glyphs", "--data",
                data.toString(), "--ways", "5", "--shots", "1", "--report", report.toString());
        assertThat(evaluated).isZero();
        JsonNode r = new ObjectMapper().readTree(report.toFile());
        assertThat(r.get("learner").asText()).isEqualTo("anil");
        assertThat(r.get("tasks").asInt()).isEqualTo(600);
        // The same seed draws the same 600 tasks as train's held-out score: the same figure.
        assertThat(r.get("mean").asDouble()).isEqualTo(manifest.at("/provenance/metrics/5way_1shot/accuracy")
                .asDouble());
        assertThat(r.get("mean").asDouble() - r.get("ci95").asDouble()).as("adapted 5-way accuracy above chance")
                .isGreaterThan(0.2);
        assertThat(r.get("unadapted_mean").asDouble()).isLessThan(r.get("mean").asDouble());

        // --steps overrides the inner loop: with none the adapted base is the base.
        Path none = dir.resolve("none.json");
        assertThat(cli.execute("eval", "omniglot", "--store", models.toString(), "--ref", "glyphs@1", "--data",
                data.toString(), "--ways", "5", "--steps", "0", "--tasks", "50", "--report", none.toString())).isZero();
        JsonNode n = new ObjectMapper().readTree(none.toFile());
        assertThat(n.get("inner_steps").asInt()).isZero();
        assertThat(n.get("mean").asDouble()).isEqualTo(n.get("unadapted_mean").asDouble());
        // The official runs through the same served learner: the MLP adapts its head on each run.
        Path runs = dir.resolve("runs");
        oneShotRun(runs, "run01");
        Path official = dir.resolve("anil-runs.json");
        assertThat(cli.execute("eval", "omniglot", "--official-runs", runs.toString(), "--store", models.toString(),
                "--ref", "glyphs", "--report", official.toString())).isZero();
        JsonNode o = new ObjectMapper().readTree(official.toFile());
        assertThat(o.get("learner").asText()).isEqualTo("anil");
        assertThat(o.get("runs").asInt()).isEqualTo(1);
        assertThat(o.get("inner_steps").asInt()).isEqualTo(base.adaptation().steps());
        assertThat(o.at("/per_run/run01").asDouble()).isBetween(0.0, 1.0);
    }

    @Test
    void shouldRefuseALossThatDoesNotFitTheLearner() {
        StringWriter err = new StringWriter();
        CommandLine cli = MetastreamCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        cli.setOut(new PrintWriter(new StringWriter()));
        assertThat(cli.execute("train", "omniglot", "--loss", "cross-entropy", "--store", dir.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("protonet takes no --loss");
        assertThat(cli.execute("train", "omniglot", "--learner", "maml", "--loss", "mse", "--store", dir.toString()))
                .isEqualTo(2);
        assertThat(err.toString()).contains("maml takes no --loss mse").contains("cross-entropy");
        assertThat(cli.execute("train", "omniglot", "--hidden", "64", "--store", dir.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("protonet takes no --hidden");
        assertThat(cli.execute("train", "omniglot", "--learner", "anil-ridge", "--store", dir.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("omniglot trains protonet, anil, maml, fomaml, metasgd, not anil-ridge");
        assertThat(dir.resolve("_runs")).doesNotExist();
    }

    /**
     * A run folder in Lake et al.'s published layout: three training drawings (bars at different
     * places) and three test drawings identical to them, paired with class03, class01 and class02
     * in class_labels.txt, named from the folder above the run as the published file names them.
     */
    private static void oneShotRun(Path parent, String name) throws IOException {
        Path run = parent.resolve(name);
        int[] classOfItem = {3, 1, 2};
        StringBuilder labels = new StringBuilder();
        for (int c = 1; c <= 3; c++) {
            ImageIO.write(bar(c), "png", file(run.resolve("training").resolve(String.format("class%02d.png", c))));
            ImageIO.write(bar(classOfItem[c - 1]), "png",
                    file(run.resolve("test").resolve(String.format("item%02d.png", c))));
            labels.append(String.format("%s/test/item%02d.png %s/training/class%02d.png%n", name, c, name,
                    classOfItem[c - 1]));
        }
        Files.writeString(run.resolve("class_labels.txt"), labels);
    }

    private static BufferedImage bar(int c) {
        BufferedImage image = new BufferedImage(105, 105, BufferedImage.TYPE_BYTE_BINARY);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 105, 105);
        g.setColor(Color.BLACK);
        g.fillRect(30 * c - 25, 10 * c, 12, 40);
        g.dispose();
        return image;
    }

    private static java.io.File file(Path png) throws IOException {
        Files.createDirectories(png.getParent());
        return png.toFile();
    }

    /** A conv-4 protonet trained by nobody: its embedding still maps a drawing to itself. */
    private static void publishProtoNet(Path models) {
        DjlRuntime.start(1);
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock block = ConvEmbedding.block();
            block.initialize(m, DataType.FLOAT32, ConvEmbedding.INPUT);
            BaseModelArtifacts.publishProtoNet(new LocalDirectoryModelStore(models), "omniglot",
                    ConvEmbedding.write(block), Map.of("test", true));
        }
    }

    @Test
    void shouldScoreTheOfficialOneShotRunsPerRunAndOverRuns() throws IOException {
        Path runs = dir.resolve("runs");
        oneShotRun(runs, "run01");
        oneShotRun(runs, "run02");
        Path models = dir.resolve("models");
        publishProtoNet(models);
        Path report = dir.resolve("runs.json");
        StringWriter out = new StringWriter();
        CommandLine cli = MetastreamCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        int evaluated = cli.execute("eval", "omniglot", "--official-runs", runs.toString(), "--store",
                models.toString(), "--ref", "omniglot@1", "--report", report.toString());
        assertThat(evaluated).isZero();
        JsonNode r = new ObjectMapper().readTree(report.toFile());
        assertThat(r.get("learner").asText()).isEqualTo("protonet");
        assertThat(r.get("runs").asInt()).isEqualTo(2);
        assertThat(r.get("ways").asInt()).isEqualTo(3);
        // Each query is its class's training drawing: at distance 0 from its prototype, whatever the embedding.
        assertThat(r.at("/per_run/run01").asDouble()).isEqualTo(1.0);
        assertThat(r.at("/per_run/run02").asDouble()).isEqualTo(1.0);
        assertThat(r.get("mean").asDouble()).isEqualTo(1.0);
        assertThat(r.get("ci95").asDouble()).isZero();
    }

    @Test
    void shouldRefuseDrawnTaskOptionsAndARegressionBaseWithTheOfficialRuns() throws IOException {
        Path runs = dir.resolve("runs");
        oneShotRun(runs, "run01");
        Path models = dir.resolve("models");
        StringWriter err = new StringWriter();
        CommandLine cli = MetastreamCommand.commandLine();
        cli.setErr(new PrintWriter(err, true));
        cli.setOut(new PrintWriter(new StringWriter()));
        assertThat(cli.execute("eval", "omniglot", "--official-runs", runs.toString(), "--ways", "20", "--store",
                models.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--official-runs takes no --ways");

        MlpArchitecture arch = new MlpArchitecture(new int[] {28 * 28, 4, 1});
        BaseModelArtifacts.publish(new LocalDirectoryModelStore(models), "sine", "reptile", arch,
                new float[arch.parameterCount()], new AdaptationSettings(5, 0.02f), Map.of());
        assertThat(cli.execute("eval", "omniglot", "--official-runs", runs.toString(), "--store", models.toString(),
                "--ref", "sine")).isNotZero();
        assertThat(err.toString()).contains("sine@1 (reptile) does not classify");

        MlpArchitecture pair = new MlpArchitecture(new int[] {28 * 28, 4, 2});
        BaseModelArtifacts.publish(new LocalDirectoryModelStore(models), "pair", "fomaml", pair,
                new float[pair.parameterCount()], new AdaptationSettings(1, 0.1f, 0f, Loss.CROSS_ENTROPY), Map.of());
        assertThat(cli.execute("eval", "omniglot", "--official-runs", runs.toString(), "--store", models.toString(),
                "--ref", "pair")).isNotZero();
        assertThat(err.toString()).contains("pair@1 classifies at most 2 classes; a run has 3");
    }
}

package io.metastream.streamapp;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.Loss;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.training.imports.SafetensorsFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A team's own data and weights through the command line: train on a CSV, import a PyTorch MLP. */
class OwnDataCommandsTest {
    @TempDir
    Path dir;

    @Test
    void shouldTrainOnTaskKeyedCsvRowsWithTheGivenArchitectureAndScoreHeldOutTasks() throws IOException {
        StringBuilder csv = new StringBuilder("task_id,target,a,b,c\n");
        Random r = new Random(3);
        for (int t = 0; t < 40; t++) {
            for (int i = 0; i < 12; i++) {
                csv.append("user-").append(t).append(',').append(r.nextInt(2)).append(',').append(r.nextFloat())
                        .append(',').append(r.nextFloat()).append(',').append(r.nextFloat()).append('\n');
            }
        }
        Path data = Files.writeString(dir.resolve("rows.csv"), csv);
        Path models = dir.resolve("models");
        CommandLine cli = new CommandLine(new MetastreamCommand());
        assertThat(cli.execute("train", "records", "--data", data.toString(), "--store", models.toString(),
                "--name", "mine", "--learner", "fomaml", "--hidden", "8,4", "--iterations", "30")).isZero();

        BaseModel base = BaseModelArtifacts.load(new LocalDirectoryModelStore(models), "mine", "1");
        assertThat(base.architecture().spec()).isEqualTo("3-8-4-1");
        assertThat(base.adaptation().loss()).as("0/1 targets train a logistic base").isEqualTo(Loss.LOGISTIC);
        JsonNode log = new ObjectMapper().readTree(models.resolve("_runs/mine-v1/training-log.json").toFile());
        JsonNode provenance = log.get("provenance");
        assertThat(provenance.get("held_out_tasks").asInt()).isEqualTo(8);
        assertThat(provenance.get("train_tasks").asInt()).isEqualTo(32);
        assertThat(provenance.get("metrics").get("loss").asText()).isEqualTo("logistic");
        assertThat(provenance.get("metrics").get("tasks_k5").asInt()).isEqualTo(8);
        assertThat(provenance.get("metrics").get("loss_adapted_k5").asDouble()).isPositive();

        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        assertThat(cli.execute("train", "records", "--data", dir.resolve("none.csv").toString(),
                "--store", models.toString(), "--iterations", "5")).isNotZero();
        assertThat(err.toString()).contains("none.csv");
    }

    /** An MLP saved from PyTorch (weights [out, in]), imported, stored, loaded and served. */
    @Test
    void shouldImportSafetensorsWeightsAsAStoredBaseThatPredictsLikeTheOriginal() throws IOException {
        Random r = new Random(5);
        int[] sizes = {4, 6, 1};
        List<SafetensorsFile.Tensor> tensors = new ArrayList<>();
        float[][][] weights = new float[2][][];
        float[][] biases = new float[2][];
        for (int l = 0; l < 2; l++) {
            int in = sizes[l];
            int out = sizes[l + 1];
            weights[l] = new float[out][in];
            biases[l] = new float[out];
            float[] flat = new float[out * in];
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    weights[l][o][i] = (float) r.nextGaussian();
                    flat[o * in + i] = weights[l][o][i];
                }
                biases[l][o] = (float) r.nextGaussian();
            }
            tensors.add(SafetensorsFile.Tensor.f32("net." + 2 * l + ".weight", new int[] {out, in}, flat));
            tensors.add(SafetensorsFile.Tensor.f32("net." + 2 * l + ".bias", new int[] {out}, biases[l]));
        }
        Path file = dir.resolve("mlp.safetensors");
        new SafetensorsFile(tensors, java.util.Map.of("loss", "logistic")).write(file);

        Path models = dir.resolve("models");
        CommandLine cli = new CommandLine(new MetastreamCommand());
        assertThat(cli.execute("models", "import", "--store", models.toString(), "--safetensors", file.toString(),
                "--name", "torch", "--loss", "logistic", "--promote", "production")).isZero();
        BaseModel base = BaseModelArtifacts.load(new LocalDirectoryModelStore(models), "torch", "production");
        assertThat(base.architecture().spec()).isEqualTo("4-6-1");

        float[][] x = new float[20][4];
        for (float[] row : x) {
            for (int i = 0; i < 4; i++) {
                row[i] = (float) r.nextGaussian();
            }
        }
        DjlRuntime.start(1);
        float[] served;
        try (GradientLearner learner = new GradientLearner(Device.cpu())) {
            served = learner.predict(base, Collections.singletonList(null), List.<float[][]>of(x))[0];
        }
        for (int n = 0; n < x.length; n++) {
            double[] h = new double[6];
            for (int o = 0; o < 6; o++) {
                double z = biases[0][o];
                for (int i = 0; i < 4; i++) {
                    z += weights[0][o][i] * x[n][i];
                }
                h[o] = Math.max(0, z);
            }
            double logit = biases[1][0];
            for (int o = 0; o < 6; o++) {
                logit += weights[1][0][o] * h[o];
            }
            assertThat((double) served[n]).as("row %d", n).isCloseTo(1 / (1 + Math.exp(-logit)),
                    org.assertj.core.data.Offset.offset(1e-5));
        }

        // A file that declares another loss than the import asks for is refused, naming both.
        StringWriter err = new StringWriter();
        cli.setErr(new PrintWriter(err));
        assertThat(cli.execute("models", "import", "--store", models.toString(), "--safetensors", file.toString(),
                "--name", "torch", "--loss", "mse")).isNotZero();
        assertThat(err.toString()).contains("logistic").contains("mse");
    }
}

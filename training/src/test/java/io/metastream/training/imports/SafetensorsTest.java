package io.metastream.training.imports;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.DjlRuntime;
import io.metastream.learn.GradientLearner;
import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.PlainMlp;
import io.metastream.training.imports.SafetensorsFile.DType;
import io.metastream.training.imports.SafetensorsFile.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    private static final int[] SIZES = {24, 16, 8, 1};
    private static final List<String> PREFIXES = List.of("net.0", "net.2", "net.4");
    private static GradientLearner learner;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        DjlRuntime.start(1);
        learner = new GradientLearner(DjlRuntime.defaultDevice());
    }

    @AfterAll
    static void stop() {
        learner.close();
    }

    /** One nn.Linear as PyTorch holds it: weight {@code [out][in]}, bias {@code [out]}. */
    private record Linear(float[][] weight, float[] bias) {
        static Linear random(int in, int out, Random r) {
            float[][] w = new float[out][in];
            float[] b = new float[out];
            for (int j = 0; j < out; j++) {
                for (int k = 0; k < in; k++) {
                    w[j][k] = (float) (r.nextGaussian() / Math.sqrt(in));
                }
                b[j] = (float) (0.1 * r.nextGaussian());
            }
            return new Linear(w, b);
        }

        List<Tensor> tensors(String prefix, DType dtype) {
            int out = weight.length;
            int in = weight[0].length;
            float[] flat = new float[out * in];
            for (int j = 0; j < out; j++) {
                System.arraycopy(weight[j], 0, flat, j * in, in);
            }
            return List.of(new Tensor(prefix + ".weight", dtype, new int[] {out, in}, flat),
                    new Tensor(prefix + ".bias", dtype, new int[] {out}, bias));
        }
    }

    private static List<Linear> randomNet(int[] sizes, long seed) {
        Random r = new Random(seed);
        List<Linear> net = new ArrayList<>();
        for (int l = 0; l + 1 < sizes.length; l++) {
            net.add(Linear.random(sizes[l], sizes[l + 1], r));
        }
        return net;
    }

    private static List<Tensor> tensors(List<Linear> net, List<String> prefixes, DType dtype) {
        List<Tensor> out = new ArrayList<>();
        for (int l = 0; l < net.size(); l++) {
            out.addAll(net.get(l).tensors(prefixes.get(l), dtype));
        }
        return out;
    }

    /** y = W x + b with ReLU between layers, straight from the PyTorch layout, in double. */
    private static double reference(List<Linear> net, float[] x) {
        double[] a = PlainMlp.toDouble(x);
        for (int l = 0; l < net.size(); l++) {
            Linear layer = net.get(l);
            double[] z = new double[layer.bias.length];
            for (int j = 0; j < z.length; j++) {
                double s = layer.bias[j];
                for (int k = 0; k < a.length; k++) {
                    s += layer.weight[j][k] * a[k];
                }
                z[j] = l < net.size() - 1 ? Math.max(0, s) : s;
            }
            a = z;
        }
        return a[0];
    }

    private static float[][] queries(int n, long seed) {
        Random r = new Random(seed);
        float[][] q = new float[n][SIZES[0]];
        for (float[] row : q) {
            for (int i = 0; i < row.length; i++) {
                row[i] = (float) r.nextGaussian();
            }
        }
        return q;
    }

    private void assertPredictsLike(List<Linear> net, MlpImport.Imported imported, Loss loss) {
        BaseModel base = new BaseModel("clicks@1", "reptile", imported.architecture(), imported.parameters(),
                new AdaptationSettings(5, 0.1f, 0f, loss));
        float[][] q = queries(50, 9);
        float[] predicted = learner.predict(base, Collections.singletonList(null), List.<float[][]>of(q))[0];
        assertThat(predicted).hasSize(q.length);
        for (int n = 0; n < q.length; n++) {
            assertThat((double) predicted[n]).as("query %d", n)
                    .isCloseTo(loss.link((float) reference(net, q[n])), within(1e-4));
        }
    }

    private Path write(List<Tensor> tensors, Map<String, String> metadata) throws IOException {
        Path file = Files.createTempFile(dir, "model", ".safetensors");
        new SafetensorsFile(tensors, metadata).write(file);
        return file;
    }

    /** A file from a hand-written header and a zeroed data buffer, for what the writer cannot produce. */
    private Path raw(String header, int bufferBytes) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + bufferBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json);
        Path file = Files.createTempFile(dir, "raw", ".safetensors");
        Files.write(file, b.array());
        return file;
    }

    @Test
    void shouldPredictLikeThePyTorchForwardPassWhenImportingFloat32() throws IOException {
        List<Linear> net = randomNet(SIZES, 1);
        Path file = write(tensors(net, PREFIXES, DType.F32), Map.of());

        MlpImport.Imported imported = MlpImport.fromSafetensors(file, PREFIXES);

        assertThat(imported.architecture()).isEqualTo(new MlpArchitecture(SIZES));
        assertThat(imported.layers()).isEqualTo(PREFIXES);
        // the first weight transposed: metastream [in, out] at k * out + j holds PyTorch [out, in] at (j, k)
        assertThat(imported.parameters()[3 * 16 + 5]).isEqualTo(net.get(0).weight[5][3]);
        assertPredictsLike(net, imported, Loss.MSE);
    }

    @Test
    void shouldDiscoverTheLayersOfAFloat64FileAndReadItsDeclaredLoss() throws IOException {
        List<Linear> net = randomNet(SIZES, 2);
        Path file = write(tensors(net, PREFIXES, DType.F64), Map.of("layers", "24-16-8-1", "loss", "logistic"));

        MlpImport.Imported imported = MlpImport.fromSafetensors(file, List.of())
                .requireArchitecture(MlpArchitecture.parse("24-16-8-1"));

        assertThat(imported.layers()).isEqualTo(PREFIXES);
        assertThat(imported.declaredLoss()).contains(Loss.LOGISTIC);
        assertPredictsLike(net, imported, Loss.LOGISTIC);
    }

    @Test
    void shouldOrderDiscoveredLayersByTheNumbersInTheirNames() throws IOException {
        int[] sizes = {3, 4, 5, 6, 1};
        List<String> prefixes = List.of("net.2", "net.10", "net.0", "net.7");
        List<Linear> net = randomNet(sizes, 3);
        // written out of order: net.2 first, so the header order cannot be what puts them right
        List<Linear> shuffled = List.of(net.get(1), net.get(3), net.get(0), net.get(2));
        Path file = write(tensors(shuffled, prefixes, DType.F32), Map.of());

        MlpImport.Imported imported = MlpImport.fromSafetensors(file, List.of());

        assertThat(imported.layers()).containsExactly("net.0", "net.2", "net.7", "net.10");
        assertThat(imported.architecture().spec()).isEqualTo("3-4-5-6-1");
        assertThat(MlpImport.compareNatural("layers.9.fc", "layers.10.fc")).isNegative();
    }

    @Test
    void shouldNameTheWeightAndBothShapesWhenLayersDoNotChain() throws IOException {
        List<Tensor> tensors = new ArrayList<>(tensors(randomNet(SIZES, 4), PREFIXES, DType.F32));
        tensors.set(2, Tensor.f32("net.2.weight", new int[] {8, 15}, new float[8 * 15]));
        Path file = write(tensors, Map.of());

        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, PREFIXES))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("net.2.weight: expected shape [8, 16]")
                .hasMessageContaining("got [8, 15]");
        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, List.of()))
                .hasMessageContaining("net.2.weight: expected shape [8, 16]");
    }

    @Test
    void shouldNameTheBiasWhenItsLengthIsNotTheOutOfItsWeight() throws IOException {
        List<Tensor> tensors = new ArrayList<>(tensors(randomNet(SIZES, 5), PREFIXES, DType.F32));
        tensors.set(1, Tensor.f32("net.0.bias", new int[] {15}, new float[15]));
        Path file = write(tensors, Map.of());

        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, PREFIXES))
                .hasMessageContaining("net.0.bias: expected shape [16]")
                .hasMessageContaining("got [15]");
    }

    @Test
    void shouldListTheTensorsThatNoLayerUses() throws IOException {
        List<Tensor> tensors = new ArrayList<>(tensors(randomNet(SIZES, 6), PREFIXES, DType.F32));
        tensors.add(Tensor.f32("norm.running_mean", new int[] {16}, new float[16]));
        Path file = write(tensors, Map.of());

        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, List.of()))
                .hasMessageContaining("not part of the layers [net.0, net.2, net.4]: [norm.running_mean [16]]");
        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, List.of("net.0", "net.2")))
                .hasMessageContaining("net.4.weight [1, 8], net.4.bias [1]");
    }

    @Test
    void shouldRefuseAnArchitectureOtherThanTheExpectedOne() throws IOException {
        Path file = write(tensors(randomNet(new int[] {24, 64, 1}, 7), List.of("net.0", "net.2"), DType.F32),
                Map.of());

        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, List.of())
                .requireArchitecture(MlpArchitecture.parse("24-64-32-1")))
                .hasMessageContaining("expected 24-64-32-1, file holds 24-64-1");
    }

    @Test
    void shouldRefuseMetadataLayersThatDisagreeWithTheTensors() throws IOException {
        Path file = write(tensors(randomNet(SIZES, 8), PREFIXES, DType.F32), Map.of("layers", "24-64-32-1"));

        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, List.of()))
                .hasMessageContaining("declares layers 24-64-32-1, the tensors hold 24-16-8-1");
    }

    @Test
    void shouldNameTheTensorCutOffByATruncatedFile() throws IOException {
        Path file = write(tensors(randomNet(SIZES, 9), PREFIXES, DType.F32), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 10));

        assertThatThrownBy(() -> MlpImport.fromSafetensors(file, PREFIXES))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("tensor 'net.4.weight' has data_offsets")
                .hasMessageContaining("outside the data buffer");
        Files.write(file, Arrays.copyOf(bytes, 20));
        assertThatThrownBy(() -> SafetensorsFile.read(file)).hasMessageContaining("header length");
    }

    @Test
    void shouldNameTheTensorWhoseOffsetsDoNotFitItsShapeOrTheBuffer() throws IOException {
        Path outside = raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,1000]}}", 16);
        assertThatThrownBy(() -> SafetensorsFile.read(outside))
                .hasMessageContaining("tensor 'b' has data_offsets [8, 1000] outside the data buffer of 16 bytes");

        Path wrongLength = raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20);
        assertThatThrownBy(() -> SafetensorsFile.read(wrongLength))
                .hasMessageContaining("tensor 'w' of shape [2, 3] F32 needs 24 bytes")
                .hasMessageContaining("span 20");

        Path overlap = raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertThatThrownBy(() -> SafetensorsFile.read(overlap)).hasMessageContaining("'b' [4, 12] overlaps tensor 'a'");
    }

    @Test
    void shouldNameTheTensorOfAnUnsupportedDtype() throws IOException {
        Path file = raw("{\"net.0.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"steps\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]}}", 12);

        assertThatThrownBy(() -> SafetensorsFile.read(file))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'steps' has dtype I64");
    }

    @Test
    void shouldKeepHeaderOrderMetadataAndValuesOfEveryDtype() throws IOException {
        float[] exact = {1f, -2.5f, 0.375f, 1024f, -0f, 6.1035156e-5f};
        List<Tensor> written = new ArrayList<>();
        for (DType d : List.of(DType.F16, DType.BF16, DType.F64, DType.F32)) {
            written.add(new Tensor("z." + d, d, new int[] {2, 3}, exact));
        }
        written.add(Tensor.f32("scalar", new int[] {}, new float[] {7f}));
        Path file = write(written, Map.of("loss", "mse"));

        SafetensorsFile read = SafetensorsFile.read(file);

        assertThat(read.names()).containsExactly("z.F16", "z.BF16", "z.F64", "z.F32", "scalar");
        assertThat(read.tensors()).isEqualTo(written);
        assertThat(read.metadata()).isEqualTo(Map.of("loss", "mse"));
        assertThat(Files.size(file) % 8).as("header padded to 8 bytes, data aligned").isEqualTo(
                (2 * 6 * 2 + 6 * 8 + 6 * 4 + 4) % 8);
    }

    @Test
    void shouldConvertHalfPrecisionExactlyAndRoundToNearestEven() {
        for (int h = 0; h < 0x10000; h++) {
            float f = SafetensorsFile.halfToFloat((short) h);
            if (!Float.isNaN(f)) {
                assertThat(SafetensorsFile.floatToHalf(f) & 0xffff).as("half 0x%04x", h).isEqualTo(h);
            }
        }
        assertThat(SafetensorsFile.halfToFloat((short) 0x7bff)).isEqualTo(65504f);
        assertThat(SafetensorsFile.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        // 1 + 2^-11 lies halfway between 1 and the next half: ties go to the even mantissa, 1
        assertThat(SafetensorsFile.floatToHalf(1f + 0x1p-11f)).isEqualTo((short) 0x3c00);
        assertThat(SafetensorsFile.floatToHalf(1f + 0x1p-11f + 0x1p-20f)).isEqualTo((short) 0x3c01);
        assertThat(SafetensorsFile.floatToHalf(70000f)).isEqualTo((short) 0x7c00);
        assertThat(SafetensorsFile.floatToBfloat16(1f + 0x1p-8f)).isEqualTo((short) 0x3f80);
        assertThat(SafetensorsFile.floatToBfloat16(1f + 0x1p-8f + 0x1p-16f)).isEqualTo((short) 0x3f81);
    }
}

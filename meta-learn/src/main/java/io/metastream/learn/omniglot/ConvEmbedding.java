package io.metastream.learn.omniglot;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;

/**
 * The conv-4 embedding of Vinyals et al. 2016 as used by Snell, Swersky and Zemel 2017 ("Prototypical
 * Networks for Few-shot Learning", section 3.1): four blocks of 3x3 convolution with 64 filters,
 * batch normalisation, ReLU and 2x2 max-pooling; a 1x28x28 image becomes a 64-d vector
 * (28 -> 14 -> 7 -> 3 -> 1).
 *
 * <p>Persisted as magic {@code MSE1}, a format version, the architecture id, then DJL's own
 * parameter stream (weights, biases, batch-norm scales and running statistics). Newer format
 * versions are refused.
 */
public final class ConvEmbedding {
    public static final String ARCHITECTURE = "conv4";
    public static final int CURRENT_VERSION = 1;
    public static final int FILTERS = 64;
    /**
     * The side of the square one-channel images it embeds: 28, the Omniglot size of Vinyals et al.
     * 2016 that the four 2x2 poolings bring down to one pixel. The data sets that feed it
     * (io.metastream.data.omniglot) size their images by this.
     */
    public static final int IMAGE_SIZE = 28;
    public static final int IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE;
    public static final Shape INPUT = new Shape(1, 1, IMAGE_SIZE, IMAGE_SIZE);
    private static final int MAGIC = 0x4D534531; // "MSE1"

    private ConvEmbedding() {
    }

    /** A fresh, uninitialised conv-4 block. */
    public static SequentialBlock block() {
        SequentialBlock net = new SequentialBlock();
        for (int i = 0; i < 4; i++) {
            net.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(FILTERS)
                            .build())
                    .add(BatchNorm.builder().build())
                    .add(Activation.reluBlock())
                    .add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)));
        }
        return net.add(Blocks.batchFlattenBlock());
    }

    /** Serialises an initialised block. */
    public static byte[] write(SequentialBlock block) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(CURRENT_VERSION);
            out.writeUTF(ARCHITECTURE);
            block.saveParameters(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialise the conv4 embedding", e);
        }
        return bytes.toByteArray();
    }

    /**
     * A block initialised on {@code manager} with the parameters in {@code bytes}.
     *
     * @throws IllegalArgumentException naming what is wrong: magic, version, architecture or body
     */
    public static SequentialBlock read(NDManager manager, byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (bytes.length < 8 || in.readInt() != MAGIC) {
                throw new IllegalArgumentException("not a metastream embedding file (bad magic)");
            }
            int version = in.readInt();
            if (version < 1 || version > CURRENT_VERSION) {
                throw new IllegalArgumentException("embedding file format " + version
                        + " is not supported (this build reads 1.." + CURRENT_VERSION + ")");
            }
            String arch = in.readUTF();
            if (!ARCHITECTURE.equals(arch)) {
                throw new IllegalArgumentException("embedding architecture '" + arch + "' is not supported");
            }
            SequentialBlock block = block();
            block.initialize(manager, DataType.FLOAT32, INPUT);
            block.loadParameters(manager, in);
            if (in.read() != -1) {
                throw new IllegalArgumentException("embedding file has trailing bytes");
            }
            return block;
        } catch (IOException | MalformedModelException e) {
            throw new IllegalArgumentException("embedding file is malformed: " + e.getMessage(), e);
        }
    }

    /**
     * Reads {@code bytes} into a scratch block and frees it: whether they are an embedding this
     * build can run.
     *
     * @throws IllegalArgumentException as {@link #read} does
     */
    public static void check(byte[] bytes) {
        try (NDManager manager = NDManager.newBaseManager(ai.djl.Device.cpu())) {
            read(manager, bytes);
        }
    }

    /**
     * Embeds images ({@value #IMAGE_PIXELS} floats each) in inference mode (batch norm uses its
     * running statistics), {@code batch} images per native call.
     *
     * @return one row of {@value #FILTERS} floats per image
     */
    public static float[][] embed(SequentialBlock block, NDManager manager, float[] pixels, int batch) {
        int n = pixels.length / IMAGE_PIXELS;
        float[][] out = new float[n][];
        ParameterStore store = new ParameterStore(manager, false);
        for (int from = 0; from < n; from += batch) {
            int m = Math.min(batch, n - from);
            try (NDManager scratch = manager.newSubManager()) {
                float[] part = new float[m * IMAGE_PIXELS];
                System.arraycopy(pixels, from * IMAGE_PIXELS, part, 0, part.length);
                NDArray x = scratch.create(part, new Shape(m, 1, IMAGE_SIZE, IMAGE_SIZE));
                float[] e = block.forward(store, new NDList(x), false).singletonOrThrow().toFloatArray();
                for (int i = 0; i < m; i++) {
                    out[from + i] = Arrays.copyOfRange(e, i * FILTERS, (i + 1) * FILTERS);
                }
            }
        }
        return out;
    }
}

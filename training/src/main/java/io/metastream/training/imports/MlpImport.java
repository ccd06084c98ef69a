package io.metastream.training.imports;

import io.metastream.learn.Loss;
import io.metastream.learn.MlpArchitecture;
import io.metastream.training.imports.SafetensorsFile.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Imports the weights of a PyTorch MLP ({@code nn.Sequential} of {@code nn.Linear} and
 * {@code nn.ReLU}, the last layer linear) from a safetensors state dict. PyTorch stores a Linear's
 * weight as {@code [out, in]}; the {@link MlpArchitecture} layout is {@code [in, out]}, so every
 * weight is transposed here. A file holds weights only, not activations: that the network was
 * ReLU between layers and linear at the end is the caller's promise.
 */
public final class MlpImport {
    /** Metadata key the export script writes the layer sizes under; checked when present. */
    public static final String LAYERS_METADATA = "layers";
    /** Metadata key naming the {@link Loss} id the network was trained with. */
    public static final String LOSS_METADATA = "loss";

    private static final Pattern NUMBER = Pattern.compile("\\d+");

    private MlpImport() {
    }

    /**
     * An imported network.
     *
     * @param layers the Linear layers' prefixes, input side first
     * @param parameters in the {@link MlpArchitecture} layout
     */
    public record Imported(MlpArchitecture architecture, float[] parameters, List<String> layers,
            Map<String, String> metadata) {
        public Imported {
            parameters = parameters.clone();
            layers = List.copyOf(layers);
            metadata = Map.copyOf(metadata);
        }

        @Override
        public float[] parameters() {
            return parameters.clone();
        }

        /**
         * Guards against importing the wrong file for a base whose architecture is already fixed.
         *
         * @return this
         * @throws IllegalArgumentException e.g. "expected 24-64-32-1, file holds 24-64-1"
         */
        public Imported requireArchitecture(MlpArchitecture expected) {
            if (!architecture.equals(expected)) {
                throw new IllegalArgumentException("expected " + expected.spec() + ", file holds "
                        + architecture.spec() + " (layers " + layers + ")");
            }
            return this;
        }

        /**
         * The loss the exporter declared in the metadata, if any.
         *
         * @throws IllegalArgumentException if it is not a known {@link Loss} id
         */
        public Optional<Loss> declaredLoss() {
            return Optional.ofNullable(metadata.get(LOSS_METADATA)).map(Loss::fromId);
        }
    }

    /**
     * @param layerPrefixes the Linear layers in order, e.g. {@code ["net.0", "net.2"]}; empty to
     *     discover them ({@link #discoverLayers})
     * @throws IllegalArgumentException naming the file, and the tensor with its expected and actual
     *     shape, when the tensors do not form one MLP
     */
    public static Imported fromSafetensors(Path file, List<String> layerPrefixes) throws IOException {
        SafetensorsFile contents = SafetensorsFile.read(file);
        try {
            return fromSafetensors(contents, layerPrefixes);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** As {@link #fromSafetensors(Path, List)}, for a file already read. */
    public static Imported fromSafetensors(SafetensorsFile file, List<String> layerPrefixes) {
        List<String> prefixes = layerPrefixes.isEmpty() ? discoverLayers(file) : List.copyOf(layerPrefixes);
        if (prefixes.isEmpty()) {
            throw new IllegalArgumentException("no Linear layers found: no 2-D <prefix>.weight with a 1-D "
                    + "<prefix>.bias among " + describe(file, file.names()));
        }
        Set<String> used = new LinkedHashSet<>();
        int[] sizes = new int[prefixes.size() + 1];
        List<float[]> weights = new ArrayList<>();
        List<float[]> biases = new ArrayList<>();
        for (int l = 0; l < prefixes.size(); l++) {
            String prefix = prefixes.get(l);
            String weightName = join(prefix, "weight");
            String biasName = join(prefix, "bias");
            if (!used.add(weightName)) {
                throw new IllegalArgumentException("layer " + prefix + " is listed twice");
            }
            Tensor w = requireTensor(file, weightName);
            Tensor b = requireTensor(file, biasName);
            used.add(biasName);
            if (w.rank() != 2 || w.dim(0) == 0 || w.dim(1) == 0) {
                throw new IllegalArgumentException(weightName + ": expected a 2-D [out, in] weight, got shape "
                        + w.shapeString());
            }
            int out = w.dim(0);
            int in = w.dim(1);
            if (l == 0) {
                sizes[0] = in;
            } else if (in != sizes[l]) {
                throw new IllegalArgumentException(weightName + ": expected shape [" + out + ", " + sizes[l]
                        + "] (in = " + sizes[l] + ", the out of " + prefixes.get(l - 1) + "), got "
                        + w.shapeString());
            }
            if (b.rank() != 1 || b.dim(0) != out) {
                throw new IllegalArgumentException(biasName + ": expected shape [" + out + "] (the out of "
                        + weightName + " " + w.shapeString() + "), got " + b.shapeString());
            }
            sizes[l + 1] = out;
            float[] wData = w.data();
            float[] bData = b.data();
            requireFinite(weightName, wData, in);
            requireFinite(biasName, bData, 0);
            weights.add(wData);
            biases.add(bData);
        }
        List<String> unused = file.names().stream().filter(n -> !used.contains(n)).toList();
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException("tensors not part of the layers " + prefixes + ": "
                    + describe(file, unused) + (unused.stream().anyMatch(n -> n.endsWith("weight"))
                            ? " (a Linear without bias, or a layer missing from the list?)" : ""));
        }
        MlpArchitecture arch = new MlpArchitecture(sizes);
        checkDeclaredLayers(file, arch);
        return new Imported(arch, toMetastreamLayout(arch, weights, biases), prefixes, file.metadata());
    }

    /**
     * The prefixes of every 2-D {@code <prefix>.weight} that has a 1-D {@code <prefix>.bias},
     * ordered by the numbers in the prefix ({@code net.2} before {@code net.10}), as
     * {@code nn.Sequential} numbers its children. A bare {@code weight}/{@code bias} pair (a single
     * saved {@code nn.Linear}) has the prefix {@code ""}.
     */
    public static List<String> discoverLayers(SafetensorsFile file) {
        List<String> prefixes = new ArrayList<>();
        for (String name : file.names()) {
            if (!name.equals("weight") && !name.endsWith(".weight")) {
                continue;
            }
            String prefix = name.substring(0, name.length() - "weight".length());
            prefix = prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1);
            String bias = join(prefix, "bias");
            if (file.tensor(name).rank() == 2 && file.contains(bias) && file.tensor(bias).rank() == 1) {
                prefixes.add(prefix);
            }
        }
        prefixes.sort(MlpImport::compareNatural);
        return prefixes;
    }

    /** Digit runs compare as numbers, everything else as text. */
    static int compareNatural(String a, String b) {
        List<Object> x = chunks(a);
        List<Object> y = chunks(b);
        for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
            Object p = x.get(i);
            Object q = y.get(i);
            int c;
            if (p instanceof Long m && q instanceof Long n) {
                c = Long.compare(m, n);
            } else {
                c = p.toString().compareTo(q.toString());
            }
            if (c != 0) {
                return c;
            }
        }
        return x.size() != y.size() ? Integer.compare(x.size(), y.size()) : a.compareTo(b);
    }

    private static List<Object> chunks(String s) {
        List<Object> out = new ArrayList<>();
        Matcher m = NUMBER.matcher(s);
        int at = 0;
        while (m.find()) {
            if (m.start() > at) {
                out.add(s.substring(at, m.start()));
            }
            String digits = m.group();
            out.add(digits.length() <= 18 ? (Object) Long.parseLong(digits) : digits);
            at = m.end();
        }
        if (at < s.length()) {
            out.add(s.substring(at));
        }
        return out;
    }

    /** PyTorch {@code [out, in]} row-major to metastream {@code [in, out]} row-major, bias after each. */
    private static float[] toMetastreamLayout(MlpArchitecture arch, List<float[]> weights, List<float[]> biases) {
        float[] p = new float[arch.parameterCount()];
        int off = 0;
        for (int l = 0; l < arch.depth(); l++) {
            int in = arch.fanIn(l);
            int out = arch.fanOut(l);
            float[] w = weights.get(l);
            for (int j = 0; j < out; j++) {
                for (int k = 0; k < in; k++) {
                    p[off + k * out + j] = w[j * in + k];
                }
            }
            off += in * out;
            System.arraycopy(biases.get(l), 0, p, off, out);
            off += out;
        }
        return p;
    }

    private static void checkDeclaredLayers(SafetensorsFile file, MlpArchitecture arch) {
        String declared = file.metadata().get(LAYERS_METADATA);
        if (declared == null) {
            return;
        }
        MlpArchitecture claimed;
        try {
            claimed = MlpArchitecture.parse(declared.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the metadata's " + LAYERS_METADATA + " is not like 24-64-32-1: "
                    + declared, e);
        }
        if (!claimed.equals(arch)) {
            throw new IllegalArgumentException("the metadata declares layers " + declared + ", the tensors hold "
                    + arch.spec());
        }
    }

    private static Tensor requireTensor(SafetensorsFile file, String name) {
        if (!file.contains(name)) {
            throw new IllegalArgumentException("no tensor " + name + " (the file holds "
                    + describe(file, file.names()) + ")");
        }
        return file.tensor(name);
    }

    /** @param columns the row length of a matrix, 0 for a vector */
    private static void requireFinite(String name, float[] data, int columns) {
        for (int i = 0; i < data.length; i++) {
            if (!Float.isFinite(data[i])) {
                String at = columns == 0 ? "[" + i + "]" : "[" + i / columns + ", " + i % columns + "]";
                throw new IllegalArgumentException(name + " holds " + data[i] + " at " + at);
            }
        }
    }

    private static String join(String prefix, String suffix) {
        return prefix.isEmpty() ? suffix : prefix + "." + suffix;
    }

    private static String describe(SafetensorsFile file, List<String> names) {
        return names.stream().map(n -> n + " " + file.tensor(n).shapeString()).toList().toString();
    }
}

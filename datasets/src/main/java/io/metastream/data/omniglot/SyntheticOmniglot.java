package io.metastream.data.omniglot;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Made-up characters, for tests of what consumes Omniglot (episode sampling, protonet training)
 * without reading the archives: each a random blob pattern, its drawings noisy copies of it.
 */
public final class SyntheticOmniglot {
    private SyntheticOmniglot() {
    }

    /** An alphabet of {@code characters} made-up characters with {@code drawings} drawings each. */
    public static List<Omniglot.Character> alphabet(String name, int characters, int drawings, Random random) {
        List<Omniglot.Character> out = new ArrayList<>();
        for (int c = 0; c < characters; c++) {
            float[] pattern = new float[Omniglot.PIXELS];
            for (int i = 0; i < pattern.length; i++) {
                pattern[i] = random.nextFloat() < 0.2f ? 1 : 0;
            }
            List<float[]> images = new ArrayList<>();
            for (int d = 0; d < drawings; d++) {
                float[] img = pattern.clone();
                for (int i = 0; i < img.length; i++) {
                    if (random.nextFloat() < 0.05f) {
                        img[i] = 1 - img[i];
                    }
                }
                images.add(img);
            }
            out.add(new Omniglot.Character(name, String.format("character%02d", c + 1), images));
        }
        return out;
    }
}

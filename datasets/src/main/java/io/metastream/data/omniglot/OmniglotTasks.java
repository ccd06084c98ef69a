package io.metastream.data.omniglot;

import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskFamily;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.TreeSet;

/**
 * N-way Omniglot classification as a {@link TaskFamily} for the gradient meta-learners (MAML,
 * ANIL, Meta-SGD with a softmax head, Finn et al. 2017, section 5.2): each image is a flat vector
 * of {@value Omniglot#PIXELS} pixels (ink = 1), each target a class index {@code 0 .. N-1} as a
 * float. Episodes come from {@link EpisodeSampler}, so the N classes share one alphabet.
 *
 * <p>{@link #sample}'s sizes count <em>per class</em>: {@code sample(random, 1, 15)} is a 1-shot
 * episode with {@code N} support and {@code 15 N} query images. A class's index is its place in the
 * sampler's draw, a uniformly random ordered choice of N classes, so it is new in every episode and
 * a softmax head can only know which output means what from the support set. The support set lists
 * its classes in index order, as the stream numbers a task's labels in the order its support set
 * first shows them. With the same {@link Random} the episodes are the sampler's own, image for
 * image: a protonet's evaluation and an MLP's score the same tasks.
 */
public final class OmniglotTasks implements TaskFamily {
    private final EpisodeSampler sampler;
    private final int ways;
    private final String id;

    /**
     * @param rotations whether each character also counts as three rotated classes (training; a
     *     held-out evaluation uses none)
     * @throws IllegalArgumentException if {@code ways < 2} or no alphabet has {@code ways} classes
     */
    public OmniglotTasks(List<Omniglot.Character> characters, int ways, boolean rotations) {
        this.sampler = new EpisodeSampler(characters, rotations);
        if (ways < 2 || ways > sampler.maxWays()) {
            throw new IllegalArgumentException(ways + "-way tasks need 2 to " + sampler.maxWays()
                    + " classes in one alphabet (the largest alphabet here has " + sampler.maxWays() + ")");
        }
        this.ways = ways;
        TreeSet<String> alphabets = new TreeSet<>();
        characters.forEach(c -> alphabets.add(c.alphabet()));
        this.id = String.format(Locale.ROOT, "omniglot(%d-way, %d alphabets, %d characters%s, %dx%d pixels)", ways,
                alphabets.size(), characters.size(), rotations ? ", rotations" : "", Omniglot.SIZE, Omniglot.SIZE);
    }

    /** Classes per task. */
    public int ways() {
        return ways;
    }

    /**
     * An N-way episode with {@code shotsPerClass} support and {@code queriesPerClass} query images
     * of each class, class-major.
     *
     * @throws IllegalArgumentException if a class has fewer than {@code shots + queries} drawings
     */
    @Override
    public Episode sample(Random random, int shotsPerClass, int queriesPerClass) {
        EpisodeSampler.Episode e = sampler.sample(random, ways, shotsPerClass, queriesPerClass);
        return new Episode(set(e.supportRows(), shotsPerClass), set(e.queryRows(), queriesPerClass));
    }

    /** Class-major rows, class {@code c} of the episode with target {@code c}. */
    private static SampleSet set(float[][] rows, int perClass) {
        float[] y = new float[rows.length];
        for (int row = 0; row < rows.length; row++) {
            y[row] = row / perClass;
        }
        return new SampleSet(rows, y);
    }

    @Override
    public int inputDim() {
        return Omniglot.PIXELS;
    }

    @Override
    public String id() {
        return id;
    }
}

package io.metastream.data.omniglot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EpisodeSamplerTest {
    private final Random data = new Random(1);
    private final List<Omniglot.Character> characters = new ArrayList<>();

    EpisodeSamplerTest() {
        characters.addAll(SyntheticOmniglot.alphabet("Big", 8, 20, data));
        characters.addAll(SyntheticOmniglot.alphabet("Small", 3, 20, data));
    }

    @Test
    void shouldDrawNWayKShotWithinOneAlphabetWithoutOverlap() {
        EpisodeSampler sampler = new EpisodeSampler(characters, false);
        Random random = new Random(7);
        for (int i = 0; i < 200; i++) {
            EpisodeSampler.Episode e = sampler.sample(random, 3, 2, 4);
            assertThat(e.ways()).isEqualTo(3);
            assertThat(e.classes()).allSatisfy(c -> assertThat(c.character().alphabet()).isEqualTo(e.alphabet()));
            assertThat(new HashSet<>(e.classes())).hasSize(3);
            for (int c = 0; c < 3; c++) {
                assertThat(e.support()[c]).hasSize(2);
                assertThat(e.query()[c]).hasSize(4);
                Set<Integer> drawings = new HashSet<>();
                for (int d : e.support()[c]) {
                    drawings.add(d);
                }
                for (int d : e.query()[c]) {
                    drawings.add(d);
                }
                assertThat(drawings).hasSize(6);
            }
            assertThat(e.supportPixels()).hasSize(3 * 2 * Omniglot.PIXELS);
            assertThat(e.queryPixels()).hasSize(3 * 4 * Omniglot.PIXELS);
        }
    }

    @Test
    void shouldOnlyUseAlphabetsWithEnoughClasses() {
        EpisodeSampler sampler = new EpisodeSampler(characters, false);
        Random random = new Random(8);
        for (int i = 0; i < 50; i++) {
            assertThat(sampler.sample(random, 5, 1, 1).alphabet()).isEqualTo("Big");
        }
        assertThatThrownBy(() -> sampler.sample(random, 9, 1, 1)).hasMessageContaining("no alphabet has 9 classes");
    }

    @Test
    void shouldCountRotationsAsClassesAndRotateImages() {
        EpisodeSampler sampler = new EpisodeSampler(characters, true);
        assertThat(sampler.maxWays()).isEqualTo(32);
        EpisodeSampler.Episode e = sampler.sample(new Random(3), 12, 1, 1);
        assertThat(e.classes()).allSatisfy(c -> assertThat(c.character().alphabet()).isEqualTo("Big"));
        float[] image = characters.get(0).images().get(0);
        float[] turned = new float[Omniglot.PIXELS];
        EpisodeSampler.rotate(image, 1, turned, 0);
        assertThat(turned[0]).isEqualTo(image[(Omniglot.SIZE - 1) * Omniglot.SIZE]);
        float[] back = turned;
        for (int i = 0; i < 3; i++) {
            float[] next = new float[Omniglot.PIXELS];
            EpisodeSampler.rotate(back, 1, next, 0);
            back = next;
        }
        assertThat(back).containsExactly(image);
    }

    @Test
    void shouldDrawTheSameEpisodesForTheSameSeed() {
        EpisodeSampler sampler = new EpisodeSampler(characters, true);
        EpisodeSampler.Episode a = sampler.sample(new Random(5), 4, 2, 3);
        EpisodeSampler.Episode b = sampler.sample(new Random(5), 4, 2, 3);
        assertThat(a.classes()).isEqualTo(b.classes());
        assertThat(a.query()).isDeepEqualTo(b.query());
    }
}

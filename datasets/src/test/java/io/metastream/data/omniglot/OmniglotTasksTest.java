package io.metastream.data.omniglot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.learn.SampleSet;
import io.metastream.learn.TaskFamily;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OmniglotTasksTest {
    private final List<Omniglot.Character> characters = new ArrayList<>();

    OmniglotTasksTest() {
        Random data = new Random(2);
        characters.addAll(SyntheticOmniglot.alphabet("Trio", 3, 20, data));
        characters.addAll(SyntheticOmniglot.alphabet("Big", 8, 20, data));
    }

    /** Which character and drawing an image is, found by its pixels. */
    private Map.Entry<Omniglot.Character, Integer> origin(float[] image) {
        for (Omniglot.Character c : characters) {
            for (int d = 0; d < c.images().size(); d++) {
                if (Arrays.equals(c.images().get(d), image)) {
                    return Map.entry(c, d);
                }
            }
        }
        throw new AssertionError("an image of no character");
    }

    @Test
    void shouldDrawNWayEpisodesOfFlatImagesWithClassIndexTargetsPerClass() {
        OmniglotTasks tasks = new OmniglotTasks(characters, 3, false);
        assertThat(tasks.inputDim()).isEqualTo(784);
        assertThat(tasks.id()).contains("3-way").contains("2 alphabets").contains("11 characters");
        Random random = new Random(4);
        for (int i = 0; i < 30; i++) {
            TaskFamily.Episode e = tasks.sample(random, 2, 5);
            SampleSet s = e.support();
            SampleSet q = e.query();
            assertThat(s.size()).isEqualTo(3 * 2);
            assertThat(q.size()).isEqualTo(3 * 5);
            assertThat(s.targets()).containsExactly(0, 0, 1, 1, 2, 2);
            Map<Integer, Omniglot.Character> classOf = new HashMap<>();
            Set<String> alphabets = new HashSet<>();
            Set<String> seen = new HashSet<>();
            for (SampleSet set : List.of(s, q)) {
                for (int k = 0; k < set.size(); k++) {
                    assertThat(set.features()[k]).hasSize(784);
                    Map.Entry<Omniglot.Character, Integer> o = origin(set.features()[k]);
                    Omniglot.Character previous = classOf.putIfAbsent((int) set.targets()[k], o.getKey());
                    assertThat(previous == null || previous == o.getKey()).as("one character per class index").isTrue();
                    alphabets.add(o.getKey().alphabet());
                    assertThat(seen.add(o.getKey().name() + "/" + o.getValue())).as("no drawing twice").isTrue();
                }
            }
            assertThat(classOf).hasSize(3);
            assertThat(new HashSet<>(classOf.values())).hasSize(3);
            assertThat(alphabets).hasSize(1);
        }
    }

    /** The three characters of a 3-character alphabet take every index across episodes: labels are permuted. */
    @Test
    void shouldNumberTheClassesInANewRandomOrderInEveryEpisode() {
        OmniglotTasks tasks = new OmniglotTasks(characters.subList(0, 3), 3, false);
        Random random = new Random(5);
        Map<String, Set<Integer>> indices = new HashMap<>();
        for (int i = 0; i < 60; i++) {
            SampleSet s = tasks.sample(random, 1, 1).support();
            for (int k = 0; k < s.size(); k++) {
                indices.computeIfAbsent(origin(s.features()[k]).getKey().name(), n -> new HashSet<>())
                        .add((int) s.targets()[k]);
            }
        }
        assertThat(indices).hasSize(3);
        assertThat(indices.values()).allSatisfy(set -> assertThat(set).containsExactlyInAnyOrder(0, 1, 2));
    }

    /** The same random draws give the sampler's own episodes: an MLP and a protonet are scored on the same tasks. */
    @Test
    void shouldDrawTheSamplersEpisodesImageForImage() {
        OmniglotTasks tasks = new OmniglotTasks(characters, 4, false);
        EpisodeSampler sampler = new EpisodeSampler(characters, false);
        Random a = new Random(21);
        Random b = new Random(21);
        for (int i = 0; i < 10; i++) {
            TaskFamily.Episode mine = tasks.sample(a, 2, 3);
            EpisodeSampler.Episode theirs = sampler.sample(b, 4, 2, 3);
            float[] support = theirs.supportPixels();
            float[] query = theirs.queryPixels();
            for (int k = 0; k < mine.support().size(); k++) {
                assertThat(mine.support().features()[k])
                        .containsExactly(Arrays.copyOfRange(support, k * 784, (k + 1) * 784));
            }
            for (int k = 0; k < mine.query().size(); k++) {
                assertThat(mine.query().features()[k]).containsExactly(Arrays.copyOfRange(query, k * 784, (k + 1) * 784));
                assertThat(mine.query().targets()[k]).isEqualTo(k / 3);
            }
        }
    }

    @Test
    void shouldDrawTheSameEpisodesForTheSameSeedAndRefuseTooManyWays() {
        OmniglotTasks tasks = new OmniglotTasks(characters, 5, true);
        TaskFamily.Episode a = tasks.sample(new Random(9), 1, 3);
        TaskFamily.Episode b = tasks.sample(new Random(9), 1, 3);
        assertThat(a.support().features()).isDeepEqualTo(b.support().features());
        assertThat(a.query().targets()).containsExactly(b.query().targets());
        // With rotations the 8-character alphabet offers 32 classes; without, 8.
        assertThat(new OmniglotTasks(characters, 32, true).ways()).isEqualTo(32);
        assertThatThrownBy(() -> new OmniglotTasks(characters, 9, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("largest alphabet here has 8");
        assertThatThrownBy(() -> new OmniglotTasks(characters, 1, false)).isInstanceOf(IllegalArgumentException.class);
    }
}

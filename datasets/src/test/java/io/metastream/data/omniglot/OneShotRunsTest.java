package io.metastream.data.omniglot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OneShotRunsTest {
    @TempDir
    Path root;

    /** A 105x105 1-bit drawing, as the published runs store them: white paper, a black bar of {@code width}. */
    static void png(Path file, int width) throws IOException {
        BufferedImage image = new BufferedImage(105, 105, BufferedImage.TYPE_BYTE_BINARY);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 105, 105);
        g.setColor(Color.BLACK);
        g.fillRect(0, 0, width, 105);
        g.dispose();
        Files.createDirectories(file.getParent());
        ImageIO.write(image, "png", file.toFile());
    }

    /**
     * A run in the published layout: training class01..class03 (bars 0, 30 and 105 pixels wide),
     * test items pairing in {@code labels} order with class03, class01, class02 as the published
     * file names them, from the folder above the run.
     */
    static Path run(Path parent, String name) throws IOException {
        Path run = parent.resolve(name);
        int[] widths = {0, 30, 105};
        for (int c = 0; c < 3; c++) {
            png(run.resolve("training").resolve(String.format("class%02d.png", c + 1)), widths[c]);
        }
        int[] classOfItem = {3, 1, 2};
        StringBuilder labels = new StringBuilder();
        for (int i = 0; i < 3; i++) {
            png(run.resolve("test").resolve(String.format("item%02d.png", i + 1)), widths[classOfItem[i] - 1]);
            labels.append(String.format("%s/test/item%02d.png %s/training/class%02d.png%n", name, i + 1, name,
                    classOfItem[i]));
        }
        Files.writeString(run.resolve(OneShotRuns.LABELS), labels);
        return run;
    }

    @Test
    void shouldPairEachTestImageWithTheClassOfItsTrainingImage() throws IOException {
        run(root, "run02");
        run(root, "run01");
        Files.createDirectories(root.resolve("notes"));
        List<OneShotRuns.Run> runs = OneShotRuns.read(root);
        assertThat(runs).extracting(OneShotRuns.Run::name).containsExactly("run01", "run02");
        OneShotRuns.Run r = runs.get(0);
        assertThat(r.classes()).isEqualTo(3);
        assertThat(r.trainingFiles()).containsExactly("training/class01.png", "training/class02.png",
                "training/class03.png");
        assertThat(r.testFiles()).containsExactly("test/item01.png", "test/item02.png", "test/item03.png");
        assertThat(r.testClasses()).containsExactly(2, 0, 1);
        // Converted as the data set reader converts: ink 1, paper 0, 28x28.
        assertThat(r.training()[0]).hasSize(Omniglot.PIXELS).containsOnly(0f);
        for (float v : r.training()[2]) {
            assertThat(v).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-5f));
        }
        assertThat(r.test()[0]).containsExactly(r.training()[2]);
        assertThat(r.test()[1]).containsExactly(r.training()[0]);
        // One run folder on its own is read as a run.
        assertThat(OneShotRuns.read(root.resolve("run02"))).hasSize(1);
    }

    @Test
    void shouldRefuseALabelFileThatDoesNotFitItsRun() throws IOException {
        Path run = run(root, "run01");
        Files.writeString(run.resolve(OneShotRuns.LABELS), "run01/test/item01.png run01/training/class09.png\n");
        assertThatThrownBy(() -> OneShotRuns.read(root)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line 1").hasMessageContaining("class09.png is not an image in");
        Files.writeString(run.resolve(OneShotRuns.LABELS), "run01/test/item01.png\n");
        assertThatThrownBy(() -> OneShotRuns.read(root)).hasMessageContaining("expected '<test image> <training "
                + "image>'");
        Files.writeString(run.resolve(OneShotRuns.LABELS), "test/item01.png training/class01.png\n"
                + "test/item01.png training/class02.png\n");
        assertThatThrownBy(() -> OneShotRuns.read(root)).hasMessageContaining("line 2")
                .hasMessageContaining("labelled twice");
        assertThatThrownBy(() -> OneShotRuns.read(root.resolve("run01/test"))).hasMessageContaining("no one-shot run");
    }
}

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

class OmniglotTest {
    @TempDir
    Path root;

    /** A 105x105 1-bit image, white paper, with the left {@code inkColumns} columns black. */
    private static void png(Path file, int inkColumns) throws IOException {
        BufferedImage image = new BufferedImage(105, 105, BufferedImage.TYPE_BYTE_BINARY);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 105, 105);
        g.setColor(Color.BLACK);
        g.fillRect(0, 0, inkColumns, 105);
        g.dispose();
        Files.createDirectories(file.getParent());
        ImageIO.write(image, "png", file.toFile());
    }

    @Test
    void shouldReadTheFullLayoutFromAUserFolder() throws IOException {
        for (String split : List.of("images_background", "images_evaluation")) {
            String alphabet = split.endsWith("background") ? "Alpha" : "Beta";
            for (int c = 1; c <= 3; c++) {
                for (int d = 1; d <= 4; d++) {
                    png(root.resolve(split).resolve(alphabet).resolve(String.format("character%02d", c))
                            .resolve(String.format("%04d_%02d.png", c, d)), 105);
                }
            }
        }
        Files.writeString(root.resolve("README.txt"), "not an image");
        Omniglot o = Omniglot.fromDirectory(root);
        assertThat(o.alphabets()).containsExactly("Alpha", "Beta");
        assertThat(o.sizes()).containsEntry("Alpha", 3).containsEntry("Beta", 3);
        assertThat(o.evaluationSplitAlphabets()).containsExactly("Beta");
        List<Omniglot.Character> chars = o.characters(List.of("Beta"));
        assertThat(chars).extracting(Omniglot.Character::name).containsExactly("character01", "character02",
                "character03");
        assertThat(chars.get(0).images()).hasSize(4);
        float[] img = chars.get(0).images().get(0);
        assertThat(img).hasSize(28 * 28);
        for (float v : img) {
            assertThat(v).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-5f));
        }
        assertThatThrownBy(() -> o.characters(List.of("Gamma"))).hasMessageContaining("no alphabet 'Gamma'");
    }

    @Test
    void shouldAverageInkOverTheAreaEachPixelCovers() throws IOException {
        // 15 of 105 source columns are ink: output columns 0..3 fully (3.75 * 4 = 15), the rest empty.
        png(root.resolve("s/A/character01/0001_01.png"), 15);
        float[] img = Omniglot.fromDirectory(root).characters(List.of("A")).get(0).images().get(0);
        assertThat(img[3]).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-5f));
        assertThat(img[4]).isCloseTo(0f, org.assertj.core.data.Offset.offset(1e-5f));
    }

    @Test
    void shouldRefuseAFolderWithoutTheLayout() {
        assertThatThrownBy(() -> Omniglot.fromDirectory(root)).hasMessageContaining("holds no");
    }

    @Test
    void shouldBundleEightAlphabetsAnd242Characters() {
        Omniglot o = Omniglot.bundled();
        assertThat(o.alphabets()).hasSize(8);
        assertThat(o.sizes().values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(242);
        for (String a : Omniglot.BUNDLED_TEST_ALPHABETS) {
            assertThat(o.sizes().get(a)).isGreaterThanOrEqualTo(20);
        }
        assertThat(o.characters(o.alphabets())).allSatisfy(c -> assertThat(c.images()).hasSize(20));
    }
}

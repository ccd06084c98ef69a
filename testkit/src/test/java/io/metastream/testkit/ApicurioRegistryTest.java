package io.metastream.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the fixture picks the JDK that runs the registry (starting one is what the registry tests do). */
class ApicurioRegistryTest {
    @TempDir
    Path dir;

    private Path jdk(String name, String version) throws IOException {
        Path home = dir.resolve(name);
        Files.createDirectories(home.resolve("bin"));
        Path java = Files.createFile(home.resolve("bin/java"));
        java.toFile().setExecutable(true);
        if (version != null) {
            Files.writeString(home.resolve("release"), "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"" + version + "\"\n");
        }
        return home;
    }

    @Test
    void shouldReadTheFeatureReleaseOfOldAndNewVersionSchemes() throws IOException {
        assertThat(ApicurioRegistry.javaVersion(jdk("8", "1.8.0_392"))).isEqualTo(8);
        assertThat(ApicurioRegistry.javaVersion(jdk("21", "21.0.5"))).isEqualTo(21);
        assertThat(ApicurioRegistry.javaVersion(jdk("25", "25"))).isEqualTo(25);
        assertThat(ApicurioRegistry.javaVersion(jdk("none", null))).isEqualTo(-1);
    }

    @Test
    void shouldTakeTheFirstJdkOfVersion21OrLaterAndNothingWhenThereIsNone() throws IOException {
        Path old = jdk("17", "17.0.15");
        Path broken = jdk("broken", null);
        Path first = jdk("21", "21.0.5");
        Path second = jdk("25", "25.0.1");
        assertThat(ApicurioRegistry.findJava(null, List.of(old, broken, first, second)))
                .contains(first.resolve("bin/java"));
        assertThat(ApicurioRegistry.findJava("", List.of(old, broken))).as("the case the tests skip").isEmpty();
    }

    @Test
    void shouldTakeTheConfiguredJdkByHomeOrBinaryAndRefuseOneTooOld() throws IOException {
        Path wanted = jdk("25", "25.0.1");
        Path other = jdk("21", "21.0.5");
        assertThat(ApicurioRegistry.findJava(wanted.toString(), List.of(other))).contains(wanted.resolve("bin/java"));
        assertThat(ApicurioRegistry.findJava(wanted.resolve("bin/java").toString(), List.of(other)))
                .contains(wanted.resolve("bin/java"));
        Path old = jdk("17", "17.0.15");
        assertThatThrownBy(() -> ApicurioRegistry.findJava(old.toString(), List.of(other)))
                .as("a wrong setting is an error, not a skip").isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(ApicurioRegistry.JAVA_PROPERTY).hasMessageContaining("found version 17");
    }
}

package io.metastream.learn;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MetastreamVersionTest {
    @Test
    void shouldBeThePomsProjectVersion() {
        // Surefire passes ${project.version} (root pom.xml), so this follows every version bump.
        String pom = System.getProperty("metastream.project.version");
        assertThat(pom).as("system property metastream.project.version, set by surefire").isNotBlank();
        assertThat(MetastreamVersion.get()).isEqualTo(pom);
    }

    @Test
    void shouldBeInTheProvenanceOfEveryModel() {
        assertThat(DjlRuntime.versions()).containsEntry("metastream", MetastreamVersion.get());
    }
}

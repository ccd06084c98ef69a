package io.metastream.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.learn.BaseModel;
import io.metastream.learn.MetaTrainingPlan;
import io.metastream.store.ModelStoreException;
import io.metastream.streams.MetastreamConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The builder's preconditions and the failures of {@code start()} that come before any broker. */
class MetastreamAppBuilderTest {
    @TempDir
    Path dir;

    private MetastreamConfig config() {
        return new MetastreamConfig(Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:1",
                MetastreamConfig.MODEL_STORE_DIR_CONFIG, dir.resolve("models").toString(),
                MetastreamConfig.MODEL_NAME_CONFIG, "absent",
                // No broker answers: the models topic, asked what to serve, fails after this.
                MetastreamConfig.MODEL_ARTIFACTS_FETCH_TIMEOUT_MS_CONFIG, 3_000L));
    }

    private static BaseModel base(String version) {
        MetaTrainingPlan plan = MetaTrainingPlan.sinusoidDefault();
        return new BaseModel(version, "reptile", plan.architecture(),
                new float[plan.architecture().parameterCount()], plan.adaptation());
    }

    @Test
    void shouldRefuseASecondModelToServe() {
        MetastreamApp.Builder builder = MetastreamApp.builder(config()).model(base("sine@1"));

        assertThatThrownBy(() -> builder.model(base("sine@2"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("sine@1");
    }

    @Test
    void shouldRefuseAStartTimeoutThatIsNotPositive() {
        assertThatThrownBy(() -> MetastreamApp.builder(config()).startTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT0S");
    }

    @Test
    void shouldFailTheStartNamingTheModelWhenTheStoreHasNoneAndPrintNothing() {
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            assertThatThrownBy(() -> MetastreamApp.builder(config()).start())
                    .isInstanceOf(ModelStoreException.class).hasMessageContaining("absent")
                    .hasMessageContaining("could not be read");
        } finally {
            System.setOut(stdout);
        }
        assertThat(printed.toString(StandardCharsets.UTF_8)).as("the library logs; the application prints").isEmpty();
    }
}

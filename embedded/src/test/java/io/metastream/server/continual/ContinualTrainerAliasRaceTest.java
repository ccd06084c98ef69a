package io.metastream.server.continual;

import static org.assertj.core.api.Assertions.assertThat;

import io.metastream.embedded.EmbeddedKafkaBroker;
import io.metastream.embedded.TopicReader;
import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.MlpArchitecture;
import io.metastream.learn.artifact.BaseModelArtifacts;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.ModelSwapEvent;
import io.metastream.server.ModelPromotion;
import io.metastream.store.AliasConflictException;
import io.metastream.store.AliasMove;
import io.metastream.store.LocalDirectoryModelStore;
import io.metastream.streams.MetastreamConfig;
import io.metastream.streams.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer's alias moves against an operator's, on a real store and broker. The case:
 * versions 1, 2, 3; the trainer promoted 3 (replacing 2); an operator rolled 3 back to 2; the
 * trainer's automatic rollback must then refuse, not walk on to 1, a version nobody chose.
 */
@Tag("embedded-broker")
class ContinualTrainerAliasRaceTest {
    private static final String MODEL = "sine";
    private static final MlpArchitecture ARCH = new MlpArchitecture(new int[] {1, 8, 1});

    @TempDir
    Path dir;

    private EmbeddedKafkaBroker broker;
    private LocalDirectoryModelStore store;
    private ContinualMetaTrainer trainer;
    private Map<String, Object> client;

    @BeforeEach
    void setUp() {
        broker = EmbeddedKafkaBroker.start(null);
        Map<String, Integer> partitions = new HashMap<>();
        Topics.defaults().names().forEach(n -> partitions.put(n, 1));
        broker.createTopics(partitions);
        store = new LocalDirectoryModelStore(dir.resolve("models"));
        Random random = new Random(7);
        for (int v = 1; v <= 3; v++) {
            float[] p = new float[ARCH.parameterCount()];
            for (int i = 0; i < p.length; i++) {
                p[i] = random.nextFloat() - 0.5f;
            }
            BaseModelArtifacts.publish(store, MODEL, "reptile", ARCH, p, new AdaptationSettings(1, 0.01f, 0f,
                    io.metastream.learn.Loss.MSE), Map.of("seed", v));
        }
        store.setAlias(MODEL, "production", "1");
        store.compareAndSetAlias(MODEL, "production", "1", "2");
        Map<String, Object> settings = new HashMap<>();
        settings.put(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        settings.put(MetastreamConfig.MODEL_STORE_DIR_CONFIG, dir.resolve("models").toString());
        settings.put(MetastreamConfig.MODEL_NAME_CONFIG, MODEL);
        trainer = new ContinualMetaTrainer(new MetastreamConfig(settings), new ContinualTrainingConfig(settings),
                store);
        client = Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
    }

    @AfterEach
    void tearDown() {
        trainer.close();
        broker.close();
    }

    @Test
    void shouldRefuseToRollBackItsPromotionOnceAnOperatorRolledItBack() {
        assertThat(trainer.promote("3", "2")).as("the trainer's own promotion").isNull();
        assertThat(store.alias(MODEL, "production")).contains("3");

        ModelChange operator = ModelPromotion.rollback(store, MODEL, "production", client, Topics.defaults());
        assertThat(operator.getVersion()).isEqualTo("2");

        assertThat(trainer.rollBackOwnPromotion("version 3 regressed (test)")).isFalse();
        assertThat(store.alias(MODEL, "production")).as("the operator's choice stands").contains("2");
        List<AliasMove> history = store.aliasHistory(MODEL);
        assertThat(history).extracting(AliasMove::to).as("no move to 1, a version nobody chose")
                .containsExactly("1", "2", "3", "2");
        ModelSwapEvent refusal = lastEvent();
        assertThat(refusal.getStatus()).isEqualTo(ContinualMetaTrainer.ALIAS_CONFLICT);
        assertThat(refusal.getReason()).contains("expected 3, actual 2");
        assertThat(changes()).extracting(ModelChange::getVersion).as("announced: the trainer's 3, the operator's 2")
                .containsExactly("3", "2");
    }

    @Test
    void shouldRollItsOwnPromotionBackToTheVersionItReplaced() {
        assertThat(trainer.promote("3", "2")).isNull();

        assertThat(trainer.rollBackOwnPromotion("version 3 regressed (test)")).isTrue();
        assertThat(store.alias(MODEL, "production")).contains("2");
        assertThat(store.aliasHistory(MODEL)).last().extracting(AliasMove::action).isEqualTo("rollback");
        assertThat(lastEvent().getStatus()).isEqualTo(ContinualMetaTrainer.ROLLED_BACK);
        ModelChange back = changes().get(1);
        assertThat(back.getAction()).isEqualTo("rollback");
        assertThat(back.getVersion()).isEqualTo("2");
        assertThat(back.getArtifactDigest()).isEqualTo(store.digest(MODEL, "2"));
    }

    /** A round judged against 2 while an operator promoted 1: the candidate must not replace the operator's choice. */
    @Test
    void shouldNotPromoteACandidateJudgedAgainstAChampionNoLongerServed() {
        ModelPromotion.promote(store, MODEL, "production", "1", true, client, Topics.defaults());

        AliasConflictException conflict = trainer.promote("3", "2");
        assertThat(conflict).isNotNull();
        assertThat(conflict.expected()).isEqualTo("2");
        assertThat(conflict.actual()).isEqualTo("1");
        assertThat(store.alias(MODEL, "production")).contains("1");
    }

    private ModelSwapEvent lastEvent() {
        Topics t = Topics.defaults();
        try (TopicReader<String, ModelSwapEvent> r = new TopicReader<>(broker.bootstrapServers(),
                t.modelEvents().name(), new StringDeserializer(), t.modelEvents().valueSerde().deserializer())) {
            List<ModelSwapEvent> events = r.readAtLeast(1, Duration.ofSeconds(30)).stream().map(c -> c.value())
                    .toList();
            return events.get(events.size() - 1);
        }
    }

    private List<ModelChange> changes() {
        Topics t = Topics.defaults();
        try (TopicReader<String, ModelChange> r = new TopicReader<>(broker.bootstrapServers(), t.models().name(),
                new StringDeserializer(), t.models().valueSerde().deserializer())) {
            return r.readToEnd(Duration.ofSeconds(30)).stream().map(c -> c.value()).toList();
        }
    }
}

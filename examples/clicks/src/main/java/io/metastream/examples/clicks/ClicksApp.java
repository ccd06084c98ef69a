package io.metastream.examples.clicks;

import io.metastream.streams.ActiveModel;
import io.metastream.streams.AdaptationEngine;
import io.metastream.streams.DeadLetterCounters;
import io.metastream.streams.ErrorsToDeadLetters;
import io.metastream.streams.MetastreamTopology;
import io.metastream.streams.TaskQuery;
import io.metastream.streams.TaskSample;
import io.metastream.streams.TopologySettings;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * A click-through application that embeds metastream: {@code clicks} carries every answered
 * impression (JSON, keyed by user), {@code impressions} the ones to score; metastream adapts the
 * base to each user's clicks and writes {@link ClickProbability} JSON to {@code click-probabilities}.
 * The application's own processor reads those and sends the impressions worth showing to
 * {@code ads-to-show}, in the same topology and the same exactly-once transactions.
 */
public final class ClicksApp {
    public static final String CLICKS = "clicks";
    public static final String IMPRESSIONS = "impressions";
    public static final String PROBABILITIES = "click-probabilities";
    public static final String ADS_TO_SHOW = "ads-to-show";
    public static final String ADAPTATIONS = "ctr-adaptations";
    public static final String DEAD_LETTERS = "ctr-dead-letters";

    private ClicksApp() {
    }

    /** The whole topology: the application's processor, then metastream under the prefix {@code ctr}. */
    public static Topology topology(ActiveModel model, AdaptationEngine engine, double showAbove) {
        JsonSerde<Click> clicks = new JsonSerde<>(Click.class);
        JsonSerde<ClickProbability> probabilities = new JsonSerde<>(ClickProbability.class);

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(PROBABILITIES, Consumed.with(Serdes.String(), probabilities))
                .filter((user, p) -> p.probability() > showAbove)
                .mapValues(ClickProbability::impression)
                .to(ADS_TO_SHOW, Produced.with(Serdes.String(), Serdes.String()));
        Topology topology = builder.build();

        return MetastreamTopology.builder(model, engine)
                .prefix("ctr")
                .settings(TopologySettings.defaults())
                .samples(CLICKS, Serdes.String(), clicks, (user, c, ts) ->
                        new TaskSample(c.user(), c.features(), Boolean.TRUE.equals(c.clicked()) ? 1f : 0f, c.time()))
                .queries(IMPRESSIONS, Serdes.String(), clicks, (user, c, ts) ->
                        new TaskQuery(c.user(), c.impression(), c.features(), c.time()))
                .predictions(PROBABILITIES, probabilities, p -> new ClickProbability(p.getTaskId(), p.getQueryId(),
                        p.getValue(), p.getAdapted(), p.getSupportSize(), p.getModelVersion()))
                .adaptations(ADAPTATIONS)
                .deadLetters(DEAD_LETTERS)
                .addTo(topology);
    }

    /** Kafka Streams settings for this application: exactly once, and metastream's dead-letter handlers. */
    public static Properties streamsProperties(String bootstrapServers, String stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "clicks-app");
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100L);
        // A query and the clicks before it sit on two partitions of one stream task; take records in
        // timestamp order across them without a fixed idle delay.
        p.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, 0L);
        ErrorsToDeadLetters.install(p, DEAD_LETTERS, 64 * 1024, new DeadLetterCounters());
        return p;
    }
}

package io.metastream.server;

import io.metastream.learn.BaseModel;
import io.metastream.schemas.ClassScore;
import io.metastream.streams.internals.ClassAnswers;
import io.metastream.learn.CheckedPredictions;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.streams.ActiveModel;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.internals.NonFinitePredictionException;
import io.metastream.streams.internals.PackedSupportSet;
import io.metastream.streams.internals.PipelineNames;
import io.metastream.streams.internals.TaskStateStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * One task's state as this instance holds it, read from the pipeline's RocksDB stores through
 * Kafka Streams' interactive queries, and predictions from it. Reads only the local stores: the
 * HTTP layer routes a request to the instance that owns the task ({@link #owner}).
 *
 * <p>As-of semantics of {@link #predict}: the prediction uses the task's adapted state as last
 * written (the state a topic query would use if the task had no new samples), so it reflects the
 * samples up to {@link View#adaptedThroughMs()}; samples that arrived since wait for the next
 * adaptation round ({@link View#pendingSamples()}), and a state adapted under another base than the
 * one served now is not used (the base answers, as on the topic path before the lazy re-adaptation).
 * Under exactly-once, a read may see writes of a transaction that has not committed yet.
 */
public final class TaskStates {
    private final KafkaStreams streams;
    private final PipelineNames names;
    private final ActiveModel model;
    private final MetastreamMetrics metrics;

    public TaskStates(KafkaStreams streams, PipelineNames names, ActiveModel model) {
        this(streams, names, model, MetastreamMetrics.none());
    }

    /** @param metrics where non-finite predictions are counted */
    public TaskStates(KafkaStreams streams, PipelineNames names, ActiveModel model, MetastreamMetrics metrics) {
        this.streams = streams;
        this.names = names;
        this.model = model;
        this.metrics = Objects.requireNonNull(metrics, "metrics");
    }

    /** What this instance knows of a task. */
    public record View(String taskId, int supportSize, long totalSeen, long newestSampleMs, boolean adapted,
            String adaptedBase, long adaptedThroughMs, boolean pendingSamples, String servedBase) {
    }

    /**
     * A prediction from a task's current state. For a classifying base, {@code label} and
     * {@code scores} as on the predictions topic (the value is the label's probability); null for a
     * regression base.
     */
    public record Answer(String taskId, float value, boolean adapted, int supportSize, long adaptedThroughMs,
            String modelVersion, boolean pendingSamples, String label, List<ClassScore> scores) {
    }

    /**
     * Where {@code taskId} lives: its active and standby hosts ({@code application.server} of each),
     * assuming records are keyed by the task id in UTF-8, as metastream's producers do.
     */
    public KeyQueryMetadata owner(String taskId) {
        return streams.queryMetadataForKey(names.supportSets(), taskId, Serdes.String().serializer());
    }

    /** The number of features {@link #predict} takes: the input size of the base served now. */
    public int inputDim() {
        return model.base().inputDim();
    }

    /**
     * The task as the local stores hold it; empty if they hold nothing for it.
     *
     * @param allowStale also read a standby or restoring copy
     * @throws InvalidStateStoreException if the stores cannot be read here now (rebalancing, or not
     *     hosted here)
     */
    public Optional<View> describe(String taskId, boolean allowStale) {
        TaskStateStore tasks = tasks(allowStale);
        PackedSupportSet set = tasks.supportSet(taskId);
        AdaptedTask state = tasks.adapted(taskId);
        boolean dirty = tasks.isDirty(taskId);
        if (set == null && state == null) {
            return Optional.empty();
        }
        BaseModel base = model.base();
        return Optional.of(new View(taskId, set == null ? 0 : set.size(),
                set == null ? 0 : set.totalSeen(), set == null ? 0 : set.lastSeenMs(),
                state != null, state == null ? null : state.getBaseVersion(),
                state == null ? 0 : state.getNewestSampleTime().toEpochMilli(), dirty, base.version()));
    }

    /**
     * Predicts {@code features} for {@code taskId} from its adapted state (as of the class comment),
     * or from the base when it has none usable or when its state answers a non-finite value (then
     * {@link Answer#adapted()} is false). The value is always finite.
     *
     * @throws NonFinitePredictionException if even the base answers these features with a value
     *     that is not finite (they are finite but extreme, say 3e38)
     * @throws IllegalArgumentException if {@code features} does not have the base's input size or
     *     holds a non-finite value
     * @throws InvalidStateStoreException as for {@link #describe}
     */
    public Answer predict(String taskId, float[] features, boolean allowStale) {
        BaseModel base = model.base();
        if (features.length != base.inputDim()) {
            throw new IllegalArgumentException("expected " + base.inputDim() + " features, got " + features.length);
        }
        for (float f : features) {
            if (!Float.isFinite(f)) {
                throw new IllegalArgumentException("features must be finite");
            }
        }
        TaskStateStore tasks = tasks(allowStale);
        // The same rule and decoding as the topic path, so both answer alike from the same bytes.
        TaskStateStore.State state = tasks.stateFor(taskId, base);
        // Samples not yet in the answer: new ones, or a state still to be re-adapted (another base,
        // or restored here without one).
        boolean dirty = tasks.isDirty(taskId) || (state.held() && !state.usable());
        if (base.classifies()) {
            return classify(taskId, features, base, state, dirty);
        }
        List<float[]> states = new ArrayList<>(1);
        states.add(state.weights());
        CheckedPredictions p = model.learner().predictChecked(base, states,
                List.<float[][]>of(new float[][] {features}));
        if (!p.isFinite(0)) {
            metrics.nonFinitePrediction(MetastreamMetrics.NonFiniteOutcome.REFUSED);
            throw new NonFinitePredictionException("these features are too extreme for the model: its "
                    + "answer is not a finite number");
        }
        if (p.fellBack(0)) {
            metrics.nonFinitePrediction(MetastreamMetrics.NonFiniteOutcome.FELL_BACK);
        }
        boolean adapted = state.usable() && !p.fellBack(0);
        return new Answer(taskId, p.values()[0][0], adapted, adapted ? state.supportSize() : 0,
                adapted ? state.newestSampleMs() : 0, base.version(), dirty, null, null);
    }

    /** {@link #predict} for a classifying base: its classes' probabilities, or the cold rule. */
    private Answer classify(String taskId, float[] features, BaseModel base, TaskStateStore.State state,
            boolean dirty) {
        if (!ClassAnswers.answeredByModel(state.weights(), state.labels())) {
            ClassAnswers cold = ClassAnswers.cold(state.labels()); // empty unless usable
            return new Answer(taskId, cold.probability(), false, 0, 0, base.version(), dirty, cold.label(),
                    cold.scores());
        }
        float[] p = model.learner().classify(base, java.util.Arrays.asList(state.weights()),
                List.<float[][]>of(new float[][] {features}), new int[] {state.labels().size()})[0][0];
        if (!io.metastream.learn.Finite.all(p)) {
            metrics.nonFinitePrediction(MetastreamMetrics.NonFiniteOutcome.REFUSED);
            throw new NonFinitePredictionException("these features are too extreme for the model: its "
                    + "class probabilities are not finite");
        }
        ClassAnswers answer = ClassAnswers.of(p, state.labels());
        return new Answer(taskId, answer.probability(), true, state.supportSize(), state.newestSampleMs(),
                base.version(), dirty, answer.label(), answer.scores());
    }

    /** The local stores of the pipeline, read through interactive queries. */
    private TaskStateStore tasks(boolean allowStale) {
        return TaskStateStore.readOnly(store(names.supportSets(), allowStale, PackedSupportSet.class),
                store(names.adaptedTasks(), allowStale, AdaptedTask.class),
                store(names.dirtyTasks(), allowStale, Long.class));
    }

    private <V> ReadOnlyKeyValueStore<String, V> store(String name, boolean allowStale, Class<V> valueType) {
        StoreQueryParameters<ReadOnlyKeyValueStore<String, V>> parameters =
                StoreQueryParameters.fromNameAndType(name, QueryableStoreTypes.<String, V>keyValueStore());
        return streams.store(allowStale ? parameters.enableStaleStores() : parameters);
    }
}

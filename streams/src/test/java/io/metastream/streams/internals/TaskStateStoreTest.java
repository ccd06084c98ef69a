package io.metastream.streams.internals;

import static io.metastream.streams.internals.InMemoryTaskStores.sample;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.learn.AdaptationSettings;
import io.metastream.learn.BaseModel;
import io.metastream.learn.MlpArchitecture;
import io.metastream.schemas.state.AdaptedTask;
import io.metastream.schemas.state.SupportPoint;
import io.metastream.streams.MetastreamMetrics;
import io.metastream.streams.TopologySettings;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The one owner of a stream task's per-task state, on in-memory stores looked up by their pipeline
 * names in a {@code MockProcessorContext}: appends with their dedupe and bounds, dirty marks, the
 * state-for-base rule, write-if-newer and expiry of all three stores together.
 */
class TaskStateStoreTest {
    private static final int MAX_SUPPORT = 3;
    private static final long TTL = 3_600_000L;
    private static final MlpArchitecture ARCH = MlpArchitecture.parse("1-8-1");
    private static final BaseModel BASE = base("sinusoid@1", 1);
    private static final BaseModel NEXT = base("sinusoid@2", 2);

    private final PipelineNames names = new PipelineNames("p");
    private final AtomicLong instanceTasks = new AtomicLong();
    private InMemoryTaskStores stores;
    private TaskStateStore tasks;

    private static BaseModel base(String version, long seed) {
        Random r = new Random(seed);
        float[] p = new float[ARCH.parameterCount()];
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) r.nextGaussian();
        }
        return new BaseModel(version, "reptile", ARCH, p, new AdaptationSettings(1, 0.01f));
    }

    @BeforeEach
    void open() {
        stores = new InMemoryTaskStores(names);
        TopologySettings.Limits d = TopologySettings.Limits.defaults();
        TopologySettings settings = TopologySettings.of(MAX_SUPPORT, 200, 256, true, 20)
                .withLimits(new TopologySettings.Limits(d.maxRecordBytes(), d.maxFutureMs(),
                        d.deadLetterMaxValueBytes(), TTL, d.expiryIntervalMs(), 2, 100));
        tasks = TaskStateStore.withRetention(stores.context, names, settings, instanceTasks, MetastreamMetrics.none());
        assertThat(tasks.open()).as("a new index is not marked complete").isFalse();
        assertThat(tasks.backfill()).as("until one backfill has found nothing to index").isTrue();
    }

    private static AdaptedTask state(BaseModel base, float[] weights, int encoding, long newestMs) {
        AdaptedStateCodec.Encoded e = AdaptedStateCodec.encode(weights, base.parameters(), encoding);
        return AdaptedTask.newBuilder().setBaseVersion(base.version()).setSupportSize(2).setState(e.bytes())
                .setStateEncoding(e.encoding()).setLossBefore(1f).setLossAfter(0.5f).setAdaptedAt(Instant.EPOCH)
                .setNewestSampleTime(Instant.ofEpochMilli(newestMs)).build();
    }

    private static float[] nudged(BaseModel base, float by) {
        float[] w = base.parameters();
        for (int i = 0; i < w.length; i++) {
            w[i] += by;
        }
        return w;
    }

    @Test
    void shouldKeepTheNewestSamplesInEventTimeOrderWithoutDuplicates() {
        assertThat(tasks.append(sample("t", "e3", 30, 3f, 3f), 1_000).kept()).isTrue();
        assertThat(tasks.append(sample("t", "e1", 10, 1f, 1f), 1_001).kept()).isTrue();
        assertThat(tasks.append(sample("t", "e2", 20, 2f, 2f), 1_002).kept()).isTrue();
        assertThat(tasks.append(sample("t", "e2", 20, 9f, 9f), 1_003).kept()).as("a redelivery").isFalse();
        assertThat(tasks.append(sample("t", "e4", 40, 4f, 4f), 1_004).kept()).isTrue();
        assertThat(tasks.append(sample("t", "e0", 5, 0f, 0f), 1_005).kept())
                .as("older than everything a full set holds: an evicted sample redelivered").isFalse();

        assertThat(stores.sets.get("t").toAvro().getPoints()).extracting(SupportPoint::getEventId)
                .containsExactly("e2", "e3", "e4");
        assertThat(stores.sets.get("t").toAvro().getTotalSeen()).isEqualTo(4);
        assertThat(stores.sets.get("t").toAvro().getLastUpdated()).isEqualTo(Instant.ofEpochMilli(1_004));
        TaskStateStore.Snapshot all = tasks.snapshot("t");
        assertThat(all.support().size()).isEqualTo(3);
        assertThat(all.newestEventTimeMs()).isEqualTo(40);
        assertThat(tasks.snapshot("nobody").support().size()).isZero();
    }

    @Test
    void shouldGiveTheSamplesUpToATimeOnlyWhenTheTaskHoldsLaterOnes() {
        tasks.append(sample("t", "a", 10, 1f, 1f), 100);
        tasks.append(sample("t", "b", 20, 2f, 2f), 101);
        assertThat(tasks.asOf("t", 20)).as("nothing after 20: the whole set applies").isNull();
        TaskStateStore.Snapshot before = tasks.asOf("t", 15);
        assertThat(before.support().size()).isEqualTo(1);
        assertThat(before.newestEventTimeMs()).isEqualTo(10);
        assertThat(tasks.asOf("t", 5).support().size()).isZero();
        assertThat(tasks.asOf("nobody", 5)).isNull();
    }

    @Test
    void shouldEvictTheLeastRecentlyUpdatedTaskWhenANewTaskPassesTheBound() {
        assertThat(tasks.append(sample("a", "a1", 1, 1f, 1f), 1).evicted()).isEmpty();
        assertThat(tasks.append(sample("b", "b1", 2, 1f, 1f), 2).evicted()).isEmpty();
        tasks.markDirty("a", 1);
        assertThat(tasks.append(sample("c", "c1", 3, 1f, 1f), 3).evicted()).containsExactly("a");
        assertThat(stores.sets.get("a")).isNull();
        assertThat(tasks.isDirty("a")).as("the task goes as a whole").isFalse();
        assertThat(instanceTasks.get()).isEqualTo(2);
    }

    @Test
    void shouldKeepTheFirstDirtyTimeUntilCleared() {
        tasks.markDirty("b", 5);
        tasks.markDirty("a", 7);
        tasks.markDirty("a", 9);
        assertThat(stores.dirty.get("a")).isEqualTo(7L);
        assertThat(tasks.dirtyTasks()).containsExactly("a", "b");
        tasks.clearDirty("a");
        assertThat(tasks.isDirty("a")).isFalse();
        assertThat(tasks.dirtyTasks()).containsExactly("b");
    }

    @Test
    void shouldDecodeAStateOnlyForTheBaseItWasAdaptedUnder() {
        float[] weights = nudged(BASE, 0.25f);
        stores.adapted.put("f32", state(BASE, weights, AdaptedStateCodec.FLOAT32, 42));
        stores.adapted.put("int8", state(BASE, weights, AdaptedStateCodec.INT8_DELTA, 42));

        TaskStateStore.State f32 = tasks.stateFor("f32", BASE);
        assertThat(f32.usable()).isTrue();
        assertThat(f32.weights()).containsExactly(weights);
        assertThat(f32.supportSize()).isEqualTo(2);
        assertThat(f32.newestSampleMs()).isEqualTo(42);
        TaskStateStore.State int8 = tasks.stateFor("int8", BASE);
        assertThat(int8.weights()).containsExactly(AdaptedStateCodec.decode(stores.adapted.get("int8").getState(),
                AdaptedStateCodec.INT8_DELTA, BASE.parameters()));

        TaskStateStore.State other = tasks.stateFor("int8", NEXT);
        assertThat(other.held()).isTrue();
        assertThat(other.usable()).as("never read by another base").isFalse();
        assertThat(other.weights()).isNull();
        assertThat(tasks.needsAdaptation("int8", NEXT)).isTrue();
        assertThat(tasks.needsAdaptation("int8", BASE)).isFalse();
        assertThat(tasks.needsAdaptation("nobody", NEXT)).isFalse();
        assertThat(tasks.stateFor("nobody", BASE)).isEqualTo(TaskStateStore.State.NONE);
    }

    @Test
    void shouldRefuseAStateWhoseBytesDoNotFitTheBase() {
        AdaptedTask corrupt = state(BASE, nudged(BASE, 0.1f), AdaptedStateCodec.INT8_DELTA, 1);
        corrupt.setState(ByteBuffer.wrap(new byte[12]));
        stores.adapted.put("bad", corrupt);
        assertThatThrownBy(() -> tasks.stateFor("bad", BASE)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldWriteAStateOnlyOverAnOlderOne() {
        AdaptedTask newer = state(BASE, nudged(BASE, 0.1f), AdaptedStateCodec.FLOAT32, 50);
        assertThat(tasks.writeStateIfNewer("t", newer, 50)).as("nothing stored yet").isTrue();
        AdaptedTask same = state(BASE, nudged(BASE, 0.2f), AdaptedStateCodec.FLOAT32, 50);
        assertThat(tasks.writeStateIfNewer("t", same, 50)).as("as new as the stored one").isFalse();
        assertThat(tasks.writeStateIfNewer("t", null, 40)).as("older").isFalse();
        assertThat(stores.adapted.get("t")).isEqualTo(newer);
        AdaptedTask latest = state(BASE, nudged(BASE, 0.3f), AdaptedStateCodec.FLOAT32, 60);
        assertThat(tasks.writeStateIfNewer("t", latest, 60)).isTrue();
        assertThat(stores.adapted.get("t")).isEqualTo(latest);
        tasks.writeState("t", null);
        assertThat(stores.adapted.get("t")).as("null removes: the base answers").isNull();
    }

    @Test
    void shouldKnowATaskHoldsNothingAfterATimeWithoutReadingItsSupportSet() {
        assertThat(tasks.holdsNothingAfter("nobody", 0)).isTrue();
        stores.adapted.put("t", state(BASE, nudged(BASE, 0.1f), AdaptedStateCodec.FLOAT32, 50));
        assertThat(tasks.holdsNothingAfter("t", 50)).isTrue();
        assertThat(tasks.holdsNothingAfter("t", 49)).isFalse();
        tasks.markDirty("t", 60);
        assertThat(tasks.holdsNothingAfter("t", 1_000)).as("a dirty task may hold newer samples").isFalse();
    }

    @Test
    void shouldTreatSamplesWithoutAStateAsStaleAndMarkThemForTheBackgroundRounds() {
        // As after a restore: adapted states have no changelog, support sets and dirty marks do.
        for (String id : List.of("a", "b", "c", "d", "e")) { // written as a restore does, past any bound
            stores.sets.put(id, PackedSupportSet.empty().append(id + "1", null, new float[] {1f}, 1f, 40, MAX_SUPPORT,
                    0));
        }
        stores.adapted.put("c", state(BASE, nudged(BASE, 0.1f), AdaptedStateCodec.FLOAT32, 40));
        // At-least-once after a crash: a state RocksDB had flushed, older than the restored set.
        stores.adapted.put("e", state(BASE, nudged(BASE, 0.1f), AdaptedStateCodec.FLOAT32, 39));

        TaskStateStore.State lost = tasks.stateFor("a", BASE);
        assertThat(lost.held()).as("it holds samples").isTrue();
        assertThat(lost.usable()).isFalse();
        assertThat(tasks.needsAdaptation("a", BASE)).isTrue();
        assertThat(tasks.needsAdaptation("c", BASE)).isFalse();
        assertThat(tasks.holdsNothingAfter("a", 39)).as("its set, not a state, says what it holds").isFalse();
        assertThat(tasks.holdsNothingAfter("a", 40)).isTrue();

        assertThat(tasks.markUnadapted(2, 7)).as("two of five per call").isFalse();
        assertThat(tasks.dirtyTasks()).containsExactly("a", "b");
        assertThat(tasks.markUnadapted(2, 8)).isFalse();
        assertThat(tasks.dirtyTasks()).as("c has its state").containsExactly("a", "b", "d");
        assertThat(tasks.markUnadapted(2, 9)).isTrue();
        assertThat(tasks.dirtyTasks()).as("e's state predates its newest sample").containsExactly("a", "b", "d", "e");
        assertThat(stores.dirty.get("a")).isEqualTo(7L);
    }

    @Test
    void shouldIndexOnEveryOpenTheSupportSetsTheLocalIndexLacks() {
        // The index is complete, then a set arrives without its entry: restored from the changelog
        // into a kept store, or an at-least-once crash lost the entry RocksDB had not flushed.
        stores.sets.put("restored", PackedSupportSet.empty().append("r1", null, new float[] {1f}, 1f, 5, MAX_SUPPORT,
                0));
        assertThat(tasks.expire(TTL + 1)).as("unindexed: invisible to expiry").isEmpty();
        tasks.close();
        assertThat(tasks.open()).as("every open checks the index").isFalse();
        assertThat(instanceTasks.get()).isZero();
        assertThat(tasks.backfill()).isTrue();
        assertThat(instanceTasks.get()).isEqualTo(1);
        assertThat(tasks.expire(TTL + 1)).containsExactly("restored");
        assertThat(stores.sets.get("restored")).isNull();
    }

    @Test
    void shouldExpireIdleTasksFromAllThreeStores() {
        tasks.append(sample("old", "o", 1, 1f, 1f), 0);
        tasks.markDirty("old", 0);
        stores.adapted.put("old", state(BASE, nudged(BASE, 0.1f), AdaptedStateCodec.FLOAT32, 1));
        tasks.append(sample("fresh", "f", 2, 1f, 1f), TTL / 2);
        assertThat(tasks.expire(TTL)).as("idle for exactly the TTL").isEmpty();
        assertThat(tasks.expire(TTL + 1)).containsExactly("old");
        assertThat(stores.sets.get("old")).isNull();
        assertThat(stores.adapted.get("old")).isNull();
        assertThat(stores.dirty.get("old")).isNull();
        assertThat(stores.sets.get("fresh")).isNotNull();
        assertThat(instanceTasks.get()).isEqualTo(1);
        tasks.close();
        assertThat(instanceTasks.get()).as("out of the instance's count once closed").isZero();
    }

    @Test
    void shouldLeaveAddingAndRemovingTasksToTheSampleProcessorsView() {
        TopologySettings settings = TopologySettings.of(MAX_SUPPORT, 200, 256, true, 20);
        TaskStateStore queries = TaskStateStore.of(stores.context, names, settings);
        tasks.append(sample("t", "e", 1, 1f, 1f), 1);
        assertThat(queries.snapshot("t").support().size()).as("the same stores, by name").isEqualTo(1);
        queries.markDirty("t", 1);
        assertThat(tasks.isDirty("t")).isTrue();
        assertThatThrownBy(() -> queries.append(sample("t", "e2", 2, 1f, 1f), 2))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> queries.expire(2)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shouldApplyTheSameRuleThroughTheReadOnlyViewAndRefuseWrites() {
        float[] weights = nudged(BASE, 0.25f);
        stores.adapted.put("t", state(BASE, weights, AdaptedStateCodec.INT8_DELTA, 42));
        TaskStateStore view = TaskStateStore.readOnly(stores.sets, stores.adapted, stores.dirty);
        assertThat(view.stateFor("t", BASE).weights()).containsExactly(tasks.stateFor("t", BASE).weights());
        assertThat(view.stateFor("t", NEXT).usable()).isFalse();
        assertThatThrownBy(() -> view.markDirty("t", 1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> view.writeState("t", null)).isInstanceOf(IllegalStateException.class);
        assertThat(stores.adapted.get("t")).isNotNull();
    }
}

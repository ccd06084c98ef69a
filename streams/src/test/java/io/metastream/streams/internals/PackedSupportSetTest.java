package io.metastream.streams.internals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.learn.SampleSet;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.RecordDecodeException;
import io.metastream.schemas.state.SupportPoint;
import io.metastream.schemas.state.SupportSet;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PackedSupportSetTest {
    private static final String GOLDEN_V1 = "packed-support-set-v1.bin";
    private static final String GOLDEN = "packed-support-set-v2.bin";

    /**
     * The set the golden files hold: two samples of two features, one id with a non-ASCII
     * character; in version 2 the second has a label, non-ASCII too.
     */
    private static PackedSupportSet goldenSet() {
        return PackedSupportSet.empty()
                .append("e-1", new float[] {0.5f, -1.25f}, 3f, 1_000L, 20, 5_000L)
                .append("é-2", "ß-class", new float[] {2f, 4f}, -0.75f, 2_000L, 20, 6_000L);
    }

    @Test
    void shouldWriteVersionTwoExactlyAsTheGoldenFileHoldsIt() throws IOException {
        if (Boolean.getBoolean("metastream.golden.write")) {
            java.nio.file.Files.write(java.nio.file.Path.of("src/test/resources/io/metastream/streams/internals",
                    GOLDEN), goldenSet().bytes());
        }
        byte[] golden = golden(GOLDEN);
        assertThat(goldenSet().bytes()).as("format version 2 changed: add a version instead").isEqualTo(golden);

        PackedSupportSet read = PackedSupportSet.parse(golden);
        assertThat(read.size()).isEqualTo(2);
        assertThat(read.totalSeen()).isEqualTo(2);
        assertThat(read.lastSeenMs()).isEqualTo(2_000L);
        assertThat(read.lastUpdatedMs()).isEqualTo(6_000L);
        assertThat(read.eventId(1)).isEqualTo("é-2");
        assertThat(read.label(0)).isNull();
        assertThat(read.label(1)).isEqualTo("ß-class");
        SampleSet samples = read.samples();
        assertThat(samples.features()).isDeepEqualTo(new float[][] {{0.5f, -1.25f}, {2f, 4f}});
        assertThat(samples.targets()).containsExactly(3f, -0.75f);
    }

    @Test
    void shouldReadVersionOneAsSamplesWithoutLabelsAndWriteVersionTwoOnTheNextSample() throws IOException {
        PackedSupportSet read = PackedSupportSet.parse(golden(GOLDEN_V1));
        assertThat(read.size()).isEqualTo(2);
        assertThat(read.totalSeen()).isEqualTo(2);
        assertThat(read.lastUpdatedMs()).isEqualTo(6_000L);
        assertThat(read.eventId(1)).isEqualTo("é-2");
        assertThat(read.label(0)).isNull();
        assertThat(read.label(1)).isNull();
        assertThat(read.samples().features()).isDeepEqualTo(new float[][] {{0.5f, -1.25f}, {2f, 4f}});
        assertThat(read.samples().targets()).containsExactly(3f, -0.75f);
        PackedSupportSet next = read.append("e-3", "c", new float[] {1f, 1f}, 0f, 3_000L, 20, 7_000L);
        assertThat(next.bytes()[1]).isEqualTo(PackedSupportSet.VERSION);
        PackedSupportSet again = PackedSupportSet.parse(next.bytes());
        assertThat(again.size()).isEqualTo(3);
        assertThat(again.label(2)).isEqualTo("c");
        assertThat(again.eventId(0)).isEqualTo("e-1");
    }

    @Test
    void shouldNumberAClassifiersClassesInTheOrderTheSupportSetFirstShowsThem() {
        PackedSupportSet set = PackedSupportSet.empty()
                .append("1", "dog", new float[] {1f}, 0f, 10, 20, 0)
                .append("2", null, new float[] {2f}, 0f, 20, 20, 0)
                .append("3", "cat", new float[] {3f}, 0f, 30, 20, 0)
                .append("4", "dog", new float[] {4f}, 0f, 40, 20, 0)
                .append("5", "eel", new float[] {5f}, 0f, 50, 20, 0)
                .append("0", "eel", new float[] {0f}, 0f, 5, 20, 0); // arrives last, oldest by event time
        PackedSupportSet.LearnerSupport all = set.classesUpTo(Long.MAX_VALUE, Integer.MAX_VALUE);
        assertThat(all.labels()).containsExactly("eel", "dog", "cat");
        assertThat(all.support().features()).isDeepEqualTo(new float[][] {{0f}, {1f}, {3f}, {4f}, {5f}});
        assertThat(all.support().targets()).containsExactly(0f, 1f, 2f, 1f, 0f);

        PackedSupportSet.LearnerSupport two = set.classesUpTo(Long.MAX_VALUE, 2);
        assertThat(two.labels()).containsExactly("eel", "dog");
        assertThat(two.support().targets()).containsExactly(0f, 1f, 1f, 0f);

        PackedSupportSet.LearnerSupport early = set.classesUpTo(30, Integer.MAX_VALUE);
        assertThat(early.labels()).containsExactly("eel", "dog", "cat");
        assertThat(early.support().size()).isEqualTo(3);

        // Evicting a class's every sample takes it out of the numbering.
        PackedSupportSet bounded = set.append("6", "fox", new float[] {6f}, 0f, 60, 3, 0);
        assertThat(bounded.classesUpTo(Long.MAX_VALUE, Integer.MAX_VALUE).labels()).containsExactly("dog", "eel", "fox");
    }

    @Test
    void shouldTreatAnEmptyLabelAsNoneWhetherAppendedNowOrStoredByAnEarlierBuild() {
        // A regression base keeps unlabelled samples; a classifier refuses an empty label as missing.
        // So after a swap to a classifier, "" must not become a class of its own.
        PackedSupportSet appended = PackedSupportSet.empty()
                .append("1", "", new float[] {1f}, 0f, 10, 20, 0)
                .append("2", "dog", new float[] {2f}, 0f, 20, 20, 0);
        assertThat(appended.label(0)).isNull();
        assertThat(appended.classesUpTo(Long.MAX_VALUE, Integer.MAX_VALUE).labels()).containsExactly("dog");

        // Builds before this one stored "" with a label length of 0: the version-2 bytes of one such sample.
        byte[] id = "1".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuffer earlier = ByteBuffer.allocate(PackedSupportSet.HEADER_BYTES + 8 + 4 + 4 + id.length + 4 + 4 + 4)
                .put(PackedSupportSet.MAGIC).put((byte) 2).putInt(1).putLong(1L).putLong(10L).putLong(10L)
                .putLong(10L).putFloat(0f).putInt(id.length).put(id).putInt(0).putInt(1).putFloat(1f);
        PackedSupportSet stored = PackedSupportSet.parse(earlier.array());
        assertThat(stored.size()).isEqualTo(1);
        assertThat(stored.label(0)).isNull();
        PackedSupportSet.LearnerSupport classes = stored.append("2", "dog", new float[] {2f}, 0f, 20, 20, 0)
                .classesUpTo(Long.MAX_VALUE, Integer.MAX_VALUE);
        assertThat(classes.labels()).containsExactly("dog");
        assertThat(classes.support().size()).as("the empty-labelled sample is left out").isEqualTo(1);
    }

    @Test
    void shouldRefuseALabelLengthThatLiesAboutTheBytes() {
        byte[] bytes = goldenSet().bytes().clone();
        // The second sample's label length sits after its id: find it by value.
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int at = -1;
        for (int i = 0; i + 4 <= bytes.length; i++) {
            if (b.getInt(i) == "ß-class".getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                    && new String(bytes, i + 4, 8, java.nio.charset.StandardCharsets.UTF_8).startsWith("ß-class")) {
                at = i;
            }
        }
        assertThat(at).isPositive();
        for (int lie : new int[] {Integer.MAX_VALUE, bytes.length, -2, Integer.MIN_VALUE}) {
            byte[] corrupt = bytes.clone();
            ByteBuffer.wrap(corrupt).putInt(at, lie);
            assertThatThrownBy(() -> PackedSupportSet.parse(corrupt)).isInstanceOf(RecordDecodeException.class)
                    .hasMessageContaining("corrupt support set");
        }
    }

    private static byte[] golden(String name) throws IOException {
        try (InputStream in = PackedSupportSetTest.class.getResourceAsStream(name)) {
            assertThat(in).as(name + " on the test classpath").isNotNull();
            return in.readAllBytes();
        }
    }

    @Test
    void shouldReadTheAvroSupportSetsOfEarlierVersionsAndRewriteThemOnTheNextSample() {
        SupportSet legacy = SupportSet.newBuilder()
                .setPoints(List.of(point("a", 10, 1f, 0.1f), point("b", 20, 2f, 0.2f)))
                .setTotalSeen(7).setLastSeen(Instant.ofEpochMilli(20)).setLastUpdated(Instant.ofEpochMilli(99))
                .build();
        byte[] stored = AvroCodec.of(SupportSet.class).encode(legacy);

        PackedSupportSet read = PackedSupportSet.SERDE.deserializer().deserialize("changelog", stored);
        assertThat(read.toAvro()).isEqualTo(legacy);
        assertThat(read.samplesUpTo(15).targets()).containsExactly(1f);

        PackedSupportSet next = read.append("c", new float[] {0.3f}, 3f, 30, 20, 200);
        byte[] rewritten = PackedSupportSet.SERDE.serializer().serialize("changelog", next);
        assertThat(rewritten[0]).as("written in the packed format").isEqualTo(PackedSupportSet.MAGIC);
        SupportSet after = PackedSupportSet.parse(rewritten).toAvro();
        assertThat(after.getPoints()).extracting(SupportPoint::getEventId).containsExactly("a", "b", "c");
        assertThat(after.getTotalSeen()).isEqualTo(8);
        assertThat(after.getLastUpdated()).isEqualTo(Instant.ofEpochMilli(200));
    }

    private static SupportPoint point(String id, long timeMs, float target, float feature) {
        return SupportPoint.newBuilder().setEventId(id).setFeatures(List.of(feature)).setTarget(target)
                .setEventTime(Instant.ofEpochMilli(timeMs)).build();
    }

    @Test
    void shouldAppendAsTheAvroSetDidForAnyOrderOfArrivalRedeliveriesAndBound() {
        // The reference: the list rule the Avro set followed, on the same random arrivals.
        Random random = new Random(42);
        for (int trial = 0; trial < 200; trial++) {
            int max = 1 + random.nextInt(6);
            PackedSupportSet packed = PackedSupportSet.empty();
            List<long[]> reference = new ArrayList<>(); // {time, id}
            for (int i = 0; i < 30; i++) {
                long time = random.nextInt(40);
                long id = random.nextInt(25);
                boolean duplicate = reference.stream().anyMatch(p -> p[1] == id);
                boolean tooOld = reference.size() >= max && time < reference.get(0)[0];
                PackedSupportSet next = packed.append("id" + id, new float[] {id}, time, time, max, i);
                assertThat(next == null).as("trial %d, arrival %d: ignored", trial, i).isEqualTo(duplicate || tooOld);
                if (next == null) {
                    continue;
                }
                int at = reference.size();
                while (at > 0 && reference.get(at - 1)[0] > time) {
                    at--;
                }
                reference.add(at, new long[] {time, id});
                while (reference.size() > max) {
                    reference.remove(0);
                }
                packed = PackedSupportSet.parse(next.bytes());
                SampleSet held = packed.samples();
                assertThat(held.size()).isEqualTo(reference.size());
                for (int k = 0; k < reference.size(); k++) {
                    assertThat(packed.eventId(k)).isEqualTo("id" + reference.get(k)[1]);
                    assertThat(packed.eventTimeMs(k)).isEqualTo(reference.get(k)[0]);
                    assertThat(held.targets()[k]).isEqualTo((float) reference.get(k)[0]);
                    assertThat(held.features()[k][0]).isEqualTo((float) reference.get(k)[1]);
                }
            }
        }
    }

    @Test
    void shouldDropTheOldestWhenTheBoundShrinksEvenTheNewSampleItself() {
        PackedSupportSet set = PackedSupportSet.empty();
        for (int i = 0; i < 5; i++) {
            set = set.append("e" + i, new float[] {i}, i, 10 * i, 5, i);
        }
        PackedSupportSet shrunk = set.append("new", new float[] {9}, 9, 45, 2, 9);
        assertThat(shrunk.toAvro().getPoints()).extracting(SupportPoint::getEventId).containsExactly("e4", "new");
        PackedSupportSet lateAndShrunk = set.append("late", new float[] {9}, 9, 5, 2, 9);
        assertThat(lateAndShrunk.toAvro().getPoints()).extracting(SupportPoint::getEventId)
                .containsExactly("e3", "e4");
        assertThat(lateAndShrunk.totalSeen()).isEqualTo(6);
    }

    @Test
    void shouldRefuseBytesThatClaimMoreThanTheyHoldWithoutAllocatingIt() throws IOException {
        // Every truncation of a valid value, in both versions.
        for (String name : List.of(GOLDEN_V1, GOLDEN)) {
            byte[] valid = golden(name);
            for (int cut = 0; cut < valid.length; cut++) {
                byte[] shorter = Arrays.copyOf(valid, cut);
                assertThatThrownBy(() -> PackedSupportSet.parse(shorter)).as("%s cut at %d", name, cut)
                        .isInstanceOf(RecordDecodeException.class);
            }
        }
        byte[] golden = golden(GOLDEN_V1);
        // Lengths that lie (version 1's layout): the sample count, an id length, a feature count, each at its maximum.
        int firstSample = PackedSupportSet.HEADER_BYTES;
        int idLength = firstSample + 12;
        int featureCount = firstSample + 16 + 3;
        for (int offset : new int[] {2, idLength, featureCount}) {
            byte[] lying = golden.clone();
            ByteBuffer.wrap(lying).putInt(offset, Integer.MAX_VALUE);
            assertThatThrownBy(() -> PackedSupportSet.parse(lying)).as("a lie at offset %d", offset)
                    .isInstanceOf(RecordDecodeException.class).hasMessageContaining("corrupt support set");
            ByteBuffer.wrap(lying).putInt(offset, -1);
            assertThatThrownBy(() -> PackedSupportSet.parse(lying)).isInstanceOf(RecordDecodeException.class);
        }
        byte[] trailing = Arrays.copyOf(golden, golden.length + 1);
        assertThatThrownBy(() -> PackedSupportSet.parse(trailing)).hasMessageContaining("after the last sample");
        byte[] future = golden.clone();
        future[1] = 3;
        assertThatThrownBy(() -> PackedSupportSet.parse(future)).hasMessageContaining("version 3");
        // Random bytes after a valid magic: refused or read, never anything else.
        Random random = new Random(7);
        for (int i = 0; i < 2_000; i++) {
            byte[] noise = new byte[random.nextInt(80)];
            random.nextBytes(noise);
            if (noise.length > 1) {
                noise[0] = PackedSupportSet.MAGIC;
                noise[1] = PackedSupportSet.VERSION;
            }
            try {
                PackedSupportSet read = PackedSupportSet.parse(noise);
                read.samples();
            } catch (RecordDecodeException expected) {
                assertThat(expected.reason()).isIn(RecordDecodeException.Reason.MALFORMED_BODY,
                        RecordDecodeException.Reason.BAD_HEADER, RecordDecodeException.Reason.EMPTY);
            }
        }
    }
}

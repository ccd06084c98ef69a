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
    private static final String GOLDEN = "packed-support-set-v1.bin";

    /** The set the golden file holds: two samples of two features, one id with a non-ASCII character. */
    private static PackedSupportSet goldenSet() {
        return PackedSupportSet.empty()
                .append("e-1", new float[] {0.5f, -1.25f}, 3f, 1_000L, 20, 5_000L)
                .append("é-2", new float[] {2f, 4f}, -0.75f, 2_000L, 20, 6_000L);
    }

    @Test
    void shouldWriteVersionOneExactlyAsTheGoldenFileHoldsIt() throws IOException {
        byte[] golden = golden();
        assertThat(goldenSet().bytes()).as("format version 1 changed: add a version instead").isEqualTo(golden);

        PackedSupportSet read = PackedSupportSet.parse(golden);
        assertThat(read.size()).isEqualTo(2);
        assertThat(read.totalSeen()).isEqualTo(2);
        assertThat(read.lastSeenMs()).isEqualTo(2_000L);
        assertThat(read.lastUpdatedMs()).isEqualTo(6_000L);
        assertThat(read.eventId(1)).isEqualTo("é-2");
        SampleSet samples = read.samples();
        assertThat(samples.features()).isDeepEqualTo(new float[][] {{0.5f, -1.25f}, {2f, 4f}});
        assertThat(samples.targets()).containsExactly(3f, -0.75f);
    }

    private static byte[] golden() throws IOException {
        try (InputStream in = PackedSupportSetTest.class.getResourceAsStream(GOLDEN)) {
            assertThat(in).as(GOLDEN + " on the test classpath").isNotNull();
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
        byte[] golden = golden();
        // Every truncation of a valid value.
        for (int cut = 0; cut < golden.length; cut++) {
            byte[] shorter = Arrays.copyOf(golden, cut);
            assertThatThrownBy(() -> PackedSupportSet.parse(shorter)).as("cut at %d", cut)
                    .isInstanceOf(RecordDecodeException.class);
        }
        // Lengths that lie: the sample count, an id length, a feature count, each at its maximum.
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
        future[1] = 2;
        assertThatThrownBy(() -> PackedSupportSet.parse(future)).hasMessageContaining("version 2");
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

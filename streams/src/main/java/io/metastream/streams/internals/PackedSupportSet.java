package io.metastream.streams.internals;

import io.metastream.learn.SampleSet;
import io.metastream.schemas.serde.AvroCodec;
import io.metastream.schemas.serde.RecordDecodeException;
import io.metastream.schemas.state.SupportPoint;
import io.metastream.schemas.state.SupportSet;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A task's support set as {@value io.metastream.streams.StoreNames#SUPPORT_SETS} holds it: a fixed
 * header, then the samples, oldest first, each a run of primitives. An append copies the stored
 * bytes around the new sample, and an adaptation reads the floats straight out of them. The Avro
 * {@link SupportSet} it replaces was decoded into objects and re-encoded on every sample, which
 * took half of the stream thread at 20,000 samples/s (docs/BENCHMARKS.md, "Where the time goes").
 *
 * <p>Layout, version 1, big-endian:
 * <pre>
 *   0  byte   'S' (0x53); Avro single-object encoding, the format before this one, starts with 0xC3
 *   1  byte   version, 1
 *   2  int    samples held
 *   6  long   samples ever accepted (total seen), evicted ones included
 *  14  long   event time of the newest accepted sample, epoch ms (last seen)
 *  22  long   wall-clock time the set last changed, epoch ms (last updated)
 *  30  samples: long event time (ms), float target, int id length, id (UTF-8), int feature count,
 *      float features
 * </pre>
 * The golden file {@code packed-support-set-v1.bin} pins it. Values in the old Avro format, in a
 * RocksDB store or restored from a changelog written before this format, are read as they are
 * and rewritten in this one by the task's next sample.
 *
 * <p>Every length is checked against the bytes that are there before anything is allocated, so a
 * corrupt value fails with {@link RecordDecodeException} instead of an enormous allocation.
 */
public final class PackedSupportSet {
    static final byte MAGIC = 'S';
    static final byte VERSION = 1;
    static final int HEADER_BYTES = 30;
    /** Event time, target, id length and feature count: what a sample with an empty id and no features takes. */
    private static final int SAMPLE_MIN_BYTES = 8 + 4 + 4 + 4;
    private static final AvroCodec<SupportSet> AVRO = AvroCodec.of(SupportSet.class);
    private static final PackedSupportSet EMPTY = new PackedSupportSet(header(0, 0L, 0L, 0L), new int[] {HEADER_BYTES});

    /** Reads both formats, writes this one. */
    public static final Serde<PackedSupportSet> SERDE = Serdes.serdeFrom(
            (Serializer<PackedSupportSet>) (topic, set) -> set == null ? null : set.bytes,
            (Deserializer<PackedSupportSet>) (topic, bytes) -> bytes == null ? null : parse(bytes));

    private final byte[] bytes;
    /** Where each sample starts, and one past the last: {@code count() + 1} offsets. */
    private final int[] offsets;

    private PackedSupportSet(byte[] bytes, int[] offsets) {
        this.bytes = bytes;
        this.offsets = offsets;
    }

    /**
     * Reads a stored value: this format, or the Avro {@link SupportSet} of earlier versions.
     *
     * @throws RecordDecodeException if the bytes are neither, or claim more than they hold
     */
    public static PackedSupportSet parse(byte[] bytes) {
        if (bytes.length > 0 && bytes[0] == MAGIC) {
            return parsePacked(bytes);
        }
        return of(AVRO.decode(bytes));
    }

    private static PackedSupportSet parsePacked(byte[] bytes) {
        if (bytes.length < HEADER_BYTES) {
            throw corrupt(bytes, "a header needs " + HEADER_BYTES + " bytes");
        }
        if (bytes[1] != VERSION) {
            throw corrupt(bytes, "version " + bytes[1] + ", this build reads version " + VERSION);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int count = b.getInt(2);
        if (count < 0 || count > (bytes.length - HEADER_BYTES) / SAMPLE_MIN_BYTES) {
            throw corrupt(bytes, "claims " + count + " samples");
        }
        int[] offsets = new int[count + 1];
        int at = HEADER_BYTES;
        for (int i = 0; i < count; i++) {
            offsets[i] = at;
            if (bytes.length - at < SAMPLE_MIN_BYTES) {
                throw corrupt(bytes, "sample " + i + " at offset " + at + " is cut short");
            }
            int idLength = b.getInt(at + 12);
            if (idLength < 0 || idLength > bytes.length - at - SAMPLE_MIN_BYTES) {
                throw corrupt(bytes, "sample " + i + " claims an id of " + idLength + " bytes");
            }
            int featuresAt = at + 16 + idLength;
            int featureCount = b.getInt(featuresAt);
            if (featureCount < 0 || featureCount > (bytes.length - featuresAt - 4) / 4) {
                throw corrupt(bytes, "sample " + i + " claims " + featureCount + " features");
            }
            at = featuresAt + 4 + 4 * featureCount;
        }
        if (at != bytes.length) {
            throw corrupt(bytes, (bytes.length - at) + " bytes after the last sample");
        }
        offsets[count] = at;
        return new PackedSupportSet(bytes, offsets);
    }

    private static RecordDecodeException corrupt(byte[] bytes, String why) {
        return new RecordDecodeException(RecordDecodeException.Reason.MALFORMED_BODY,
                "corrupt support set (" + bytes.length + " bytes): " + why, null);
    }

    /** The same samples, from the Avro record earlier versions stored. */
    public static PackedSupportSet of(SupportSet set) {
        List<SupportPoint> points = set.getPoints();
        byte[][] ids = new byte[points.size()][];
        int size = HEADER_BYTES;
        for (int i = 0; i < points.size(); i++) {
            ids[i] = points.get(i).getEventId().getBytes(StandardCharsets.UTF_8);
            size += SAMPLE_MIN_BYTES + ids[i].length + 4 * points.get(i).getFeatures().size();
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put(header(points.size(), set.getTotalSeen(), set.getLastSeen().toEpochMilli(),
                set.getLastUpdated().toEpochMilli()));
        int[] offsets = new int[points.size() + 1];
        for (int i = 0; i < points.size(); i++) {
            offsets[i] = b.position();
            SupportPoint p = points.get(i);
            putSample(b, p.getEventTime().toEpochMilli(), p.getTarget(), ids[i], Floats.toArray(p.getFeatures()));
        }
        offsets[points.size()] = b.position();
        return new PackedSupportSet(b.array(), offsets);
    }

    /** A set with no samples, never seen one: what an append to a new task starts from. */
    static PackedSupportSet empty() {
        return EMPTY;
    }

    private static byte[] header(int count, long totalSeen, long lastSeenMs, long lastUpdatedMs) {
        return ByteBuffer.allocate(HEADER_BYTES).put(MAGIC).put(VERSION).putInt(count).putLong(totalSeen)
                .putLong(lastSeenMs).putLong(lastUpdatedMs).array();
    }

    private static void putSample(ByteBuffer b, long eventTimeMs, float target, byte[] id, float[] features) {
        b.putLong(eventTimeMs).putFloat(target).putInt(id.length).put(id).putInt(features.length);
        for (float f : features) {
            b.putFloat(f);
        }
    }

    // ---- reading ------------------------------------------------------------------------------

    /** Samples held. */
    public int size() {
        return offsets.length - 1;
    }

    /** Samples ever accepted for the task, evicted ones included. */
    public long totalSeen() {
        return ByteBuffer.wrap(bytes).getLong(6);
    }

    /** Event time of the newest accepted sample, epoch ms (0 for a set that never held one). */
    public long lastSeenMs() {
        return ByteBuffer.wrap(bytes).getLong(14);
    }

    /** Wall-clock time the set last changed, epoch ms: idle tasks expire from it. */
    public long lastUpdatedMs() {
        return ByteBuffer.wrap(bytes).getLong(22);
    }

    /** The stored bytes; not a copy. */
    byte[] bytes() {
        return bytes;
    }

    long eventTimeMs(int i) {
        return ByteBuffer.wrap(bytes).getLong(offsets[i]);
    }

    /** The sample's event id. */
    String eventId(int i) {
        int at = offsets[i];
        return new String(bytes, at + 16, ByteBuffer.wrap(bytes).getInt(at + 12), StandardCharsets.UTF_8);
    }

    /** Every sample, for a learner. */
    SampleSet samples() {
        return samplesUpTo(Long.MAX_VALUE);
    }

    /** The samples with an event time at or before {@code timeMs}, for a learner. */
    SampleSet samplesUpTo(long timeMs) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int n = 0;
        while (n < size() && b.getLong(offsets[n]) <= timeMs) {
            n++; // oldest first: the samples up to a time are a prefix
        }
        float[][] features = new float[n][];
        float[] targets = new float[n];
        for (int i = 0; i < n; i++) {
            int at = offsets[i];
            targets[i] = b.getFloat(at + 8);
            int featuresAt = at + 16 + b.getInt(at + 12);
            float[] x = new float[b.getInt(featuresAt)];
            for (int k = 0; k < x.length; k++) {
                x[k] = b.getFloat(featuresAt + 4 + 4 * k);
            }
            features[i] = x;
        }
        return new SampleSet(features, targets);
    }

    /** Event time of the newest sample at or before {@code timeMs}, or 0 when none is. */
    long newestUpTo(long timeMs) {
        long newest = 0L;
        for (int i = 0; i < size() && eventTimeMs(i) <= timeMs; i++) {
            newest = eventTimeMs(i);
        }
        return newest;
    }

    /** The samples as the Avro record of earlier versions: for views and tests, not the hot path. */
    public SupportSet toAvro() {
        List<SupportPoint> points = new ArrayList<>(size());
        SampleSet all = samples();
        for (int i = 0; i < size(); i++) {
            List<Float> features = new ArrayList<>(all.features()[i].length);
            for (float f : all.features()[i]) {
                features.add(f);
            }
            points.add(SupportPoint.newBuilder().setEventId(eventId(i)).setFeatures(features)
                    .setTarget(all.targets()[i]).setEventTime(Instant.ofEpochMilli(eventTimeMs(i))).build());
        }
        return SupportSet.newBuilder().setPoints(points).setTotalSeen(totalSeen())
                .setLastSeen(Instant.ofEpochMilli(lastSeenMs()))
                .setLastUpdated(Instant.ofEpochMilli(lastUpdatedMs())).build();
    }

    // ---- appending ----------------------------------------------------------------------------

    /**
     * This set with one more sample, in event-time order, keeping the newest {@code maxSize}; or
     * {@code null} when the sample is not kept: its event id is already held (a redelivery), or the
     * set is full of samples newer than it.
     *
     * <p>One pass over the samples' fixed fields to find a duplicate id and the insertion point,
     * then one copy of the bytes: nothing is decoded.
     */
    PackedSupportSet append(String eventId, float[] features, float target, long eventTimeMs, int maxSize,
            long nowMs) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        byte[] id = eventId.getBytes(StandardCharsets.UTF_8);
        int count = size();
        for (int i = 0; i < count; i++) {
            int at = offsets[i];
            int idLength = b.getInt(at + 12);
            if (idLength == id.length && Arrays.equals(bytes, at + 16, at + 16 + idLength, id, 0, id.length)) {
                return null;
            }
        }
        if (count >= maxSize && count > 0 && eventTimeMs < eventTimeMs(0)) {
            return null;
        }
        int insertAt = count;
        while (insertAt > 0 && eventTimeMs(insertAt - 1) > eventTimeMs) {
            insertAt--;
        }
        // The samples after the insertion, in order: old[0, insertAt), new, old[insertAt, count);
        // the oldest beyond maxSize leave from the front (the new one too, if maxSize shrank).
        int drop = Math.max(0, count + 1 - maxSize);
        int keptOldBefore = Math.max(0, insertAt - drop);
        boolean keepNew = drop <= insertAt;
        int dropAfter = keepNew ? 0 : drop - insertAt - 1;
        int firstBefore = insertAt - keptOldBefore;
        int firstAfter = insertAt + dropAfter;
        int newCount = keptOldBefore + (keepNew ? 1 : 0) + (count - firstAfter);
        int newBytes = SAMPLE_MIN_BYTES + id.length + 4 * features.length;
        int beforeBytes = offsets[insertAt] - offsets[firstBefore];
        int afterBytes = offsets[count] - offsets[firstAfter];
        ByteBuffer out = ByteBuffer.allocate(HEADER_BYTES + beforeBytes + (keepNew ? newBytes : 0) + afterBytes);
        long lastSeen = totalSeen() == 0 ? eventTimeMs : Math.max(lastSeenMs(), eventTimeMs);
        out.put(header(newCount, totalSeen() + 1, lastSeen, nowMs));
        int[] newOffsets = new int[newCount + 1];
        int k = 0;
        for (int i = firstBefore; i < insertAt; i++) {
            newOffsets[k++] = HEADER_BYTES + offsets[i] - offsets[firstBefore];
        }
        out.put(bytes, offsets[firstBefore], beforeBytes);
        if (keepNew) {
            newOffsets[k++] = out.position();
            putSample(out, eventTimeMs, target, id, features);
        }
        int afterStart = out.position();
        for (int i = firstAfter; i < count; i++) {
            newOffsets[k++] = afterStart + offsets[i] - offsets[firstAfter];
        }
        out.put(bytes, offsets[firstAfter], afterBytes);
        newOffsets[newCount] = out.position();
        return new PackedSupportSet(out.array(), newOffsets);
    }
}

package io.metastream.streams.internals;

import io.metastream.learn.BaseModel;
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
 * <p>Layout, version 2, big-endian:
 * <pre>
 *   0  byte   'S' (0x53); Avro single-object encoding, the format before this one, starts with 0xC3
 *   1  byte   version, 2
 *   2  int    samples held
 *   6  long   samples ever accepted (total seen), evicted ones included
 *  14  long   event time of the newest accepted sample, epoch ms (last seen)
 *  22  long   wall-clock time the set last changed, epoch ms (last updated)
 *  30  samples: long event time (ms), float target, int id length, id (UTF-8), int label length
 *      (-1: no label; 0, which earlier builds wrote for an empty label, also reads as none), label
 *      (UTF-8), int feature count, float features
 * </pre>
 * Version 1 is the same without the label. The golden files {@code packed-support-set-v1.bin} and
 * {@code -v2.bin} pin them. Values in version 1 or in the old Avro format, in a RocksDB store or
 * restored from a changelog written before, are read (converted to version 2 as they are read) and
 * written in version 2 by the task's next sample.
 *
 * <p>Every length is checked against the bytes that are there before anything is allocated, so a
 * corrupt value fails with {@link RecordDecodeException} instead of an enormous allocation.
 */
public final class PackedSupportSet {
    static final byte MAGIC = 'S';
    static final byte VERSION = 2;
    static final int HEADER_BYTES = 30;
    /**
     * Event time, target, id length, label length and feature count: what a sample with an empty id,
     * no label and no features takes.
     */
    private static final int SAMPLE_MIN_BYTES = 8 + 4 + 4 + 4 + 4;
    /** Version 1's samples had no label length. */
    private static final int V1_SAMPLE_MIN_BYTES = 8 + 4 + 4 + 4;
    private static final int NO_LABEL = -1;
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
        if (bytes[1] != VERSION && bytes[1] != 1) {
            throw corrupt(bytes, "version " + bytes[1] + ", this build reads versions 1 and " + VERSION);
        }
        boolean labelled = bytes[1] == VERSION;
        int minBytes = labelled ? SAMPLE_MIN_BYTES : V1_SAMPLE_MIN_BYTES;
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int count = b.getInt(2);
        if (count < 0 || count > (bytes.length - HEADER_BYTES) / minBytes) {
            throw corrupt(bytes, "claims " + count + " samples");
        }
        int[] offsets = new int[count + 1];
        int at = HEADER_BYTES;
        for (int i = 0; i < count; i++) {
            offsets[i] = at;
            if (bytes.length - at < minBytes) {
                throw corrupt(bytes, "sample " + i + " at offset " + at + " is cut short");
            }
            int idLength = b.getInt(at + 12);
            if (idLength < 0 || idLength > bytes.length - at - minBytes) {
                throw corrupt(bytes, "sample " + i + " claims an id of " + idLength + " bytes");
            }
            int featuresAt = at + 16 + idLength;
            if (labelled) {
                int labelLength = b.getInt(featuresAt);
                if (labelLength < NO_LABEL || labelLength > bytes.length - at - minBytes - idLength) {
                    throw corrupt(bytes, "sample " + i + " claims a label of " + labelLength + " bytes");
                }
                featuresAt += 4 + Math.max(0, labelLength);
            }
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
        PackedSupportSet read = new PackedSupportSet(bytes, offsets);
        return labelled ? read : read.withoutLabelsUpgraded();
    }

    /**
     * A version 1 set (offsets into its bytes), rewritten in this version's layout: every sample
     * without a label. Reads version 1's fields directly, since this instance's accessors expect
     * version 2.
     */
    private PackedSupportSet withoutLabelsUpgraded() {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        int count = offsets.length - 1;
        ByteBuffer out = ByteBuffer.allocate(bytes.length + 4 * count);
        out.put(bytes, 0, HEADER_BYTES).put(1, VERSION);
        int[] newOffsets = new int[count + 1];
        for (int i = 0; i < count; i++) {
            int at = offsets[i];
            newOffsets[i] = out.position();
            int idLength = in.getInt(at + 12);
            // time, target, id length and id as they were; then "no label"; then the features.
            out.put(bytes, at, 16 + idLength).putInt(NO_LABEL).put(bytes, at + 16 + idLength, offsets[i + 1] - at - 16
                    - idLength);
        }
        newOffsets[count] = out.position();
        return new PackedSupportSet(out.array(), newOffsets);
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
            putSample(b, p.getEventTime().toEpochMilli(), p.getTarget(), ids[i], null, Floats.toArray(p.getFeatures()));
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

    private static void putSample(ByteBuffer b, long eventTimeMs, float target, byte[] id, byte[] label,
            float[] features) {
        b.putLong(eventTimeMs).putFloat(target).putInt(id.length).put(id);
        if (label == null) {
            b.putInt(NO_LABEL);
        } else {
            b.putInt(label.length).put(label);
        }
        b.putInt(features.length);
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

    /** Where the sample's label length is. */
    private int labelAt(ByteBuffer b, int i) {
        return offsets[i] + 16 + b.getInt(offsets[i] + 12);
    }

    /** Where the sample's feature count is. */
    private int featuresAt(ByteBuffer b, int i) {
        int labelAt = labelAt(b, i);
        return labelAt + 4 + Math.max(0, b.getInt(labelAt));
    }

    /**
     * The sample's label, or null for a sample without one. An empty label is no label: a
     * classifying base refuses it as missing, so a set kept under a regression base (where earlier
     * builds stored it) must not make it a class after a swap to a classifier.
     */
    String label(int i) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        int labelAt = labelAt(b, i);
        int length = b.getInt(labelAt);
        return length <= 0 ? null : new String(bytes, labelAt + 4, length, StandardCharsets.UTF_8);
    }

    /**
     * A classifier's view of the samples at or before {@code timeMs}: targets are class indices, the
     * classes numbered in the order the samples first show their labels (oldest first), and
     * {@code labels} lists them in that order. Samples without a label, and samples of any label
     * after the first {@code maxClasses}, are left out.
     */
    LearnerSupport classesUpTo(long timeMs, int maxClasses) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        java.util.Map<String, Integer> index = new java.util.LinkedHashMap<>();
        List<float[]> features = new ArrayList<>();
        List<Float> targets = new ArrayList<>();
        for (int i = 0; i < size() && b.getLong(offsets[i]) <= timeMs; i++) {
            String label = label(i);
            if (label == null) {
                continue;
            }
            Integer c = index.get(label);
            if (c == null) {
                if (index.size() >= maxClasses) {
                    continue;
                }
                c = index.size();
                index.put(label, c);
            }
            features.add(featuresOf(b, i));
            targets.add((float) c);
        }
        float[] y = new float[targets.size()];
        for (int i = 0; i < y.length; i++) {
            y[i] = targets.get(i);
        }
        return new LearnerSupport(new SampleSet(features.toArray(new float[0][]), y), List.copyOf(index.keySet()));
    }

    /**
     * The samples at or before {@code timeMs} as {@code base}'s learner reads them: a classifier's
     * by {@link #classesUpTo}, a regression base's with their targets and no labels.
     */
    LearnerSupport supportFor(BaseModel base, long timeMs) {
        return base.classifies() ? classesUpTo(timeMs, base.maxClasses())
                : new LearnerSupport(samplesUpTo(timeMs), List.of());
    }

    /**
     * Support samples as a learner reads them, and a classifier's labels in class-index order
     * (empty for a regression base).
     */
    record LearnerSupport(SampleSet support, List<String> labels) {
    }

    private float[] featuresOf(ByteBuffer b, int i) {
        int featuresAt = featuresAt(b, i);
        float[] x = new float[b.getInt(featuresAt)];
        for (int k = 0; k < x.length; k++) {
            x[k] = b.getFloat(featuresAt + 4 + 4 * k);
        }
        return x;
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
            targets[i] = b.getFloat(offsets[i] + 8);
            features[i] = featuresOf(b, i);
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
        return append(eventId, null, features, target, eventTimeMs, maxSize, nowMs);
    }

    /**
     * As {@link #append(String, float[], float, long, int, long)}, for a sample with a class label
     * (null or empty: none).
     */
    PackedSupportSet append(String eventId, String label, float[] features, float target, long eventTimeMs,
            int maxSize, long nowMs) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        byte[] id = eventId.getBytes(StandardCharsets.UTF_8);
        byte[] labelBytes = label == null || label.isEmpty() ? null : label.getBytes(StandardCharsets.UTF_8);
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
        int newBytes = SAMPLE_MIN_BYTES + id.length + (labelBytes == null ? 0 : labelBytes.length)
                + 4 * features.length;
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
            putSample(out, eventTimeMs, target, id, labelBytes, features);
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

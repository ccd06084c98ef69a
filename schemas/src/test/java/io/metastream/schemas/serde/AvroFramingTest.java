package io.metastream.schemas.serde;

import static io.metastream.testkit.HostileBytes.concat;
import static io.metastream.testkit.HostileBytes.zigzag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.metastream.schemas.LabelledSample;
import io.metastream.schemas.ModelChange;
import io.metastream.schemas.PredictionRequest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.Test;

/**
 * Length-prefix bombs and lying framing: every one is refused by the framing check, with its
 * reason, before Avro allocates what the record claims; every valid record still passes.
 */
class AvroFramingTest {
    private static final AvroCodec<LabelledSample> SAMPLES = AvroCodec.of(LabelledSample.class);

    private static LabelledSample sample() {
        return LabelledSample.newBuilder().setEventId("e-1").setTaskId("t-7").setFeatures(List.of(1.5f, -2f))
                .setTarget(0.25f).setEventTime(Instant.ofEpochMilli(1_700_000_000_123L)).build();
    }

    /** The 10-byte single-object header of the current LabelledSample schema. */
    private static byte[] header() {
        return Arrays.copyOf(SAMPLES.encode(sample()), 10);
    }

    private static void assertRefused(byte[] record, String why) {
        assertThatThrownBy(() -> SAMPLES.decode(record)).isInstanceOf(RecordDecodeException.class)
                .hasMessageContaining("bounded Avro framing").hasMessageContaining(why)
                .extracting(e -> ((RecordDecodeException) e).reason())
                .isEqualTo(RecordDecodeException.Reason.MALFORMED_BODY);
    }

    @Test
    void shouldRefuseAStringThatClaimsTwoGigabytesInNineteenBytes() {
        byte[] bomb = concat(header(), zigzag(Integer.MAX_VALUE), new byte[] {'x', 'y'});
        assertThat(bomb.length).isLessThanOrEqualTo(19);
        assertRefused(bomb, "claimed length 2147483647");
    }

    @Test
    void shouldRefuseEveryLengthLargerThanTheBytesLeft() {
        byte[] event = concat(zigzag(3), "e-1".getBytes());
        // task_id claims 1 GiB
        assertRefused(concat(header(), event, zigzag(1 << 30)), "claimed length 1073741824");
        // a negative length
        assertRefused(concat(header(), zigzag(-5)), "negative string length");
        // features array claims 2^31 floats
        byte[] task = concat(zigzag(2), "t7".getBytes());
        assertRefused(concat(header(), event, task, zigzag(Integer.MAX_VALUE)), "collection claims 2147483647 more items");
        // a negative block count with a lying block size
        assertRefused(concat(header(), event, task, zigzag(-2), zigzag(1 << 30)), "block size 1073741824");
        // a varint that never ends
        byte[] endless = new byte[12];
        Arrays.fill(endless, (byte) 0xff);
        assertRefused(concat(header(), endless), "varint longer than 10 bytes");
        // cut short inside the float array
        assertRefused(concat(header(), event, task, zigzag(2), new byte[] {0, 0, 0}), "float needs 4 bytes");
        // Long.MIN_VALUE as a block count
        assertRefused(concat(header(), event, task, zigzag(Long.MIN_VALUE)), "block count");
    }

    @Test
    void shouldRefuseUnionBranchesAndEnumsOutsideTheSchema() {
        Schema withUnion = SchemaBuilder.record("U").fields().name("u").type().unionOf().nullType().and()
                .stringType().endUnion().noDefault().endRecord();
        assertThatThrownBy(() -> AvroFraming.check(withUnion, zigzag(7), 0, 1))
                .hasMessageContaining("union branch 7");
        Schema withEnum = SchemaBuilder.record("E").fields().name("e").type().enumeration("Colour").symbols("R", "G")
                .noDefault().endRecord();
        assertThatThrownBy(() -> AvroFraming.check(withEnum, zigzag(2), 0, 1)).hasMessageContaining("enum index 2");
    }

    @Test
    void shouldBoundCollectionsOfZeroByteItemsAndDeepNesting() {
        Schema nulls = SchemaBuilder.array().items().nullType();
        byte[] many = zigzag(AvroFraming.MAX_ZERO_BYTE_ITEMS + 1L);
        assertThatThrownBy(() -> AvroFraming.check(nulls, many, 0, many.length))
                .hasMessageContaining("zero-byte items");
        byte[] fine = concat(zigzag(AvroFraming.MAX_ZERO_BYTE_ITEMS), zigzag(0));
        AvroFraming.check(nulls, fine, 0, fine.length);
        // Found by the fuzz target: a second block whose count overflows the running total.
        byte[] overflow = concat(zigzag(1000), zigzag(Long.MAX_VALUE - 500), zigzag(0));
        assertThatThrownBy(() -> AvroFraming.check(nulls, overflow, 0, overflow.length))
                .hasMessageContaining("zero-byte items");

        // A recursive writer schema (a registry can serve one): a linked list 10,000 deep.
        Schema node = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                + "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}");
        byte[] deep = new byte[10_001];
        Arrays.fill(deep, 0, 10_000, (byte) 2); // branch 1 (Node), 10,000 times
        deep[10_000] = 0; // then null
        assertThatThrownBy(() -> AvroFraming.check(node, deep, 0, deep.length))
                .hasMessageContaining("nesting deeper than " + AvroFraming.MAX_DEPTH);
    }

    @Test
    void shouldPassEveryValidRecordOfEveryType() {
        Random random = new Random(7);
        for (int i = 0; i < 500; i++) {
            List<Float> features = new ArrayList<>();
            for (int j = random.nextInt(40); j > 0; j--) {
                features.add(random.nextFloat());
            }
            LabelledSample s = LabelledSample.newBuilder().setEventId("e" + random.nextLong())
                    .setTaskId("t".repeat(1 + random.nextInt(200))).setFeatures(features).setTarget(random.nextFloat())
                    .setEventTime(Instant.ofEpochMilli(random.nextLong() >>> 20)).build();
            assertThat(SAMPLES.decode(SAMPLES.encode(s))).isEqualTo(s);
        }
        AvroCodec<PredictionRequest> queries = AvroCodec.of(PredictionRequest.class);
        PredictionRequest q = PredictionRequest.newBuilder().setQueryId("q").setTaskId("t").setFeatures(List.of(1f))
                .setEventTime(Instant.ofEpochMilli(5)).build();
        assertThat(queries.decode(queries.encode(q))).isEqualTo(q);
        AvroCodec<ModelChange> changes = AvroCodec.of(ModelChange.class);
        ModelChange c = ModelChange.newBuilder().setModelName("m").setAlias("production").setVersion("3")
                .setPreviousVersion(null).setAction("promote").setChangedAt(Instant.ofEpochMilli(9)).build();
        assertThat(changes.decode(changes.encode(c))).isEqualTo(c);
    }

    @Test
    void shouldNeverThrowAnythingButARecordDecodeExceptionOnMutatedRecords() {
        byte[] valid = SAMPLES.encode(sample());
        Random random = new Random(11);
        for (int i = 0; i < 20_000; i++) {
            byte[] mutated = valid.clone();
            for (int k = 1 + random.nextInt(3); k > 0; k--) {
                mutated[10 + random.nextInt(mutated.length - 10)] = (byte) random.nextInt(256);
            }
            if (random.nextBoolean()) {
                mutated = Arrays.copyOf(mutated, 10 + random.nextInt(mutated.length - 9));
            }
            byte[] input = mutated;
            try {
                SAMPLES.decode(input);
            } catch (RecordDecodeException expected) {
                // refused with a reason: fine
            }
        }
    }
}

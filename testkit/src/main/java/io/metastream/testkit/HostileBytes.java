package io.metastream.testkit;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * Building blocks of records that lie about their lengths, for tests of what a hostile producer
 * sends: Avro's zig-zag varints (any value, a length of 2^31 included), concatenation and filler.
 */
public final class HostileBytes {
    private HostileBytes() {
    }

    /** {@code value} as Avro writes an int or a long: zig-zag, then 7 bits a byte. */
    public static byte[] zigzag(long value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long n = (value << 1) ^ (value >> 63);
        while ((n & ~0x7fL) != 0) {
            out.write((int) ((n & 0x7f) | 0x80));
            n >>>= 7;
        }
        out.write((int) n);
        return out.toByteArray();
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** {@code n} bytes of {@code value}. */
    public static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }
}

package io.metastream.server.http;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signs a request one instance forwards to another, and checks such a signature: HMAC-SHA256 over
 * the method, the raw path, the route ({@code active} or {@code standby}), the sender's clock in
 * milliseconds and the SHA-256 of the body, under a key derived from a secret every instance shares.
 * A receiver accepts a signature only within {@link #WINDOW} of its own clock, so a captured request
 * can be replayed for that long at most (it only reads, and its reply goes to whoever replays it,
 * who saw the original's anyway).
 */
final class ForwardSignature {
    /** How far the sender's clock may be from the receiver's. */
    static final Duration WINDOW = Duration.ofSeconds(30);
    private static final String ALGORITHM = "HmacSHA256";

    private final byte[] key;
    private final Clock clock;

    private ForwardSignature(byte[] key, Clock clock) {
        this.key = key;
        this.clock = clock;
    }

    /**
     * The key of {@code secret}; {@code purpose} keeps keys derived for different uses of one secret
     * apart (the auth token's forwarding key is not the token).
     */
    static ForwardSignature fromSecret(String secret, String purpose, Clock clock) {
        return new ForwardSignature(hmac(secret.getBytes(StandardCharsets.UTF_8),
                ("metastream-forward-v1:" + purpose).getBytes(StandardCharsets.UTF_8)), clock);
    }

    long now() {
        return clock.millis();
    }

    /** The signature of a request sent at {@code timeMs}, as the header carries it. */
    String sign(String method, String rawPath, String route, long timeMs, byte[] body) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(mac(method, rawPath, route, timeMs, body));
    }

    /**
     * Whether {@code signature} and {@code time} (the headers as received, either may be null)
     * sign this request, sent within {@link #WINDOW} of now.
     */
    boolean verify(String method, String rawPath, String route, String time, String signature, byte[] body) {
        if (route == null || time == null || signature == null || time.length() > 19) {
            return false;
        }
        long timeMs;
        byte[] given;
        try {
            timeMs = Long.parseLong(time);
            given = Base64.getUrlDecoder().decode(signature);
        } catch (IllegalArgumentException e) {
            return false;
        }
        if (Math.abs(clock.millis() - timeMs) > WINDOW.toMillis()) {
            return false;
        }
        return MessageDigest.isEqual(mac(method, rawPath, route, timeMs, body), given);
    }

    private byte[] mac(String method, String rawPath, String route, long timeMs, byte[] body) {
        String bodyDigest = Base64.getEncoder().encodeToString(sha256(body));
        // Newlines cannot occur in a method, a raw path or the route the receiver accepts, so the
        // fields cannot run into each other.
        String message = String.join("\n", "v1", method, rawPath, route, Long.toString(timeMs), bodyDigest);
        return hmac(key, message.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] hmac(byte[] key, byte[] message) {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(new SecretKeySpec(key, ALGORITHM));
            return mac.doFinal(message);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK offers no " + ALGORITHM, e);
        }
    }

    static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK offers no SHA-256", e);
        }
    }
}

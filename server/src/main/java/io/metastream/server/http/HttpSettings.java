package io.metastream.server.http;

import io.metastream.streams.MetastreamConfig;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.common.config.types.Password;

/**
 * How an {@link OperationsServer} guards itself: the {@code http.*} settings of
 * {@link MetastreamConfig}. {@link #toString()} hides the secrets.
 *
 * @param readTimeout a request must arrive within this of its first byte, a response be taken within as long
 * @param headerTimeout a request's line and headers must arrive within this of its first byte
 * @param maxConnectionsPerClient connections one client address (an IPv6 /64) may hold open
 * @param requestTimeout longest a /tasks request waits for a worker and its answer
 * @param workers threads that serve /tasks
 * @param queueMax /tasks requests that may wait for a worker
 * @param authToken bearer token /tasks requires; {@code null}: none
 * @param forwardSecret secret that signs forwarded requests; {@code null}: derived from {@code authToken}, or
 *     forwarding off when that is null too
 */
public record HttpSettings(Duration readTimeout, Duration headerTimeout, int maxConnectionsPerClient,
        Duration requestTimeout, int workers, int queueMax, String authToken, String forwardSecret) {

    public HttpSettings {
        for (Duration d : new Duration[] {readTimeout, headerTimeout, requestTimeout}) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeouts must be positive, got " + readTimeout + ", "
                        + headerTimeout + ", " + requestTimeout);
            }
        }
        if (maxConnectionsPerClient < 1) {
            throw new IllegalArgumentException("maxConnectionsPerClient >= 1, got " + maxConnectionsPerClient);
        }
        if (workers < 1 || queueMax < 0) {
            throw new IllegalArgumentException("workers >= 1 and queueMax >= 0, got " + workers + ", " + queueMax);
        }
    }

    /** The defaults of {@link MetastreamConfig}: no token, no forwarding secret. */
    public static HttpSettings defaults() {
        return Defaults.VALUE;
    }

    /** Read once: a config logs all its values each time one is made. */
    private static final class Defaults {
        static final HttpSettings VALUE = from(new MetastreamConfig(
                Map.of(MetastreamConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092")));
    }

    public static HttpSettings from(MetastreamConfig config) {
        return new HttpSettings(Duration.ofMillis(config.getLong(MetastreamConfig.HTTP_READ_TIMEOUT_MS_CONFIG)),
                Duration.ofMillis(config.getLong(MetastreamConfig.HTTP_HEADER_TIMEOUT_MS_CONFIG)),
                config.getInt(MetastreamConfig.HTTP_MAX_CONNECTIONS_PER_CLIENT_CONFIG),
                Duration.ofMillis(config.getLong(MetastreamConfig.HTTP_REQUEST_TIMEOUT_MS_CONFIG)),
                config.getInt(MetastreamConfig.HTTP_WORKERS_CONFIG),
                config.getInt(MetastreamConfig.HTTP_QUEUE_MAX_CONFIG),
                value(config.getPassword(MetastreamConfig.HTTP_AUTH_TOKEN_CONFIG)),
                value(config.getPassword(MetastreamConfig.HTTP_FORWARD_SECRET_CONFIG)));
    }

    private static String value(Password password) {
        return password == null || password.value().isEmpty() ? null : password.value();
    }

    public HttpSettings withAuthToken(String token) {
        return new HttpSettings(readTimeout, headerTimeout, maxConnectionsPerClient, requestTimeout, workers, queueMax,
                token, forwardSecret);
    }

    public HttpSettings withForwardSecret(String secret) {
        return new HttpSettings(readTimeout, headerTimeout, maxConnectionsPerClient, requestTimeout, workers, queueMax,
                authToken, secret);
    }

    public HttpSettings withTimeouts(Duration read, Duration request) {
        return new HttpSettings(read, headerTimeout, maxConnectionsPerClient, request, workers, queueMax, authToken,
                forwardSecret);
    }

    /** {@code header}: the deadline of a request's line and headers; {@code perClient}: connections one client may hold. */
    public HttpSettings withClientLimits(Duration header, int perClient) {
        return new HttpSettings(readTimeout, header, perClient, requestTimeout, workers, queueMax, authToken,
                forwardSecret);
    }

    public HttpSettings withWorkers(int threads, int queue) {
        return new HttpSettings(readTimeout, headerTimeout, maxConnectionsPerClient, requestTimeout, threads, queue,
                authToken, forwardSecret);
    }

    @Override
    public String toString() {
        return "HttpSettings[readTimeout=" + readTimeout + ", headerTimeout=" + headerTimeout
                + ", maxConnectionsPerClient=" + maxConnectionsPerClient + ", requestTimeout=" + requestTimeout
                + ", workers="
                + workers + ", queueMax=" + queueMax + ", authToken=" + (authToken == null ? "none" : "[hidden]")
                + ", forwardSecret=" + (forwardSecret == null ? "none" : "[hidden]") + "]";
    }
}

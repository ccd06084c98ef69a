package io.metastream.embedded.it;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * A producer interceptor for a child instance that a crash test kills: it makes "killed inside an
 * open transaction" a certainty instead of a race with the commit. Once the stream thread sends a
 * record keyed {@link #KEY_PREFIX}… (the answer to a marker query), the next acknowledgement the
 * producer receives blocks its network thread for good. That acknowledgement is of a record of the
 * current transaction (every record of the one before was acknowledged before it committed), so
 * the broker holds that transaction Ongoing; with the network thread stuck, the producer can
 * neither commit nor abort it. The interceptor then prints {@link #HOLDING} with the transactional
 * id, and the test kills the process whenever it likes.
 *
 * <p>Installed only through the held instance's own settings
 * ({@code streams.producer.interceptor.classes}); instances that must survive, or restart from the
 * same state, run without it.
 */
public final class HoldTransactionOpen implements ProducerInterceptor<Object, Object> {
    /** Records keyed with this prefix arm the hold. */
    static final String KEY_PREFIX = "hold-open-";
    /** Printed once the hold is in place, followed by the transactional id. */
    static final String HOLDING = "holding the transaction open: ";
    private static final Pattern HELD = Pattern.compile(Pattern.quote(HOLDING) + "(\\S+)");

    private final AtomicBoolean armed = new AtomicBoolean();
    private final AtomicBoolean holding = new AtomicBoolean();
    private volatile String transactionalId = "(none)";

    @Override
    public void configure(Map<String, ?> configs) {
        Object id = configs.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG);
        if (id != null) {
            transactionalId = id.toString();
        }
    }

    @Override
    public ProducerRecord<Object, Object> onSend(ProducerRecord<Object, Object> record) {
        if (record.key() instanceof byte[] key
                && new String(key, StandardCharsets.UTF_8).startsWith(KEY_PREFIX)) {
            armed.set(true);
        }
        return record;
    }

    @Override
    public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
        // Only a record the broker wrote proves the transaction is open there.
        if (exception != null || !armed.get() || !holding.compareAndSet(false, true)) {
            return;
        }
        System.out.println(HOLDING + transactionalId);
        System.out.flush();
        CountDownLatch never = new CountDownLatch(1);
        while (true) {
            try {
                never.await();
            } catch (InterruptedException e) {
                // Keep holding: only the kill ends this thread.
            }
        }
    }

    @Override
    public void close() {
    }

    /** The transactional id a child's output says it holds open, or null if it does not (yet). */
    static String heldTransaction(String output) {
        Matcher m = HELD.matcher(output);
        return m.find() ? m.group(1) : null;
    }
}

package io.metastream.streams;

import io.metastream.schemas.DeadLetter;
import io.metastream.schemas.serde.SchemaRegistryClient;
import io.metastream.streams.internals.DeadLetters;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kafka Streams exception handlers that turn an error no processor caught into a dead letter
 * (KIP-1034: the handler returns the dead-letter records and Streams produces them in the same
 * transaction) and let the stream thread carry on. Processors already dead-letter the failures they
 * expect; these catch the rest: an exception escaping a processor, an output record the broker
 * refuses.
 */
public final class ErrorsToDeadLetters {
    public static final String TOPIC = "metastream.dead.letter.topic";
    public static final String MAX_VALUE_BYTES = "metastream.dead.letter.max.value.bytes";
    public static final String COUNTERS = "metastream.dead.letter.counters";
    public static final String SIDE_PRODUCER = "metastream.dead.letter.side.producer";
    private static final Logger LOG = LoggerFactory.getLogger(ErrorsToDeadLetters.class);

    private ErrorsToDeadLetters() {
    }

    /**
     * Installs both handlers in {@code streamsProperties}: errors become dead letters on
     * {@code deadLetterTopic}, counted in {@code counters}. An application that embeds metastream
     * calls this on the properties of its own {@code KafkaStreams}, after its bootstrap servers and
     * security settings are in them, and closes what it returns after {@code KafkaStreams.close}.
     *
     * @return the one side producer every handler of the instance shares (created on first use), to
     *     close on shutdown
     */
    public static SideProducer install(Properties streamsProperties, String deadLetterTopic,
            int maxValueBytes, DeadLetterCounters counters) {
        SideProducer side = new SideProducer(streamsProperties, deadLetterTopic, counters);
        streamsProperties.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, Processing.class);
        streamsProperties.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, Production.class);
        streamsProperties.put(TOPIC, deadLetterTopic);
        streamsProperties.put(MAX_VALUE_BYTES, maxValueBytes);
        streamsProperties.put(COUNTERS, counters);
        streamsProperties.put(SIDE_PRODUCER, side);
        return side;
    }

    /**
     * The producer of the dead letters that cannot go through the Streams producer (see
     * {@link Production}): one per application instance, not one per stream task, so a rebalance
     * leaks no threads or sockets. Every send has a callback: a dead letter the broker refuses is
     * logged with its origin and counted ({@link DeadLetterCounters#failures()}), never lost
     * silently.
     */
    public static final class SideProducer implements AutoCloseable {
        private final Map<String, Object> props = new HashMap<>();
        private final String topic;
        private final DeadLetterCounters counters;
        private KafkaProducer<byte[], byte[]> producer;
        private boolean closed;

        SideProducer(Properties streamsProperties, String topic, DeadLetterCounters counters) {
            this.topic = topic;
            this.counters = counters;
            props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    streamsProperties.get(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG));
            // The same TLS and SASL settings as the Streams clients, or it cannot reach a secured broker.
            streamsProperties.forEach((key, value) -> {
                if (MetastreamConfig.isClientSecuritySetting(key.toString())) {
                    props.put(key.toString(), value);
                }
            });
            props.put(ProducerConfig.ACKS_CONFIG, "all");
            props.put(ProducerConfig.CLIENT_ID_CONFIG, "metastream-dead-letters");
        }

        /**
         * Fetches the topic's metadata up front: a send from the broker's network thread must not
         * wait for it (the stall {@link Production} explains).
         */
        synchronized void open() {
            if (producer == null && !closed) {
                producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
                producer.partitionsFor(topic);
            }
        }

        void send(ProducerRecord<byte[], byte[]> letter, String source) {
            KafkaProducer<byte[], byte[]> p;
            synchronized (this) {
                p = producer;
            }
            if (p == null) {
                LOG.error("dead letter from {} not sent: the side producer is closed", source);
                counters.failed(source);
                return;
            }
            try {
                p.send(letter, (metadata, e) -> {
                    if (e != null) {
                        LOG.error("dead letter from {} refused by {}: {}", source, topic, e.toString());
                        counters.failed(source);
                    }
                });
            } catch (RuntimeException e) {
                LOG.error("dead letter from {} could not be sent to {}: {}", source, topic, e.toString());
                counters.failed(source);
            }
        }

        /** Whether a producer is open now: at most one per instance. */
        public synchronized boolean isOpen() {
            return producer != null;
        }

        @Override
        public synchronized void close() {
            closed = true;
            if (producer != null) {
                producer.close(Duration.ofSeconds(5));
                producer = null;
            }
        }
    }

    /**
     * A schema registry that cannot be asked is no fault of the record: failing the thread aborts
     * the transaction, the replaced thread reads the record again, and nothing valid is lost to the
     * dead-letter topic while the registry is down.
     */
    static boolean registryUnavailable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SchemaRegistryClient.SchemaRegistryException
                    && !(t instanceof SchemaRegistryClient.IncompatibleSchemaException)) {
                LOG.error("schema registry unavailable; failing the stream thread so the record is retried: {}",
                        t.getMessage());
                return true;
            }
        }
        return false;
    }

    /** Shared configuration of both handlers. */
    private static final class Target {
        String topic = "dead-letters";
        int maxValueBytes = 64 * 1024;
        DeadLetterCounters counters;

        void configure(Map<String, ?> configs) {
            if (configs.get(TOPIC) != null) {
                topic = configs.get(TOPIC).toString();
            }
            if (configs.get(MAX_VALUE_BYTES) != null) {
                maxValueBytes = Integer.parseInt(configs.get(MAX_VALUE_BYTES).toString());
            }
            if (configs.get(COUNTERS) instanceof DeadLetterCounters c) {
                counters = c;
            }
        }

        List<ProducerRecord<byte[], byte[]>> letter(ErrorHandlerContext context, RejectReason reason, Exception e) {
            // Records produced by a punctuator have no source record.
            String source = context.topic() == null ? "punctuation" : context.topic();
            LOG.warn("dead-lettering {}-{}@{} ({}): {}", source, context.partition(), context.offset(), reason,
                    e.toString());
            DeadLetter letter = DeadLetters.letter(source, context.partition(), context.offset(),
                    context.sourceRawKey(), context.sourceRawValue(), reason, e.getClass().getName(),
                    String.valueOf(e.getMessage()), maxValueBytes);
            if (counters != null) {
                counters.increment(source, reason);
            }
            return List.of(new ProducerRecord<>(topic, null, context.sourceRawKey(), DeadLetters.encode(letter)));
        }
    }

    /** An exception thrown by a processor while handling a record. */
    public static final class Processing implements ProcessingExceptionHandler {
        private final Target target = new Target();

        @Override
        public void configure(Map<String, ?> configs) {
            target.configure(configs);
        }

        @Override
        public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
            if (registryUnavailable(exception)) {
                return Response.fail();
            }
            return Response.resume(target.letter(context, RejectReason.PROCESSING_ERROR, exception));
        }
    }

    /**
     * An output record the producer or broker refused (too large, ...). The broker's refusal
     * arrives on the Streams producer's network thread; a dead letter handed back to that same
     * producer would wait there for topic metadata that only the blocked thread could fetch
     * (measured: a 60 s stall). So these dead letters go through a side producer whose metadata is
     * fetched up front: at-least-once, outside the transaction, for a path that is rare by nature.
     */
    public static final class Production implements ProductionExceptionHandler {
        private final Target target = new Target();
        private SideProducer side;

        @Override
        public void configure(Map<String, ?> configs) {
            target.configure(configs);
            if (!(configs.get(SIDE_PRODUCER) instanceof SideProducer shared)) {
                throw new ConfigException(SIDE_PRODUCER, configs.get(SIDE_PRODUCER),
                        "install the handlers with ErrorsToDeadLetters.install, which provides the side producer");
            }
            side = shared;
            side.open();
        }

        @Override
        public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record,
                Exception exception) {
            String source = context.topic() == null ? "punctuation" : context.topic();
            target.letter(context, RejectReason.PRODUCTION_ERROR, exception).forEach(r -> side.send(r, source));
            return Response.resume();
        }

        @Override
        public Response handleSerializationError(ErrorHandlerContext context, ProducerRecord record,
                Exception exception, SerializationExceptionOrigin origin) {
            // Serialization fails on the stream thread, inside the transaction: KIP-1034 is safe here.
            if (registryUnavailable(exception)) {
                return Response.fail();
            }
            return Response.resume(target.letter(context, RejectReason.PRODUCTION_ERROR, exception));
        }
    }
}

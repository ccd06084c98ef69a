package io.metastream.streams.internals;

import io.metastream.streams.RejectReason;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wraps an input processor so that an {@link OutOfMemoryError} or {@link StackOverflowError}
 * thrown while it handles one record makes that record a {@code POISON} dead
 * letter instead of killing the stream thread.
 *
 * <p>Why here: Kafka Streams hands only {@link Exception}s to its processing exception handler.
 * An {@code Error} ends the thread; {@code REPLACE_THREAD} starts one that reads the same
 * uncommitted record and dies again, so one record would stop its partition for good. Exceptions
 * still reach that handler as before (as {@code PROCESSING_ERROR} dead letters).
 */
public final class PoisonGuard implements Processor<byte[], byte[], String, SpecificRecord> {
    private static final Logger LOG = LoggerFactory.getLogger(PoisonGuard.class);
    private final Processor<byte[], byte[], String, SpecificRecord> inner;
    private final Pipeline pipeline;
    private DeadLetters deadLetters;

    PoisonGuard(Processor<byte[], byte[], String, SpecificRecord> inner, Pipeline pipeline) {
        this.inner = inner;
        this.pipeline = pipeline;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        deadLetters = new DeadLetters(context, pipeline.names().of(Pipeline.DEAD_LETTERS_SINK),
                pipeline.metrics(), pipeline.settings().limits().deadLetterMaxValueBytes());
        inner.init(context);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        try {
            inner.process(record);
        } catch (OutOfMemoryError | StackOverflowError e) {
            // What one record can cause. Other Errors (a missing class, a broken JVM) are no
            // record's fault and would dead-letter every record: they still end the thread.
            isolate(record, e);
        }
    }

    private void isolate(Record<byte[], byte[]> record, Error e) {
        LOG.error("record made the processor throw {}; dead-lettered as POISON, the thread carries on", e.toString());
        deadLetters.send(record.key(), record.value(), record.timestamp(), RejectReason.POISON, e.getClass().getName(),
                "processing threw " + e);
    }

    @Override
    public void close() {
        inner.close();
    }
}

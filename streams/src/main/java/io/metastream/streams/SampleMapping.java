package io.metastream.streams;

/**
 * Reads a sample from a record of the application's own samples topic, after its key and value
 * serdes. Throw (any runtime exception) when the record is not a usable sample: it becomes a dead
 * letter with reason {@link RejectReason#UNDECODABLE} and the exception's message, and the
 * pipeline goes on.
 *
 * <p>For a classifying base (a prototypical network, or a softmax head trained with cross-entropy)
 * the sample's class is its label: return {@link TaskSample#labelled} (or set
 * {@link TaskSample#label()}); a sample without one is a {@link RejectReason#MISSING_LABEL} dead
 * letter. A regression base reads the target and ignores any label.
 *
 * <p>Samples and queries of one task must reach the same partition number of their two topics
 * (the same key and partitioner, the same partition count): the stream task that holds a task's
 * support set answers its queries.
 */
@FunctionalInterface
public interface SampleMapping<K, V> {
    TaskSample toSample(K key, V value, long recordTimestampMs);
}

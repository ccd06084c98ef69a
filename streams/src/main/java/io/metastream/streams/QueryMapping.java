package io.metastream.streams;

/** Reads a query from a record of the application's own queries topic; see {@link SampleMapping}. */
@FunctionalInterface
public interface QueryMapping<K, V> {
    TaskQuery toQuery(K key, V value, long recordTimestampMs);
}

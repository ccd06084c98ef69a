package io.metastream.streams.internals;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds the memory of every RocksDB store in the process: one LRU block cache, with index and
 * filter blocks charged to it, and one write-buffer manager that charges memtables to the same
 * cache. Kafka Streams creates a setter per store, so the cache and manager are process-wide by
 * necessity (the documented Kafka Streams pattern for bounded RocksDB memory); the first store
 * to open fixes their sizes.
 */
public final class BoundedRocksDbMemory implements RocksDBConfigSetter {
    public static final String BLOCK_CACHE_BYTES = "metastream.rocksdb.block.cache.bytes";
    public static final String WRITE_BUFFER_BYTES = "metastream.rocksdb.write.buffer.bytes";
    private static final long DEFAULT_BLOCK_CACHE = 64L * 1024 * 1024;
    private static final long DEFAULT_WRITE_BUFFER = 32L * 1024 * 1024;

    private static Cache cache;
    private static WriteBufferManager writeBufferManager;

    private static synchronized void init(long cacheBytes, long writeBufferBytes) {
        if (cache == null) {
            cache = new LRUCache(cacheBytes, -1, false, 0.1);
            writeBufferManager = new WriteBufferManager(writeBufferBytes, cache);
        }
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        init(bytes(configs.get(BLOCK_CACHE_BYTES), DEFAULT_BLOCK_CACHE),
                bytes(configs.get(WRITE_BUFFER_BYTES), DEFAULT_WRITE_BUFFER));
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(cache);
        table.setCacheIndexAndFilterBlocks(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setWriteBufferManager(writeBufferManager);
        options.setTableFormatConfig(table);
    }

    private static long bytes(Object value, long fallback) {
        return value == null ? fallback : Long.parseLong(value.toString());
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and manager are shared by every store and live as long as the process.
    }
}

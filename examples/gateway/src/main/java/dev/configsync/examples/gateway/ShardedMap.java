package dev.configsync.examples.gateway;

import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * An immutable map whose updates copy only what they touch: the entries are spread over {@value
 * #SHARDS} small hash maps, and {@link #with} and {@link #without} return a new map that shares
 * every shard but the one the key falls in. So a version of the routing table made by one change
 * shares almost everything with the version before, and a reader holding either sees a map that
 * never changes under it.
 */
final class ShardedMap<K, V> {
  private static final int SHARD_BITS = 8;
  private static final int SHARDS = 1 << SHARD_BITS;
  private static final ShardedMap<?, ?> EMPTY = new ShardedMap<>(emptyShards(), 0);

  private final Map<K, V>[] shards;
  private final int size;

  private ShardedMap(Map<K, V>[] shards, int size) {
    this.shards = shards;
    this.size = size;
  }

  @SuppressWarnings("unchecked")
  private static <K, V> Map<K, V>[] emptyShards() {
    Map<K, V>[] shards = (Map<K, V>[]) new Map<?, ?>[SHARDS];
    for (int i = 0; i < SHARDS; i++) {
      shards[i] = Map.of();
    }
    return shards;
  }

  /** The empty map. */
  @SuppressWarnings("unchecked")
  static <K, V> ShardedMap<K, V> empty() {
    return (ShardedMap<K, V>) EMPTY;
  }

  /** A map of {@code entries}, built at once (one copy of each shard, not one per entry). */
  static <K, V> ShardedMap<K, V> of(Map<K, V> entries) {
    @SuppressWarnings("unchecked")
    Map<K, V>[] building = (Map<K, V>[]) new Map<?, ?>[SHARDS];
    entries.forEach(
        (k, v) -> {
          int i = shard(k);
          if (building[i] == null) {
            building[i] = new HashMap<>();
          }
          building[i].put(k, v);
        });
    Map<K, V>[] shards = emptyShards();
    for (int i = 0; i < SHARDS; i++) {
      if (building[i] != null) {
        shards[i] = building[i];
      }
    }
    return new ShardedMap<>(shards, entries.size());
  }

  /**
   * The shard of {@code key}, from the top bits of its hash spread by a multiplication. Not from
   * the low bits: each shard is a {@link HashMap}, which picks its bucket from those, so keys that
   * share them would all fall in a few of its buckets (with 256 shards, every key of a shard in 1
   * of 256), which then turn into trees, and every lookup and copy pays for it.
   */
  static int shard(Object key) {
    int h = key.hashCode() * 0x9E3779B9;
    return h >>> (Integer.SIZE - SHARD_BITS);
  }

  @Nullable V get(K key) {
    return shards[shard(key)].get(key);
  }

  boolean containsKey(K key) {
    return shards[shard(key)].containsKey(key);
  }

  int size() {
    return size;
  }

  /** This map with {@code key} mapped to {@code value}; this one is unchanged. */
  ShardedMap<K, V> with(K key, V value) {
    int i = shard(key);
    Map<K, V> copy = new HashMap<>(shards[i]);
    boolean added = copy.put(key, value) == null;
    Map<K, V>[] next = shards.clone();
    next[i] = copy;
    return new ShardedMap<>(next, added ? size + 1 : size);
  }

  /** This map without {@code key}; this one is unchanged. */
  ShardedMap<K, V> without(K key) {
    int i = shard(key);
    if (!shards[i].containsKey(key)) {
      return this;
    }
    Map<K, V> copy = new HashMap<>(shards[i]);
    copy.remove(key);
    Map<K, V>[] next = shards.clone();
    next[i] = copy;
    return new ShardedMap<>(next, size - 1);
  }

  /** Calls {@code action} for every entry, in no particular order. */
  void forEach(BiConsumer<? super K, ? super V> action) {
    for (Map<K, V> shard : shards) {
      shard.forEach(action);
    }
  }
}

package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ShardedMapTest {

  @Test
  void versionsShareWhatTheyDoNotTouch() {
    Map<String, Integer> entries = new HashMap<>();
    for (int i = 0; i < 10_000; i++) {
      entries.put("route-" + i, i);
    }
    ShardedMap<String, Integer> map = ShardedMap.of(entries);
    ShardedMap<String, Integer> next = map.with("route-7", -7).without("route-8").with("new", 1);

    assertThat(map.size()).isEqualTo(10_000);
    assertThat(map.get("route-7")).isEqualTo(7);
    assertThat(map.containsKey("route-8")).isTrue();
    assertThat(next.size()).isEqualTo(10_000);
    assertThat(next.get("route-7")).isEqualTo(-7);
    assertThat(next.containsKey("route-8")).isFalse();
    assertThat(next.get("new")).isEqualTo(1);
    assertThat(next.without("absent")).isSameAs(next);
  }

  /**
   * A shard is a HashMap, which buckets by the low bits of the spread hash: the shard must not be
   * chosen by the same bits, or a shard's keys crowd into a few buckets (and every lookup walks a
   * tree). The keys of one shard must spread over the buckets of a map of their size.
   */
  @Test
  void theKeysOfAShardSpreadOverItsMapsBuckets() {
    int keys = 111_848; // the gateway benchmark's routes
    Map<Integer, Set<Integer>> bucketsByShard = new HashMap<>();
    Map<Integer, Integer> countByShard = new HashMap<>();
    for (int i = 0; i < keys; i++) {
      String key = "r" + i;
      int h = key.hashCode();
      int bucket = (h ^ (h >>> 16)) & 1023; // a HashMap of ~437 entries has 1,024 buckets
      int shard = ShardedMap.shard(key);
      bucketsByShard.computeIfAbsent(shard, s -> new HashSet<>()).add(bucket);
      countByShard.merge(shard, 1, Integer::sum);
    }
    assertThat(bucketsByShard).hasSize(256);
    for (Map.Entry<Integer, Set<Integer>> e : bucketsByShard.entrySet()) {
      // ~437 keys thrown at random into 1,024 buckets fill about 360; crowded, they filled 4.
      assertThat(e.getValue().size())
          .as("buckets used by shard %d's %d keys", e.getKey(), countByShard.get(e.getKey()))
          .isGreaterThan(countByShard.get(e.getKey()) / 2);
    }
  }
}

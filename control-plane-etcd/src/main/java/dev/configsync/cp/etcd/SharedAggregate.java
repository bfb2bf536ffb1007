package dev.configsync.cp.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * A value each replica keeps for itself and every replica can read, for figures that add up over
 * the fleet (usage counters, for example): each replica {@link #set}s its own aggregate as often as
 * it likes; the store writes it to etcd at most once per flush interval, and only when it changed,
 * so request traffic never turns into etcd writes. {@link #byReplica()} reads every replica's last
 * written value from memory (kept current by the store's watch), never from the network.
 *
 * <p>Values are kept under {@code <prefix>aggregates/<name>/<replica>} without a lease: the figures
 * of a replica that stopped stay readable (they still count), and are replaced when a replica of
 * the same name writes again. Thread-safe.
 */
public interface SharedAggregate {

  /** Replaces this replica's value (a copy is taken); written to etcd within a flush interval. */
  void set(JsonNode value);

  /**
   * Every replica's value by replica name: this replica's latest {@link #set} value, and the
   * others' as last written to etcd.
   */
  Map<String, JsonNode> byReplica();
}

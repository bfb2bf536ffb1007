package dev.configsync.cp.etcd;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * The checked settings of one {@link EtcdConfigStore} (what its {@link EtcdConfigStore.Builder}
 * gathered), and the etcd keys they imply. Immutable.
 */
record EtcdSettings(
    List<URI> endpoints,
    String prefix,
    String replica,
    Duration leaseTtl,
    Duration requestTimeout,
    Duration flushInterval,
    Duration unavailableAfter,
    @Nullable SSLContext ssl) {

  EtcdSettings {
    endpoints = List.copyOf(endpoints);
  }

  /** The stored gzip frame. */
  String configKey() {
    return prefix + "config";
  }

  /** The stored frame's hash; its mod_revision is what a publish compares. */
  String hashKey() {
    return prefix + "config-hash";
  }

  String historyPrefix() {
    return prefix + "history/";
  }

  /** The history entry of the write that replaced {@code revision} (zero-padded: keys sort). */
  String historyKey(long revision) {
    return historyPrefix() + String.format(Locale.ROOT, "%020d", revision);
  }

  String nodesPrefix() {
    return prefix + "nodes/";
  }

  /** The key of one of this replica's data planes. */
  String nodeKey(String nodeId) {
    return nodesPrefix() + replica + "/" + nodeId;
  }

  String replicasPrefix() {
    return prefix + "replicas/";
  }

  String aggregatesPrefix() {
    return prefix + "aggregates/";
  }
}

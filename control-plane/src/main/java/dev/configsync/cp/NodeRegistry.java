package dev.configsync.cp;

import dev.configsync.internal.ConfigHash;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every data plane the control plane has seen, connected or not, until it is forgotten.
 *
 * <p>Thread-safe: each entry is an immutable {@link DataPlaneInfo} replaced atomically, together
 * with the session that owns it. Only the owning session may update an entry, so a connection
 * replaced by a newer one from the same node cannot overwrite what the newer one reports.
 */
final class NodeRegistry {
  private static final Logger log = LoggerFactory.getLogger(NodeRegistry.class);

  private record Entry(DataPlaneInfo info, @Nullable OutletSession owner) {}

  private final Map<String, Entry> nodes = new ConcurrentHashMap<>();
  private final Clock clock;

  NodeRegistry(Clock clock) {
    this.clock = clock;
  }

  Instant now() {
    return clock.instant();
  }

  /**
   * Records a node that completed {@code basic_info}, owned by {@code session}; returns the session
   * it replaces (another connection from the same node), if any.
   */
  @Nullable OutletSession connect(OutletSession session, DataPlaneInfo info) {
    OutletSession[] replaced = new OutletSession[1];
    nodes.compute(
        info.id(),
        (id, old) -> {
          if (old != null && old.owner() != null && old.owner() != session) {
            replaced[0] = old.owner();
          }
          return new Entry(info, session);
        });
    return replaced[0];
  }

  /** Applies {@code change} to the node's entry if {@code session} still owns it. */
  void update(String id, OutletSession session, UnaryOperator<DataPlaneInfo> change) {
    nodes.computeIfPresent(
        id, (k, e) -> e.owner() == session ? new Entry(change.apply(e.info()), session) : e);
  }

  /** Marks the node disconnected if {@code session} still owns it. */
  void disconnect(String id, OutletSession session) {
    Instant now = clock.instant();
    nodes.computeIfPresent(
        id,
        (k, e) ->
            e.owner() == session
                ? new Entry(with(e.info(), false, now, e.info().configHash()), null)
                : e);
  }

  /** Forgets nodes disconnected for longer than {@code after}; returns how many. */
  int forget(Duration after) {
    Instant cutoff = clock.instant().minus(after);
    int[] removed = new int[1];
    nodes
        .entrySet()
        .removeIf(
            e -> {
              boolean stale =
                  e.getValue().owner() == null && e.getValue().info().lastSeen().isBefore(cutoff);
              if (stale) {
                removed[0]++;
                log.info(
                    "Forgot data plane {} ({}), not seen since {}",
                    e.getKey(),
                    e.getValue().info().hostname(),
                    e.getValue().info().lastSeen());
              }
              return stale;
            });
    return removed[0];
  }

  List<DataPlaneInfo> snapshot() {
    return nodes.values().stream()
        .map(Entry::info)
        .sorted(Comparator.comparing(DataPlaneInfo::hostname).thenComparing(DataPlaneInfo::id))
        .toList();
  }

  Optional<DataPlaneInfo> get(String id) {
    Entry e = nodes.get(id);
    return e == null ? Optional.empty() : Optional.of(e.info());
  }

  int connectedCount() {
    return (int) nodes.values().stream().filter(e -> e.owner() != null).count();
  }

  int size() {
    return nodes.size();
  }

  /** A new node entry, connected now, nothing reported yet. */
  static DataPlaneInfo newNode(
      String id,
      String hostname,
      String address,
      String version,
      Map<String, String> capabilities,
      Map<String, String> labels,
      Instant now) {
    return new DataPlaneInfo(
        id,
        hostname,
        address,
        version,
        capabilities,
        labels,
        true,
        now,
        now,
        ConfigHash.NONE,
        DataPlaneSyncStatus.UNKNOWN,
        "",
        Optional.empty());
  }

  static DataPlaneInfo with(DataPlaneInfo i, boolean connected, Instant lastSeen, String hash) {
    return copy(i, connected, lastSeen, hash, i.syncStatus(), i.syncStatusReason(), i.lastError());
  }

  static DataPlaneInfo withStatus(DataPlaneInfo i, Compatibility.Verdict verdict) {
    return copy(
        i,
        i.connected(),
        i.lastSeen(),
        i.configHash(),
        verdict.status(),
        verdict.reason(),
        i.lastError());
  }

  static DataPlaneInfo withError(DataPlaneInfo i, DataPlaneInfo.ReportedError error) {
    return copy(
        i,
        i.connected(),
        error.at(),
        i.configHash(),
        i.syncStatus(),
        i.syncStatusReason(),
        Optional.of(error));
  }

  /** {@code i} with the fields that change over a connection's life replaced. */
  private static DataPlaneInfo copy(
      DataPlaneInfo i,
      boolean connected,
      Instant lastSeen,
      String hash,
      DataPlaneSyncStatus status,
      String reason,
      Optional<DataPlaneInfo.ReportedError> error) {
    return new DataPlaneInfo(
        i.id(),
        i.hostname(),
        i.address(),
        i.version(),
        i.capabilities(),
        i.labels(),
        connected,
        i.connectedSince(),
        lastSeen,
        hash,
        status,
        reason,
        error);
  }
}

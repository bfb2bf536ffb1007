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
 * <p>Bounded: it holds at most {@code maxEntries} nodes and about {@code maxBytes} of heap (each
 * entry's size is {@link #estimatedBytes estimated} from its text), and at most {@code
 * maxPerCertificate} node_ids per client certificate (0: no such cap). A node that would pass a
 * bound first makes room by evicting disconnected entries, the longest unseen first (for the
 * certificate cap, that certificate's); when only connected entries are left it is refused.
 *
 * <p>Thread-safe: each entry is an immutable {@link DataPlaneInfo} replaced atomically, together
 * with the session that owns it. Only the owning session may update an entry, so a connection
 * replaced by a newer one from the same node cannot overwrite what the newer one reports. Adding
 * and removing entries is serialized (the bounds span entries); reads do not wait.
 */
final class NodeRegistry {
  private static final Logger log = LoggerFactory.getLogger(NodeRegistry.class);

  private record Entry(
      DataPlaneInfo info, @Nullable OutletSession owner, String certificate, long bytes) {}

  /** The outcome of {@link #connect}: the session replaced, or why the node was refused. */
  record Admission(@Nullable OutletSession replaced, @Nullable String refusal) {}

  private final Map<String, Entry> nodes = new ConcurrentHashMap<>();
  private final Clock clock;
  private final int maxEntries;
  private final long maxBytes;
  private final int maxPerCertificate;
  private long bytes; // guarded by this

  NodeRegistry(Clock clock) {
    this(clock, Integer.MAX_VALUE, Long.MAX_VALUE, 0);
  }

  NodeRegistry(Clock clock, int maxEntries, long maxBytes, int maxPerCertificate) {
    this.clock = clock;
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.maxPerCertificate = maxPerCertificate;
  }

  Instant now() {
    return clock.instant();
  }

  /**
   * Records a node that completed {@code basic_info}, owned by {@code session} and presenting the
   * client certificate whose digest is {@code certificate}; says which session it replaces (another
   * connection from the same node), if any, or why it is refused (then nothing changed).
   */
  synchronized Admission connect(OutletSession session, DataPlaneInfo info, String certificate) {
    long size = estimatedBytes(info);
    Entry old = nodes.get(info.id());
    if (old == null) {
      if (maxPerCertificate > 0) {
        long same =
            nodes.values().stream().filter(e -> e.certificate().equals(certificate)).count();
        if (same >= maxPerCertificate && !evictOldestDisconnected(certificate)) {
          return new Admission(
              null,
              "its client certificate already holds "
                  + same
                  + " connected node_ids (maxNodeIdsPerCertificate)");
        }
      }
      while (nodes.size() >= maxEntries) {
        if (!evictOldestDisconnected(null)) {
          return new Admission(
              null,
              "the registry holds "
                  + nodes.size()
                  + " connected data planes, its limit (maxDataPlanes)");
        }
      }
    }
    long others = bytes - (old == null ? 0 : old.bytes());
    while (others + size > maxBytes) {
      if (!evictOldestDisconnected(null)) {
        return new Admission(
            null,
            "the registry's memory budget of "
                + maxBytes
                + " bytes (maxRegistryBytes) is taken by connected data planes");
      }
      Entry current = nodes.get(info.id());
      others = bytes - (current == null ? 0 : current.bytes());
    }
    OutletSession replaced =
        old != null && old.owner() != null && old.owner() != session ? old.owner() : null;
    Entry previous = nodes.put(info.id(), new Entry(info, session, certificate, size));
    bytes += size - (previous == null ? 0 : previous.bytes());
    return new Admission(replaced, null);
  }

  /**
   * Removes the disconnected entry seen longest ago (of {@code certificate}'s only, unless null);
   * false when there is none.
   */
  private boolean evictOldestDisconnected(@Nullable String certificate) {
    Map.Entry<String, Entry> oldest = null;
    for (Map.Entry<String, Entry> e : nodes.entrySet()) {
      Entry v = e.getValue();
      if (v.owner() != null || (certificate != null && !v.certificate().equals(certificate))) {
        continue;
      }
      if (oldest == null || v.info().lastSeen().isBefore(oldest.getValue().info().lastSeen())) {
        oldest = e;
      }
    }
    if (oldest == null) {
      return false;
    }
    nodes.remove(oldest.getKey());
    bytes -= oldest.getValue().bytes();
    log.info(
        "Evicted data plane {} ({}) from the registry to make room; not seen since {}",
        oldest.getKey(),
        oldest.getValue().info().hostname(),
        oldest.getValue().info().lastSeen());
    return true;
  }

  /**
   * An estimate of the heap an entry takes: 1 KiB for the entry, and for each string 48 bytes plus
   * one byte per character (two when it holds a character beyond U+00FF, as the JVM's compact
   * strings do), plus 16 bytes per label or plugin. Measured on JDK 17, an entry at the default
   * limits took 94 to 102 KB in two runs (this estimate: 107 KB) and one with 60 plugins and 4
   * labels 8 KB (this estimate: about 10 KB).
   */
  static long estimatedBytes(DataPlaneInfo info) {
    long total = 1024;
    for (String s : new String[] {info.id(), info.hostname(), info.address(), info.version()}) {
      total += stringBytes(s);
    }
    for (Map<String, String> m : List.of(info.capabilities(), info.labels())) {
      for (Map.Entry<String, String> e : m.entrySet()) {
        total += 16 + stringBytes(e.getKey()) + stringBytes(e.getValue());
      }
    }
    return total;
  }

  private static long stringBytes(String s) {
    boolean wide = s.chars().anyMatch(c -> c > 0xff);
    return 48 + (wide ? 2L : 1L) * s.length();
  }

  /** Applies {@code change} to the node's entry if {@code session} still owns it. */
  void update(String id, OutletSession session, UnaryOperator<DataPlaneInfo> change) {
    nodes.computeIfPresent(
        id,
        (k, e) ->
            e.owner() == session
                ? new Entry(change.apply(e.info()), session, e.certificate(), e.bytes())
                : e);
  }

  /** Marks the node disconnected if {@code session} still owns it. */
  synchronized void disconnect(String id, OutletSession session) {
    Instant now = clock.instant();
    nodes.computeIfPresent(
        id,
        (k, e) ->
            e.owner() == session
                ? new Entry(
                    with(e.info(), false, now, e.info().configHash()),
                    null,
                    e.certificate(),
                    e.bytes())
                : e);
  }

  /** Forgets nodes disconnected for longer than {@code after}; returns how many. */
  synchronized int forget(Duration after) {
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
                bytes -= e.getValue().bytes();
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

  /** The estimated heap the entries take, as {@link #estimatedBytes} counts it. */
  synchronized long bytes() {
    return bytes;
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

package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdClient.bytes;
import static dev.configsync.cp.etcd.EtcdSession.put;
import static dev.configsync.cp.etcd.EtcdSession.readJson;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.FleetDirectory;
import dev.configsync.cp.UsageReport;
import dev.configsync.cp.etcd.EtcdClient.Call;
import dev.configsync.cp.etcd.internal.rpc.DeleteRangeRequest;
import dev.configsync.cp.etcd.internal.rpc.KeyValue;
import dev.configsync.cp.etcd.internal.rpc.RequestOp;
import dev.configsync.cp.etcd.internal.rpc.TxnRequest;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fleet the replicas share through etcd: each replica's data planes under {@code
 * <prefix>nodes/<replica>/}, attached to the session's lease, and per-replica aggregates (usage
 * figures among them) under {@code <prefix>aggregates/<name>/<replica>}. The {@link FleetDirectory}
 * half of {@link EtcdConfigStore}.
 *
 * <p><b>Threads.</b> Writes happen on the session's scheduler thread only ({@link #flush}, at most
 * one round per flush interval), so what was written ({@code written}, {@code writtenSeen}, each
 * aggregate's last written value) needs no lock. The other replicas' entries are kept in concurrent
 * maps that the session's watch thread fills ({@link #onKey}) and any thread reads without blocking
 * ({@link #remote}, {@link #usageByReplica}, {@link SharedAggregate#byReplica}).
 */
final class SharedFleet implements EtcdSession.Part {
  private static final Logger log = LoggerFactory.getLogger(SharedFleet.class);
  private static final Duration LAST_SEEN_REFRESH = Duration.ofSeconds(30);
  private static final int OPS_PER_TXN = 64; // etcd refuses more than --max-txn-ops (128)

  /** The aggregate under which replicas share their usage figures (see {@link #shareUsage}). */
  static final String USAGE_AGGREGATE = "cp-usage";

  private final EtcdSession session;
  private final EtcdSettings keys;
  private final String replica;

  private volatile Supplier<List<DataPlaneInfo>> local = List::of;
  private final Map<String, DataPlaneInfo> remoteNodes = new ConcurrentHashMap<>();
  private final Map<String, Map<String, JsonNode>> aggregates = new ConcurrentHashMap<>();
  private final Map<String, EtcdAggregate> ownAggregates = new ConcurrentHashMap<>();
  private volatile @Nullable Supplier<UsageReport> localUsage;
  private final Map<String, DecodedUsage> remoteUsage = new ConcurrentHashMap<>();
  private final AtomicInteger nodeWrites = new AtomicInteger();

  // The scheduler thread's state.
  private final Map<String, String> written = new HashMap<>(); // node id -> JSON sans last_seen
  private final Map<String, Instant> writtenSeen = new HashMap<>();
  private long writtenUnder; // the lease the nodes in "written" are attached to
  private @Nullable UsageReport usageShared;
  private boolean warnedUsageRows;

  SharedFleet(EtcdSession session) {
    this.session = session;
    this.keys = session.settings();
    this.replica = keys.replica();
  }

  /** See {@link EtcdConfigStore#start}. */
  void start(Supplier<List<DataPlaneInfo>> local) {
    this.local = Objects.requireNonNull(local, "local");
  }

  /** See {@link EtcdConfigStore#remote}. */
  List<DataPlaneInfo> remote() {
    return List.copyOf(remoteNodes.values());
  }

  /** How many node-update transactions were written. For tests. */
  int nodeWrites() {
    return nodeWrites.get();
  }

  // ---- usage -----------------------------------------------------------------------------------

  /** See {@link EtcdConfigStore#shareUsage}. */
  void shareUsage(Supplier<UsageReport> local) {
    this.localUsage = Objects.requireNonNull(local, "local");
    aggregate(USAGE_AGGREGATE);
  }

  /** See {@link EtcdConfigStore#usageByReplica}. */
  Map<String, UsageReport> usageByReplica() {
    Supplier<UsageReport> local = localUsage;
    if (local == null) {
      return Map.of();
    }
    Map<String, UsageReport> all = new TreeMap<>();
    aggregates
        .getOrDefault(USAGE_AGGREGATE, Map.of())
        .forEach(
            (name, json) -> {
              if (!name.equals(replica)) {
                UsageReport r = decodeUsage(name, json);
                if (r != null) {
                  all.put(name, r);
                }
              }
            });
    all.put(replica, local.get());
    return all;
  }

  private record DecodedUsage(JsonNode json, @Nullable UsageReport report) {}

  /** Decodes a replica's shared report once per value written (the watch's node, by identity). */
  @SuppressWarnings("ReferenceEquality")
  private @Nullable UsageReport decodeUsage(String name, JsonNode json) {
    DecodedUsage known = remoteUsage.get(name);
    if (known != null && known.json() == json) {
      return known.report();
    }
    UsageReport report;
    try {
      report = UsageJson.read(json);
    } catch (RuntimeException e) {
      log.warn(
          "Ignoring the unreadable usage figures of replica {} in etcd: {}", name, e.toString());
      report = null;
    }
    remoteUsage.put(name, new DecodedUsage(json, report));
    return report;
  }

  /**
   * Hands this replica's figures to the aggregate when they changed (scheduler thread). The control
   * plane returns the same report object until a batch is counted: identity tells a change cheaply.
   */
  @SuppressWarnings("ReferenceEquality")
  private void shareUsageNow() {
    Supplier<UsageReport> local = localUsage;
    if (local == null) {
      return;
    }
    UsageReport now = local.get();
    if (now == usageShared) {
      return;
    }
    UsageJson.Written w = UsageJson.write(now, UsageJson.MAX_BYTES);
    if (w.rowsLeftOut() && !warnedUsageRows) {
      warnedUsageRows = true;
      log.warn(
          "The usage rows of replica {} ({} rows) exceed {} bytes as JSON: the other replicas see"
              + " its billing figures and counters, not its rows (their requests count in"
              + " rows_over_limit)",
          replica,
          now.rows().size(),
          UsageJson.MAX_BYTES);
    }
    aggregate(USAGE_AGGREGATE).set(w.json());
    usageShared = now;
  }

  // ---- aggregates ------------------------------------------------------------------------------

  /** See {@link EtcdConfigStore#aggregate}; the name is checked there. */
  SharedAggregate aggregate(String name) {
    return ownAggregates.computeIfAbsent(name, EtcdAggregate::new);
  }

  private final class EtcdAggregate implements SharedAggregate {
    private final String name;
    private volatile @Nullable JsonNode latest;
    private @Nullable JsonNode written; // scheduler thread only

    EtcdAggregate(String name) {
      this.name = name;
    }

    @Override
    public void set(JsonNode value) {
      latest = Objects.requireNonNull(value, "value").deepCopy();
    }

    @Override
    public Map<String, JsonNode> byReplica() {
      Map<String, JsonNode> all = new LinkedHashMap<>(aggregates.getOrDefault(name, Map.of()));
      JsonNode mine = latest;
      if (mine != null) {
        all.put(replica, mine);
      }
      return Map.copyOf(all);
    }

    /** Writes the latest value if it changed; returns whether it wrote. */
    boolean flush() throws IOException {
      JsonNode value = latest;
      if (value == null || value.equals(written)) {
        return false;
      }
      session.put(put(keys.aggregatesPrefix() + name + "/" + replica, bytes(value.toString()), 0));
      written = value;
      return true;
    }
  }

  // ---- the scheduler thread --------------------------------------------------------------------

  /** One round of writes: the data planes that changed, then the usage and other aggregates. */
  @Override
  public void flush() throws IOException {
    flushNodes();
    shareUsageNow();
    for (EtcdAggregate a : ownAggregates.values()) {
      a.flush();
    }
  }

  private void flushNodes() throws IOException {
    long lease = session.leaseId();
    if (lease != writtenUnder) {
      // A new lease (the first, or one taken after etcd let the last expire): the entries written
      // under the old one are gone with it, so every data plane is written again.
      written.clear();
      writtenSeen.clear();
      writtenUnder = lease;
    }
    List<DataPlaneInfo> nodes = local.get();
    Instant now = session.clock().instant();
    List<RequestOp> ops = new ArrayList<>();
    Map<String, String> wrote = new HashMap<>();
    Set<String> present = new HashSet<>();
    for (DataPlaneInfo node : nodes) {
      present.add(node.id());
      String stable = NodeJson.write(node, replica, null);
      Instant seen = writtenSeen.get(node.id());
      if (stable.equals(written.get(node.id()))
          && seen != null
          && Duration.between(seen, node.lastSeen()).compareTo(LAST_SEEN_REFRESH) < 0) {
        continue;
      }
      String full = NodeJson.write(node, replica, node.lastSeen());
      ops.add(
          RequestOp.newBuilder()
              .setRequestPut(put(keys.nodeKey(node.id()), bytes(full), lease))
              .build());
      wrote.put(node.id(), stable);
    }
    List<String> gone = new ArrayList<>();
    for (String id : written.keySet()) {
      if (!present.contains(id)) {
        ops.add(
            RequestOp.newBuilder()
                .setRequestDeleteRange(
                    DeleteRangeRequest.newBuilder().setKey(bytes(keys.nodeKey(id))))
                .build());
        gone.add(id);
      }
    }
    if (ops.isEmpty() || lease == 0) {
      return;
    }
    for (int i = 0; i < ops.size(); i += OPS_PER_TXN) {
      TxnRequest txn =
          TxnRequest.newBuilder()
              .addAllSuccess(ops.subList(i, Math.min(ops.size(), i + OPS_PER_TXN)))
              .build();
      var unused = session.txn(txn, Call.IDEMPOTENT);
      nodeWrites.incrementAndGet();
    }
    written.putAll(wrote);
    for (String id : wrote.keySet()) {
      writtenSeen.put(id, now);
    }
    for (String id : gone) {
      written.remove(id);
      writtenSeen.remove(id);
    }
  }

  // ---- the watch thread ------------------------------------------------------------------------

  @Override
  public void reset() {
    remoteNodes.clear();
    aggregates.clear();
  }

  @Override
  public void onKey(String key, KeyValue kv, boolean deleted) {
    if (key.startsWith(keys.nodesPrefix())) {
      String rest = key.substring(keys.nodesPrefix().length());
      if (rest.startsWith(replica + "/")) {
        return; // this replica's own nodes: its registry has them
      }
      if (deleted) {
        remoteNodes.remove(rest);
      } else {
        try {
          remoteNodes.put(rest, NodeJson.read(kv.getValue().toByteArray()));
        } catch (IOException | RuntimeException e) {
          log.warn("Ignoring unreadable data plane entry {} in etcd: {}", key, e.getMessage());
        }
      }
    } else if (key.startsWith(keys.aggregatesPrefix())) {
      String rest = key.substring(keys.aggregatesPrefix().length());
      int slash = rest.indexOf('/');
      if (slash > 0) {
        Map<String, JsonNode> byReplica =
            aggregates.computeIfAbsent(rest.substring(0, slash), k -> new ConcurrentHashMap<>());
        if (deleted) {
          byReplica.remove(rest.substring(slash + 1));
        } else {
          byReplica.put(rest.substring(slash + 1), readJson(kv));
        }
      }
    }
  }

  @Override
  public void endOfBatch() {}
}

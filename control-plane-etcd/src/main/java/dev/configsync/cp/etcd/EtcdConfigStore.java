package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdGateway.b64;
import static dev.configsync.cp.etcd.EtcdGateway.bytes;
import static dev.configsync.cp.etcd.EtcdGateway.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.cp.ConfigConflictException;
import dev.configsync.cp.ConfigOutcomeUnknownException;
import dev.configsync.cp.ConfigStore;
import dev.configsync.cp.ConfigVersion;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.FleetDirectory;
import dev.configsync.cp.UsageReport;
import dev.configsync.cp.etcd.EtcdGateway.Call;
import dev.configsync.cp.etcd.EtcdGateway.OutcomeUnknownException;
import dev.configsync.cp.etcd.EtcdGateway.WatchStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared store of a highly available control plane: several {@link
 * dev.configsync.cp.ControlPlaneServer} replicas keep their configuration, their data planes and
 * their usage figures in one etcd cluster (etcd 3.4 or newer), under a key prefix.
 *
 * <pre>{@code
 * EtcdConfigStore etcd = EtcdConfigStore.builder()
 *     .endpoints(List.of(URI.create("http://etcd-1:2379"), URI.create("http://etcd-2:2379"),
 *                        URI.create("http://etcd-3:2379")))
 *     .replicaName("cp-1")
 *     .build();
 * ControlPlaneServer cp = ControlPlaneServer.builder()
 *     .tls(...)
 *     .configStore(etcd)        // publishes: one compare-and-set transaction
 *     .fleetDirectory(etcd)     // GET /clustering/data-planes lists the whole fleet
 *     .start();
 * }</pre>
 *
 * <p><b>Configuration.</b> A publish writes the gzip frame and its hash ({@code <prefix>config},
 * {@code <prefix>config-hash}) in one transaction that also checks that the stored configuration is
 * still the one this replica replaces; if another replica published first, nothing is written and
 * the publish fails with a {@link ConfigConflictException} (the admin API's 409). Every replica
 * watches the prefix and hands what others publish to its control plane, which sends it to its own
 * nodes at once. A watch that broke resumes from the last revision it saw; when etcd compacted that
 * revision away, the replica reloads the latest state instead.
 *
 * <p><b>Fleet.</b> Each replica writes its data planes under {@code <prefix>nodes/<replica>/},
 * attached to a lease it keeps alive: when a replica crashes, its entries disappear once the lease
 * expires ({@link Builder#leaseTtl}). Writes are batched, at most one round per {@link
 * Builder#flushInterval}, and only for nodes whose state changed (or whose last-seen time is 30 s
 * old); pings are never written one by one.
 *
 * <p><b>Health.</b> When etcd cannot be reached for {@link Builder#unavailableAfter} in a row,
 * {@link #unavailable()} says so: the control plane reports itself {@code degraded}, refuses
 * publishes at once with that reason, and keeps serving the configuration it has, also to nodes
 * that connect meanwhile.
 *
 * <p><b>Threads.</b> Thread-safe. Two daemon threads per store: {@code configsync-etcd-watch-*}
 * reads the watch stream and calls the control plane's listener; {@code configsync-etcd-*} keeps
 * the lease alive and writes node and aggregate updates. {@link #close()} stops both and revokes
 * the lease (the replica's nodes vanish from the fleet at once).
 */
public final class EtcdConfigStore implements ConfigStore, FleetDirectory {
  private static final Logger log = LoggerFactory.getLogger(EtcdConfigStore.class);
  private static final String NO_HASH = "00000000000000000000000000000000";
  private static final Duration LAST_SEEN_REFRESH = Duration.ofSeconds(30);
  private static final int OPS_PER_TXN = 64; // etcd refuses more than --max-txn-ops (128)

  /** How many publish history entries are kept in etcd. */
  static final int HISTORY_KEPT = ControlPlaneServer.MAX_HISTORY;

  /** The aggregate under which replicas share their usage figures (see {@link #shareUsage}). */
  static final String USAGE_AGGREGATE = "cp-usage";

  private final Builder settings;
  private final EtcdGateway gateway;
  private final String prefix;
  private final String replica;
  private final Clock clock = Clock.systemUTC();
  private final Instant startedAt = clock.instant();

  // What this replica knows of the stored configuration; guarded by "this".
  private long knownRevision;
  private String knownHash = NO_HASH;

  private volatile long watchFrom; // next revision the watch asks for; 0 = reload first
  private volatile @Nullable Listener listener;
  private volatile Supplier<List<DataPlaneInfo>> local = List::of;
  private final Map<String, DataPlaneInfo> remoteNodes = new ConcurrentHashMap<>();
  private final Map<String, JsonNode> replicas = new ConcurrentHashMap<>();
  private final Map<String, Map<String, JsonNode>> aggregates = new ConcurrentHashMap<>();
  private final Map<String, EtcdAggregate> ownAggregates = new ConcurrentHashMap<>();
  private volatile @Nullable Supplier<UsageReport> localUsage;
  private @Nullable UsageReport usageShared; // scheduler thread only
  private boolean warnedUsageRows; // scheduler thread only
  private final Map<String, DecodedUsage> remoteUsage = new ConcurrentHashMap<>();

  // Health: nanoTime of the last call etcd answered; failingSince is that value once a call has
  // failed after it (0 while healthy), so the clock runs from etcd's last answer, not from when a
  // failure was noticed (a call can take requestTimeout to fail).
  private volatile long lastAnswerNanos = System.nanoTime();
  private final AtomicLong failingSince = new AtomicLong();
  private volatile @Nullable Instant failingSinceInstant;
  private volatile String lastError = "";
  private volatile boolean reportedUnavailable;

  // The scheduler thread's state.
  private volatile long leaseId;
  private long lastKeepAliveNanos;
  private final Map<String, String> written = new HashMap<>(); // node id -> JSON sans last_seen
  private final Map<String, Instant> writtenSeen = new HashMap<>();
  private volatile long watchSeenRevision;

  private volatile boolean historyWritten; // the scheduler trims the history after a publish
  private final AtomicInteger reloads = new AtomicInteger();
  private final AtomicInteger nodeWrites = new AtomicInteger();
  private @Nullable ScheduledExecutorService scheduler;
  private @Nullable Thread watchThread;
  private volatile boolean closed;

  private EtcdConfigStore(Builder b) {
    this.settings = b;
    this.gateway =
        new EtcdGateway(
            b.endpoints, b.requestTimeout, b.ssl == null ? null : b.ssl.getSocketFactory());
    this.prefix = b.prefix;
    this.replica = b.replicaName;
  }

  /** A builder; {@link Builder#endpoints} is required. */
  public static Builder builder() {
    return new Builder();
  }

  private String configKey() {
    return prefix + "config";
  }

  private String hashKey() {
    return prefix + "config-hash";
  }

  private String historyPrefix() {
    return prefix + "history/";
  }

  /** The history entry of the write that replaced {@code revision} (zero-padded: keys sort). */
  private String historyKey(long revision) {
    return historyPrefix() + String.format(java.util.Locale.ROOT, "%020d", revision);
  }

  private String nodesPrefix() {
    return prefix + "nodes/";
  }

  private String replicasPrefix() {
    return prefix + "replicas/";
  }

  private String aggregatesPrefix() {
    return prefix + "aggregates/";
  }

  /** This replica's name in etcd keys. */
  public String replicaName() {
    return replica;
  }

  // ---- ConfigStore -----------------------------------------------------------------------------

  /**
   * Reads the stored configuration from etcd.
   *
   * @throws IOException when no etcd member answers within the request timeout; a control plane
   *     does not start without knowing the fleet's configuration
   */
  @Override
  public Optional<byte[]> load() throws IOException {
    JsonNode answer;
    try {
      answer = call("/v3/kv/range", range(configKey()), Call.IDEMPOTENT);
    } catch (IOException e) {
      throw new IOException(
          "cannot read the configuration from " + describe() + ": " + e.getMessage(), e);
    }
    JsonNode kvs = answer.path("kvs");
    synchronized (this) {
      if (kvs.isEmpty()) {
        knownRevision = 0;
        knownHash = NO_HASH;
        return Optional.empty();
      }
      JsonNode kv = kvs.get(0);
      knownRevision = kv.path("mod_revision").asLong();
      byte[] payload = bytes(kv.path("value"));
      knownHash = hashOf(payload);
      return Optional.of(payload);
    }
  }

  @Override
  public void save(byte[] payload, String hash) throws IOException {
    String expected;
    synchronized (this) {
      expected = knownHash;
    }
    long unused = save(payload, hash, expected.equals(NO_HASH) ? null : expected);
  }

  /**
   * Writes the configuration in one compare-and-set transaction, with its entry in the publish
   * history ({@code <prefix>history/<revision it replaces>}, so that exactly one write can replace
   * a given revision, and whether this one did can be read back after a lost answer).
   *
   * @return etcd's revision of the write
   * @throws ConfigOutcomeUnknownException when the transaction was sent, got no answer, and etcd
   *     could not be asked afterwards whether it was applied
   */
  @Override
  public long save(byte[] payload, String hash, @Nullable String expectedPreviousHash)
      throws IOException {
    Optional<String> down = unavailable();
    if (down.isPresent()) {
      throw new IOException(
          down.get()
              + "; publishing is refused until etcd is back (the data planes keep the"
              + " configuration they have)");
    }
    long revision;
    String known;
    synchronized (this) {
      revision = knownRevision;
      known = knownHash;
    }
    String expected = expectedPreviousHash == null ? NO_HASH : expectedPreviousHash;
    if (!expected.equals(known)) {
      throw new ConfigConflictException(
          known, "etcd holds " + known + " (revision " + revision + "), not " + expected);
    }
    String entryKey = historyKey(revision);
    ObjectNode entry = EtcdGateway.JSON.createObjectNode();
    entry.put("hash", hash).put("replica", replica).put("published_at", clock.instant().toString());
    ObjectNode txn = EtcdGateway.JSON.createObjectNode();
    ObjectNode compare = txn.putArray("compare").addObject();
    compare.put("target", "MOD").put("key", b64(hashKey())).put("result", "EQUAL");
    compare.put("mod_revision", Long.toString(revision));
    ArrayNode success = txn.putArray("success");
    success.addObject().set("request_put", put(configKey(), b64(payload), 0));
    success.addObject().set("request_put", put(hashKey(), b64(hash), 0));
    success.addObject().set("request_put", put(entryKey, b64(entry.toString()), 0));
    txn.putArray("failure").addObject().set("request_range", range(hashKey()));
    // The compare makes a repeated transaction harmless: at most one write replaces a revision,
    // and the history entry under that revision says which one did.
    for (int attempt = 1; ; attempt++) {
      JsonNode answer;
      try {
        answer = call("/v3/kv/txn", txn, Call.ONCE);
      } catch (EtcdGateway.EtcdException e) {
        if (e.getMessage() != null && e.getMessage().contains("too large")) {
          throw new IOException(
              "the compressed configuration ("
                  + payload.length
                  + " bytes) is larger than etcd accepts in one request (its --max-request-bytes,"
                  + " 1.5 MiB by default; raise it on every member)",
              e);
        }
        throw e;
      } catch (OutcomeUnknownException e) {
        // A member took the write and gave no answer (a leader election, a member dying, quorum
        // lost): ask which write replaced the revision this one expected.
        JsonNode written;
        try {
          written = call("/v3/kv/range", range(entryKey), Call.IDEMPOTENT).path("kvs").path(0);
        } catch (IOException readBack) {
          throw new ConfigOutcomeUnknownException(
              hash,
              e.getMessage()
                  + "; etcd could not be asked afterwards ("
                  + readBack.getMessage()
                  + ")",
              e);
        }
        if (!written.isMissingNode()) {
          long now = written.path("mod_revision").asLong();
          String by = readJson(written).path("hash").asText("");
          if (by.equals(hash)) {
            learn(now, hash);
            return now;
          }
          throw new ConfigConflictException(
              by, "etcd holds " + by + " (revision " + now + "), written by another replica");
        }
        if (attempt < 3) {
          // Not applied yet; sending it again is safe (at most one write replaces the revision).
          log.info(
              "etcd did not answer a publish ({}); it is not applied so far, trying again",
              e.getMessage());
          continue;
        }
        throw new ConfigOutcomeUnknownException(
            hash,
            e.getMessage()
                + "; not applied when last asked, but it may still be (it may wait in a cut-off"
                + " member's log)",
            e);
      }
      if (!answer.path("succeeded").asBoolean(false)) {
        JsonNode kv = answer.path("responses").path(0).path("response_range").path("kvs").path(0);
        String stored = kv.isMissingNode() ? NO_HASH : text(kv.path("value"));
        long now = kv.path("mod_revision").asLong(0);
        if (attempt > 1 && stored.equals(hash) && now > revision) {
          learn(now, hash); // an earlier attempt of this publish was applied after all
          return now;
        }
        throw new ConfigConflictException(
            stored,
            "etcd holds "
                + stored
                + " (revision "
                + now
                + "), this replica expected revision "
                + revision);
      }
      long now = answer.path("header").path("revision").asLong();
      learn(now, hash);
      historyWritten = true;
      return now;
    }
  }

  private synchronized void learn(long revision, String hash) {
    if (revision > knownRevision) {
      knownRevision = revision;
      knownHash = hash;
    }
  }

  /**
   * The publish history as etcd holds it (every replica answers the same), newest first: one entry
   * per configuration written by a publish, with etcd's revision of the write, when and by which
   * replica. The newest {@value #HISTORY_KEPT} are kept.
   */
  @Override
  public Optional<List<ConfigVersion>> history(int limit) throws IOException {
    ObjectNode request = EtcdGateway.JSON.createObjectNode();
    request
        .put("key", b64(historyPrefix()))
        .put("range_end", EtcdGateway.prefixEnd(historyPrefix()));
    request.put("sort_order", "DESCEND").put("sort_target", "KEY");
    request.put("limit", Long.toString(Math.max(1, limit)));
    JsonNode answer = call("/v3/kv/range", request, Call.IDEMPOTENT);
    List<ConfigVersion> versions = new ArrayList<>();
    for (JsonNode kv : answer.path("kvs")) {
      JsonNode entry = readJson(kv);
      Instant at;
      try {
        at = Instant.parse(entry.path("published_at").asText(""));
      } catch (java.time.format.DateTimeParseException e) {
        at = Instant.EPOCH; // written by hand or by an incompatible version
      }
      versions.add(
          new ConfigVersion(
              entry.path("hash").asText(NO_HASH),
              kv.path("mod_revision").asLong(),
              at,
              entry.path("replica").asText("")));
    }
    return Optional.of(List.copyOf(versions));
  }

  /** Deletes the history entries beyond the newest {@link #HISTORY_KEPT} (scheduler thread). */
  private void trimHistory() throws IOException {
    ObjectNode request = EtcdGateway.JSON.createObjectNode();
    request
        .put("key", b64(historyPrefix()))
        .put("range_end", EtcdGateway.prefixEnd(historyPrefix()));
    request.put("sort_order", "DESCEND").put("sort_target", "KEY").put("keys_only", true);
    request.put("limit", Long.toString(HISTORY_KEPT + 1));
    JsonNode kvs = call("/v3/kv/range", request, Call.IDEMPOTENT).path("kvs");
    if (kvs.size() <= HISTORY_KEPT) {
      return;
    }
    // Everything from the start of the prefix up to and including the oldest one listed.
    byte[] last = bytes(kvs.get(HISTORY_KEPT).path("key"));
    byte[] end = java.util.Arrays.copyOf(last, last.length + 1);
    ObjectNode delete = EtcdGateway.JSON.createObjectNode();
    delete.put("key", b64(historyPrefix())).put("range_end", b64(end));
    call("/v3/kv/deleterange", delete, Call.IDEMPOTENT);
  }

  @Override
  public void watch(Listener listener) {
    this.listener = Objects.requireNonNull(listener, "listener");
    ensureStarted();
  }

  @Override
  public Optional<String> unavailable() {
    long since = failingSince.get();
    if (since == 0 || closed) {
      return Optional.empty();
    }
    if (System.nanoTime() - since < settings.unavailableAfter.toNanos()) {
      return Optional.empty();
    }
    return Optional.of("etcd unreachable since " + failingSinceInstant + " (" + lastError + ")");
  }

  @Override
  public String describe() {
    return "etcd " + gateway.endpoints() + " under " + prefix + " as replica " + replica;
  }

  // ---- FleetDirectory --------------------------------------------------------------------------

  @Override
  public void start(Supplier<List<DataPlaneInfo>> local) {
    this.local = Objects.requireNonNull(local, "local");
    ensureStarted();
  }

  @Override
  public List<DataPlaneInfo> remote() {
    return List.copyOf(remoteNodes.values());
  }

  /** The replicas whose lease is alive, by name, with what each last wrote about itself. */
  Map<String, JsonNode> liveReplicas() {
    return Map.copyOf(replicas);
  }

  // ---- usage -----------------------------------------------------------------------------------

  /**
   * Shares this replica's usage figures through the aggregate {@code cp-usage}: read from {@code
   * local} once per {@link Builder#flushInterval}, and written only when they changed, so that a
   * replica writes them at most once per interval however many batches its data planes send.
   */
  @Override
  public void shareUsage(Supplier<UsageReport> local) {
    this.localUsage = Objects.requireNonNull(local, "local");
    aggregate(USAGE_AGGREGATE);
  }

  /**
   * This replica's usage as {@code local} returns it now, and every other replica's as last written
   * to etcd (from memory, kept current by the watch), by replica name; empty before {@link
   * #shareUsage}. A value that cannot be read (written by an incompatible version) is left out.
   */
  @Override
  public Map<String, UsageReport> usageByReplica() {
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

  /**
   * A per-replica aggregate shared with every replica under {@code name} (for example usage
   * counters): see {@link SharedAggregate}. The same object is returned for the same name.
   *
   * @throws IllegalArgumentException when {@code name} is blank or contains {@code /}
   */
  public SharedAggregate aggregate(String name) {
    if (name == null || name.isBlank() || name.contains("/")) {
      throw new IllegalArgumentException("aggregate name must be non-blank without '/': " + name);
    }
    ensureStarted();
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
      ObjectNode put =
          put(
              aggregatesPrefix() + name + "/" + replica,
              b64(value.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)),
              0);
      call("/v3/kv/put", put, Call.IDEMPOTENT);
      written = value;
      return true;
    }
  }

  // ---- background ------------------------------------------------------------------------------

  private synchronized void ensureStarted() {
    if (scheduler != null || closed) {
      return;
    }
    ScheduledExecutorService s =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "configsync-etcd-" + replica);
              t.setDaemon(true);
              return t;
            });
    scheduler = s;
    long period = settings.flushInterval.toMillis();
    // tick() catches everything it throws, so the future has nothing to report.
    var unused = s.scheduleWithFixedDelay(this::tick, 0, period, TimeUnit.MILLISECONDS);
    Thread w = new Thread(this::watchLoop, "configsync-etcd-watch-" + replica);
    w.setDaemon(true);
    watchThread = w;
    w.start();
  }

  /** One round on the scheduler thread: lease, heartbeat, nodes, aggregates, watch freshness. */
  private void tick() {
    if (closed) {
      return;
    }
    try {
      if (failingSince.get() != 0) {
        // Something failed since etcd's last answer: ask every round, so that an answer ends the
        // failing spell at once instead of waiting for the next write (a quorum read: a member cut
        // off from its leader cannot answer it).
        ObjectNode probe = range(hashKey()).put("count_only", true);
        call("/v3/kv/range", probe, Call.IDEMPOTENT);
      }
      long now = System.nanoTime();
      if (leaseId == 0 || now - lastKeepAliveNanos >= settings.leaseTtl.toNanos() / 3) {
        keepAlive();
        lastKeepAliveNanos = now;
      }
      flushNodes();
      if (historyWritten) {
        historyWritten = false;
        trimHistory();
      }
      shareUsageNow();
      for (EtcdAggregate a : ownAggregates.values()) {
        a.flush();
      }
    } catch (EtcdGateway.EtcdException e) {
      if (e.getMessage() != null && e.getMessage().contains("lease not found")) {
        log.warn("etcd lost the lease of replica {}; taking a new one", replica);
        leaseId = 0;
      } else {
        log.warn("etcd refused a write of replica {}: {}", replica, e.getMessage());
      }
    } catch (IOException e) {
      // Already recorded as a failure; the next round tries again.
      log.debug("etcd round failed: {}", e.getMessage());
    } catch (RuntimeException e) {
      log.warn("etcd round failed unexpectedly", e);
    }
  }

  private void keepAlive() throws IOException {
    if (leaseId != 0) {
      JsonNode answer =
          call(
              "/v3/lease/keepalive",
              EtcdGateway.JSON.createObjectNode().put("ID", Long.toString(leaseId)),
              Call.IDEMPOTENT);
      if (answer.path("result").path("TTL").asLong(0) <= 0) {
        log.warn(
            "etcd lease of replica {} expired (etcd was out of reach longer than {}); taking a new"
                + " one and writing this replica's data planes again",
            replica,
            settings.leaseTtl);
        leaseId = 0;
      }
    }
    if (leaseId == 0) {
      JsonNode grant =
          call(
              "/v3/lease/grant",
              EtcdGateway.JSON.createObjectNode().put("TTL", settings.leaseTtl.toSeconds()),
              Call.IDEMPOTENT);
      leaseId = grant.path("ID").asLong();
      written.clear();
      writtenSeen.clear();
    }
    ObjectNode me = EtcdGateway.JSON.createObjectNode();
    me.put("name", replica).put("started_at", startedAt.toString());
    me.put("heartbeat_at", clock.instant().toString());
    // Also what keeps every replica's watch stream from going quiet (see watchLoop).
    call(
        "/v3/kv/put",
        put(replicasPrefix() + replica, b64(me.toString()), leaseId),
        Call.IDEMPOTENT);
  }

  private void flushNodes() throws IOException {
    List<DataPlaneInfo> nodes = local.get();
    Instant now = clock.instant();
    List<ObjectNode> ops = new ArrayList<>();
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
      ObjectNode op = EtcdGateway.JSON.createObjectNode();
      op.set("request_put", put(nodeKey(node.id()), b64(full), leaseId));
      ops.add(op);
      wrote.put(node.id(), stable);
    }
    List<String> gone = new ArrayList<>();
    for (String id : written.keySet()) {
      if (!present.contains(id)) {
        ObjectNode op = EtcdGateway.JSON.createObjectNode();
        op.putObject("request_delete_range").put("key", b64(nodeKey(id)));
        ops.add(op);
        gone.add(id);
      }
    }
    if (ops.isEmpty() || leaseId == 0) {
      return;
    }
    for (int i = 0; i < ops.size(); i += OPS_PER_TXN) {
      ObjectNode txn = EtcdGateway.JSON.createObjectNode();
      ArrayNode success = txn.putArray("success");
      ops.subList(i, Math.min(ops.size(), i + OPS_PER_TXN)).forEach(success::add);
      call("/v3/kv/txn", txn, Call.IDEMPOTENT);
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

  private String nodeKey(String nodeId) {
    return nodesPrefix() + replica + "/" + nodeId;
  }

  // ---- watch -----------------------------------------------------------------------------------

  private void watchLoop() {
    long backoffMillis = 50;
    while (!closed) {
      try {
        if (watchFrom == 0) {
          reload();
        }
        ObjectNode create = EtcdGateway.JSON.createObjectNode();
        create.put("key", b64(prefix)).put("range_end", EtcdGateway.prefixEnd(prefix));
        create.put("start_revision", Long.toString(watchFrom));
        Duration silence =
            settings.leaseTtl.dividedBy(3).plus(settings.requestTimeout.multipliedBy(2));
        WatchStream s = gateway.openWatch(create, silence);
        if (closed) {
          s.close();
          return;
        }
        // Not a success yet: a member without a leader opens the stream, then ends it. Its first
        // response (etcd confirms the watch at once) is.
        log.debug("etcd watch on {} from revision {}", s.endpoint, watchFrom);
        backoffMillis = 50;
        try {
          s.read(this::onWatchResponse);
        } finally {
          s.close();
        }
        if (!closed) {
          gateway.avoid(s.endpoint);
          log.info("etcd watch on {} ended; resuming from revision {}", s.endpoint, watchFrom);
        }
      } catch (CompactedException e) {
        log.warn(
            "etcd compacted revision {} away while this replica was not watching (oldest kept:"
                + " {}); reloading the latest state",
            watchFrom,
            e.compactRevision);
        watchFrom = 0;
      } catch (IOException | RuntimeException e) {
        if (closed) {
          return;
        }
        failed(e);
        log.debug("etcd watch failed: {}", e.toString());
      }
      if (!closed) {
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException e) {
          return;
        }
        backoffMillis = Math.min(backoffMillis * 2, 1000);
      }
    }
  }

  /** A watch cancelled because its start revision was compacted away. */
  private static final class CompactedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final long compactRevision;

    CompactedException(long compactRevision) {
      super("compacted at " + compactRevision, null, false, false);
      this.compactRevision = compactRevision;
    }
  }

  /** Reads the whole prefix: the configuration, the fleet, the aggregates. */
  private void reload() throws IOException {
    ObjectNode request = EtcdGateway.JSON.createObjectNode();
    request.put("key", b64(prefix)).put("range_end", EtcdGateway.prefixEnd(prefix));
    JsonNode answer = call("/v3/kv/range", request, Call.IDEMPOTENT);
    long revision = answer.path("header").path("revision").asLong();
    remoteNodes.clear();
    replicas.clear();
    aggregates.clear();
    byte[] payload = null;
    long configRevision = 0;
    for (JsonNode kv : answer.path("kvs")) {
      String key = text(kv.path("key"));
      if (key.equals(configKey())) {
        payload = bytes(kv.path("value"));
        configRevision = kv.path("mod_revision").asLong();
      } else {
        onKey(key, kv, false);
      }
    }
    if (payload != null) {
      offerConfig(configRevision, payload);
    }
    reloads.incrementAndGet();
    watchSeenRevision = Math.max(watchSeenRevision, revision);
    watchFrom = revision + 1;
  }

  private void onWatchResponse(JsonNode result) {
    if (result.path("canceled").asBoolean(false)) {
      long compact = result.path("compact_revision").asLong(0);
      if (compact > 0) {
        throw new CompactedException(compact);
      }
      throw new IllegalStateException(
          "etcd cancelled the watch: " + result.path("cancel_reason").asText("no reason given"));
    }
    succeeded();
    byte[] payload = null;
    long configRevision = 0;
    long last = 0;
    for (JsonNode event : result.path("events")) {
      JsonNode kv = event.path("kv");
      String key = text(kv.path("key"));
      boolean deleted = "DELETE".equals(event.path("type").asText(""));
      long revision = kv.path("mod_revision").asLong();
      last = Math.max(last, revision);
      if (key.equals(configKey())) {
        if (deleted) {
          log.warn("The configuration was deleted from etcd by hand; still serving the last one");
        } else {
          payload = bytes(kv.path("value"));
          configRevision = revision;
        }
      } else {
        onKey(key, kv, deleted);
      }
    }
    if (payload != null) {
      offerConfig(configRevision, payload);
    }
    if (last > 0) {
      watchFrom = Math.max(watchFrom, last + 1);
      watchSeenRevision = Math.max(watchSeenRevision, last);
    }
  }

  private void onKey(String key, JsonNode kv, boolean deleted) {
    if (key.startsWith(nodesPrefix())) {
      String rest = key.substring(nodesPrefix().length());
      if (rest.startsWith(replica + "/")) {
        return; // this replica's own nodes: its registry has them
      }
      if (deleted) {
        remoteNodes.remove(rest);
      } else {
        try {
          remoteNodes.put(rest, NodeJson.read(bytes(kv.path("value"))));
        } catch (IOException | RuntimeException e) {
          log.warn("Ignoring unreadable data plane entry {} in etcd: {}", key, e.getMessage());
        }
      }
    } else if (key.startsWith(replicasPrefix())) {
      String name = key.substring(replicasPrefix().length());
      if (deleted) {
        replicas.remove(name);
      } else {
        replicas.put(name, readJson(kv));
      }
    } else if (key.startsWith(aggregatesPrefix())) {
      String rest = key.substring(aggregatesPrefix().length());
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

  private static JsonNode readJson(JsonNode kv) {
    try {
      return EtcdGateway.JSON.readTree(bytes(kv.path("value")));
    } catch (IOException e) {
      return EtcdGateway.JSON.getNodeFactory().textNode("unreadable: " + e.getMessage());
    }
  }

  /** Hands a configuration newer than the one known to the listener (outside any lock). */
  private void offerConfig(long revision, byte[] payload) {
    String hash = hashOf(payload);
    synchronized (this) {
      if (revision <= knownRevision) {
        return; // this replica's own publish, or one it already has
      }
      knownRevision = revision;
      knownHash = hash;
    }
    Listener l = listener;
    if (l != null && !closed) {
      l.changed(payload, hash, revision);
    }
  }

  /** The {@code config_hash} inside a stored frame (the control plane verifies it again). */
  private static String hashOf(byte[] payload) {
    try (java.io.InputStream in =
        new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(payload))) {
      JsonNode message = EtcdGateway.JSON.readTree(in);
      String hash = message.path("config_hash").asText("");
      return hash.isEmpty() ? NO_HASH : hash;
    } catch (IOException e) {
      return NO_HASH; // a damaged frame: the control plane says so when it decodes it
    }
  }

  // ---- calls and health ------------------------------------------------------------------------

  private JsonNode call(String path, ObjectNode body, Call kind) throws IOException {
    try {
      JsonNode answer = gateway.call(path, body, kind);
      succeeded();
      return answer;
    } catch (EtcdGateway.EtcdException e) {
      succeeded(); // etcd answered (with a refusal it would give again)
      throw e;
    } catch (IOException e) {
      // Unreachable, or reached without an answer (OutcomeUnknownException): no answer either way.
      failed(e);
      throw e;
    }
  }

  private void succeeded() {
    lastAnswerNanos = System.nanoTime();
    if (failingSince.getAndSet(0) != 0 && reportedUnavailable) {
      reportedUnavailable = false;
      log.info("etcd is reachable again; replica {} accepts publishes again", replica);
    }
  }

  private void failed(Exception e) {
    lastError = String.valueOf(e.getMessage());
    long lastAnswer = lastAnswerNanos;
    if (failingSince.compareAndSet(0, lastAnswer)) {
      failingSinceInstant = clock.instant().minusNanos(Math.max(0, System.nanoTime() - lastAnswer));
    }
    if (!reportedUnavailable && unavailable().isPresent()) {
      reportedUnavailable = true;
      log.warn(
          "etcd unreachable from replica {} since {}: {}; serving the last configuration,"
              + " refusing publishes",
          replica,
          failingSinceInstant,
          lastError);
    }
  }

  /** How many times the whole prefix was read (start, and after a compaction). For tests. */
  int reloads() {
    return reloads.get();
  }

  /** How many node-update transactions were written. For tests. */
  int nodeWrites() {
    return nodeWrites.get();
  }

  private static ObjectNode range(String key) {
    return EtcdGateway.JSON.createObjectNode().put("key", b64(key));
  }

  private static ObjectNode put(String key, String base64Value, long lease) {
    ObjectNode put = EtcdGateway.JSON.createObjectNode().put("key", b64(key));
    put.put("value", base64Value);
    if (lease != 0) {
      put.put("lease", Long.toString(lease));
    }
    return put;
  }

  /**
   * Stops the store's threads and revokes its lease, so that this replica's data planes leave the
   * fleet view at once. Idempotent.
   */
  @Override
  public void close() {
    ScheduledExecutorService s;
    Thread w;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      s = scheduler;
      w = watchThread;
    }
    if (s != null) {
      s.shutdownNow();
      try {
        s.awaitTermination(settings.requestTimeout.toMillis() * 2, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (w != null) {
      // A watch thread blocked on a quiet stream ends by itself within the stream's read timeout
      // (a third of leaseTtl plus twice requestTimeout); it calls no listener after close.
      w.interrupt();
    }
    long lease = leaseId;
    if (lease != 0) {
      try {
        gateway.call(
            "/v3/lease/revoke",
            EtcdGateway.JSON.createObjectNode().put("ID", Long.toString(lease)),
            Call.IDEMPOTENT);
      } catch (IOException e) {
        log.info(
            "Could not revoke the etcd lease of replica {} (it expires by itself): {}",
            replica,
            e.getMessage());
      }
    }
  }

  /**
   * Settings of an {@link EtcdConfigStore}. Every setter checks its argument at once and throws
   * {@link IllegalArgumentException} naming the setting.
   */
  public static final class Builder {
    private List<URI> endpoints = List.of();
    private String prefix = "/configsync/";
    private String replicaName = defaultReplicaName();
    private Duration leaseTtl = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(2);
    private Duration flushInterval = Duration.ofSeconds(1);
    private Duration unavailableAfter = Duration.ofSeconds(5);
    private @Nullable SSLContext ssl;

    private Builder() {}

    /**
     * The client URLs of the etcd members ({@code http://host:2379}, or {@code https://} with
     * {@link #sslContext}); required. List every member: a call goes to another one when one cannot
     * be reached.
     */
    public Builder endpoints(List<URI> endpoints) {
      Objects.requireNonNull(endpoints, "endpoints");
      require(!endpoints.isEmpty(), "endpoints must list at least one etcd member");
      for (URI e : endpoints) {
        require(
            e != null
                && ("http".equals(e.getScheme()) || "https".equals(e.getScheme()))
                && e.getHost() != null
                && (e.getPath() == null || e.getPath().isEmpty() || e.getPath().equals("/")),
            "endpoints must be etcd client URLs like http://10.0.0.1:2379, got: " + e);
      }
      this.endpoints = List.copyOf(endpoints);
      return this;
    }

    /**
     * The key prefix under which everything is kept; default {@code /configsync/}. Give each
     * control plane (each fleet) sharing one etcd cluster its own prefix.
     */
    public Builder prefix(String prefix) {
      require(
          prefix != null && !prefix.isBlank() && prefix.endsWith("/"),
          "prefix must be non-blank and end with '/': " + prefix);
      this.prefix = prefix;
      return this;
    }

    /**
     * This replica's name, unique among the replicas of one control plane; default this machine's
     * host name. Used in keys and logs.
     */
    public Builder replicaName(String name) {
      require(
          name != null && name.matches("[A-Za-z0-9._:-]{1,128}"),
          "replicaName must be 1 to 128 letters, digits or . _ : -, got: " + name);
      this.replicaName = name;
      return this;
    }

    /**
     * How long a crashed replica's data planes stay listed; default 10 s. The lease is renewed
     * every third of it. etcd enforces a minimum (about 1.5 x its election timeout).
     */
    public Builder leaseTtl(Duration ttl) {
      require(ttl != null && ttl.toSeconds() >= 2, "leaseTtl must be at least 2 s: " + ttl);
      this.leaseTtl = ttl;
      return this;
    }

    /**
     * The longest one etcd call may take, over every member tried; default 2 s. A publish waits at
     * most about this long for etcd.
     */
    public Builder requestTimeout(Duration timeout) {
      require(
          timeout != null && timeout.toMillis() >= 100,
          "requestTimeout must be at least 100 ms: " + timeout);
      this.requestTimeout = timeout;
      return this;
    }

    /**
     * How often changes to this replica's data planes and aggregates are written; default 1 s.
     * Bounds the write rate: at most one round of writes per interval, whatever the fleet does.
     */
    public Builder flushInterval(Duration interval) {
      require(
          interval != null && interval.toMillis() >= 10,
          "flushInterval must be at least 10 ms: " + interval);
      this.flushInterval = interval;
      return this;
    }

    /**
     * How long etcd may go without answering this replica, counted from its last answer, before the
     * replica reports itself degraded and refuses publishes; default 5 s (longer than an etcd
     * leader election). Keep it above {@link #requestTimeout}: a single call that fails after
     * {@code requestTimeout} otherwise makes the replica degraded at once.
     */
    public Builder unavailableAfter(Duration after) {
      require(
          after != null && !after.isNegative(), "unavailableAfter must not be negative: " + after);
      this.unavailableAfter = after;
      return this;
    }

    /**
     * TLS for {@code https://} endpoints, as a ready {@link SSLContext} (its trust managers check
     * etcd's certificates, its key managers present this replica's client certificate); default
     * none: the JDK's default trust store, no client certificate. The host name in each endpoint is
     * checked against etcd's certificate. See {@link #tls(Path, Path, Path)} for PEM files.
     */
    public Builder sslContext(SSLContext context) {
      this.ssl = Objects.requireNonNull(context, "sslContext");
      return this;
    }

    /**
     * TLS for {@code https://} endpoints from PEM files, read once, now: trusts only the CA
     * certificates in {@code caFile} for etcd's server certificates (etcd's {@code
     * --trusted-ca-file} issuer), and presents the certificate chain in {@code certFile} with the
     * unencrypted key in {@code keyFile}, for etcd's {@code --client-cert-auth}. The host name in
     * each endpoint is checked against etcd's certificate. Replaces {@link #sslContext}.
     *
     * @throws IllegalArgumentException naming the file that cannot be read, or when the key does
     *     not match the certificate
     */
    public Builder tls(Path caFile, Path certFile, Path keyFile) {
      Objects.requireNonNull(caFile, "caFile");
      Objects.requireNonNull(certFile, "certFile");
      Objects.requireNonNull(keyFile, "keyFile");
      this.ssl = EtcdTls.context(caFile, certFile, keyFile);
      return this;
    }

    /**
     * TLS for {@code https://} endpoints without a client certificate (etcd without {@code
     * --client-cert-auth}): trusts only the CA certificates in {@code caFile}, read once, now.
     *
     * @throws IllegalArgumentException when the file cannot be read
     */
    public Builder tls(Path caFile) {
      this.ssl = EtcdTls.context(Objects.requireNonNull(caFile, "caFile"), null, null);
      return this;
    }

    /**
     * Builds the store. It contacts etcd only when the control plane loads from it.
     *
     * @throws IllegalStateException when {@link #endpoints} was not set, or TLS is set and an
     *     endpoint is not {@code https://}
     */
    public EtcdConfigStore build() {
      if (endpoints.isEmpty()) {
        throw new IllegalStateException(
            "endpoints is required: endpoints(List.of(URI.create(\"http://etcd-1:2379\"), ...))");
      }
      if (ssl != null) {
        for (URI e : endpoints) {
          if (!"https".equals(e.getScheme())) {
            throw new IllegalStateException(
                "TLS is set for etcd but endpoint "
                    + e
                    + " is not https://: list every member's https:// client URL");
          }
        }
      }
      return new EtcdConfigStore(this);
    }

    private static String defaultReplicaName() {
      try {
        String host = InetAddress.getLocalHost().getHostName();
        return host.matches("[A-Za-z0-9._:-]{1,128}") ? host : "replica";
      } catch (UnknownHostException e) {
        return "replica";
      }
    }

    private static void require(boolean ok, String message) {
      if (!ok) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}

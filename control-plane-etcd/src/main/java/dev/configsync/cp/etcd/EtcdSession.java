package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdGateway.b64;
import static dev.configsync.cp.etcd.EtcdGateway.bytes;
import static dev.configsync.cp.etcd.EtcdGateway.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.cp.etcd.EtcdGateway.Call;
import dev.configsync.cp.etcd.EtcdGateway.WatchStream;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One replica's connection to etcd, shared by its {@link SharedConfig} and its {@link SharedFleet}:
 * the client ({@link EtcdGateway}), etcd's health as this replica sees it, the lease that keeps
 * this replica listed, the watch of the whole prefix, and the two threads that do the background
 * work. The parts do not talk to etcd by other means, so health is judged on every call.
 *
 * <p><b>Threads.</b> {@link #call} and {@link #unavailable} are safe from any thread. The lease,
 * the replica heartbeat and every part's {@link Part#flush} run on the scheduler thread {@code
 * configsync-etcd-<replica>}, one round per flush interval, so the parts' write-side state needs no
 * lock. The watch stream is read on {@code configsync-etcd-watch-<replica>}, which hands every key
 * to the parts ({@link Part#onKey}, {@link Part#endOfBatch}), one response at a time, in revision
 * order. {@link #start} and {@link #close} are synchronized and idempotent.
 */
final class EtcdSession {
  private static final Logger log = LoggerFactory.getLogger(EtcdSession.class);

  /**
   * What shares the session: each part keeps its own keys under the prefix. Called on the session's
   * threads only (see the class comment); exceptions from {@link #flush} end the round, which the
   * next one repeats.
   */
  interface Part {
    /** Writes what changed (scheduler thread), after the lease was kept alive. */
    void flush() throws IOException;

    /** The whole prefix is about to be read again (watch thread); forget what the watch told. */
    void reset();

    /** A key under the prefix was written or deleted (watch thread); ignore keys of others. */
    void onKey(String key, JsonNode kv, boolean deleted);

    /** The keys of one watch response or of one reload were all handed over (watch thread). */
    void endOfBatch();
  }

  private final EtcdSettings settings;
  private final EtcdGateway gateway;
  private final Clock clock = Clock.systemUTC();
  private final Instant startedAt = clock.instant();
  private final List<Part> parts = new CopyOnWriteArrayList<>();

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

  // The watch thread's state.
  private volatile long watchFrom; // next revision the watch asks for; 0 = reload first
  private final Map<String, JsonNode> replicas = new ConcurrentHashMap<>();
  private final AtomicInteger reloads = new AtomicInteger();

  private @Nullable ScheduledExecutorService scheduler;
  private @Nullable Thread watchThread;
  private volatile boolean closed;

  EtcdSession(EtcdSettings settings) {
    this.settings = settings;
    this.gateway =
        new EtcdGateway(
            settings.endpoints(),
            settings.requestTimeout(),
            settings.ssl() == null ? null : settings.ssl().getSocketFactory());
  }

  EtcdSettings settings() {
    return settings;
  }

  Clock clock() {
    return clock;
  }

  /** Adds a part; its {@link Part#flush} runs after those added before it. */
  void add(Part part) {
    parts.add(part);
  }

  boolean isClosed() {
    return closed;
  }

  /** The lease this replica's own keys are attached to; 0 before one is granted (or after loss). */
  long leaseId() {
    return leaseId;
  }

  /** The replicas whose lease is alive, by name, with what each last wrote about itself. */
  Map<String, JsonNode> liveReplicas() {
    return Map.copyOf(replicas);
  }

  /** How many times the whole prefix was read (start, and after a compaction). For tests. */
  int reloads() {
    return reloads.get();
  }

  String describe() {
    return "etcd "
        + gateway.endpoints()
        + " under "
        + settings.prefix()
        + " as replica "
        + settings.replica();
  }

  // ---- calls and health ------------------------------------------------------------------------

  /** One call to etcd (see {@link EtcdGateway#call}), counted for health. Any thread. */
  JsonNode call(String path, ObjectNode body, Call kind) throws IOException {
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
      log.info("etcd is reachable again; replica {} accepts publishes again", settings.replica());
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
          settings.replica(),
          failingSinceInstant,
          lastError);
    }
  }

  /**
   * Why etcd counts as unavailable: no answer for {@code unavailableAfter} since its last one.
   * Never blocks; any thread.
   */
  Optional<String> unavailable() {
    long since = failingSince.get();
    if (since == 0 || closed) {
      return Optional.empty();
    }
    if (System.nanoTime() - since < settings.unavailableAfter().toNanos()) {
      return Optional.empty();
    }
    return Optional.of("etcd unreachable since " + failingSinceInstant + " (" + lastError + ")");
  }

  // ---- background ------------------------------------------------------------------------------

  /** Starts the scheduler and watch threads, once; does nothing after {@link #close}. */
  synchronized void start() {
    if (scheduler != null || closed) {
      return;
    }
    String replica = settings.replica();
    ScheduledExecutorService s =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "configsync-etcd-" + replica);
              t.setDaemon(true);
              return t;
            });
    scheduler = s;
    long period = settings.flushInterval().toMillis();
    // tick() catches everything it throws, so the future has nothing to report.
    var unused = s.scheduleWithFixedDelay(this::tick, 0, period, TimeUnit.MILLISECONDS);
    Thread w = new Thread(this::watchLoop, "configsync-etcd-watch-" + replica);
    w.setDaemon(true);
    watchThread = w;
    w.start();
  }

  /** One round on the scheduler thread: health probe, lease and heartbeat, then every part. */
  private void tick() {
    if (closed) {
      return;
    }
    try {
      if (failingSince.get() != 0) {
        // Something failed since etcd's last answer: ask every round, so that an answer ends the
        // failing spell at once instead of waiting for the next write (a quorum read: a member cut
        // off from its leader cannot answer it).
        ObjectNode probe = range(settings.hashKey()).put("count_only", true);
        call("/v3/kv/range", probe, Call.IDEMPOTENT);
      }
      long now = System.nanoTime();
      if (leaseId == 0 || now - lastKeepAliveNanos >= settings.leaseTtl().toNanos() / 3) {
        keepAlive();
        lastKeepAliveNanos = now;
      }
      for (Part part : parts) {
        part.flush();
      }
    } catch (EtcdGateway.EtcdException e) {
      if (e.getMessage() != null && e.getMessage().contains("lease not found")) {
        log.warn("etcd lost the lease of replica {}; taking a new one", settings.replica());
        leaseId = 0;
      } else {
        log.warn("etcd refused a write of replica {}: {}", settings.replica(), e.getMessage());
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
            settings.replica(),
            settings.leaseTtl());
        leaseId = 0;
      }
    }
    if (leaseId == 0) {
      JsonNode grant =
          call(
              "/v3/lease/grant",
              EtcdGateway.JSON.createObjectNode().put("TTL", settings.leaseTtl().toSeconds()),
              Call.IDEMPOTENT);
      leaseId = grant.path("ID").asLong(); // the fleet writes its nodes again under a new lease
    }
    ObjectNode me = EtcdGateway.JSON.createObjectNode();
    me.put("name", settings.replica()).put("started_at", startedAt.toString());
    me.put("heartbeat_at", clock.instant().toString());
    // Also what keeps every replica's watch stream from going quiet (see watchLoop).
    call(
        "/v3/kv/put",
        put(settings.replicasPrefix() + settings.replica(), b64(me.toString()), leaseId),
        Call.IDEMPOTENT);
  }

  // ---- watch -----------------------------------------------------------------------------------

  private void watchLoop() {
    long backoffMillis = 50;
    String prefix = settings.prefix();
    while (!closed) {
      try {
        if (watchFrom == 0) {
          reload();
        }
        ObjectNode create = EtcdGateway.JSON.createObjectNode();
        create.put("key", b64(prefix)).put("range_end", EtcdGateway.prefixEnd(prefix));
        create.put("start_revision", Long.toString(watchFrom));
        Duration silence =
            settings.leaseTtl().dividedBy(3).plus(settings.requestTimeout().multipliedBy(2));
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
    String prefix = settings.prefix();
    ObjectNode request = EtcdGateway.JSON.createObjectNode();
    request.put("key", b64(prefix)).put("range_end", EtcdGateway.prefixEnd(prefix));
    JsonNode answer = call("/v3/kv/range", request, Call.IDEMPOTENT);
    long revision = answer.path("header").path("revision").asLong();
    replicas.clear();
    for (Part part : parts) {
      part.reset();
    }
    for (JsonNode kv : answer.path("kvs")) {
      onKey(text(kv.path("key")), kv, false);
    }
    for (Part part : parts) {
      part.endOfBatch();
    }
    reloads.incrementAndGet();
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
    long last = 0;
    for (JsonNode event : result.path("events")) {
      JsonNode kv = event.path("kv");
      boolean deleted = "DELETE".equals(event.path("type").asText(""));
      last = Math.max(last, kv.path("mod_revision").asLong());
      onKey(text(kv.path("key")), kv, deleted);
    }
    for (Part part : parts) {
      part.endOfBatch();
    }
    if (last > 0) {
      watchFrom = Math.max(watchFrom, last + 1);
    }
  }

  private void onKey(String key, JsonNode kv, boolean deleted) {
    String replicasPrefix = settings.replicasPrefix();
    if (key.startsWith(replicasPrefix)) {
      String name = key.substring(replicasPrefix.length());
      if (deleted) {
        replicas.remove(name);
      } else {
        replicas.put(name, readJson(kv));
      }
      return;
    }
    for (Part part : parts) {
      part.onKey(key, kv, deleted);
    }
  }

  // ---- requests --------------------------------------------------------------------------------

  /** A range request for one key. */
  static ObjectNode range(String key) {
    return EtcdGateway.JSON.createObjectNode().put("key", b64(key));
  }

  /** A put request; {@code lease} 0 for none. */
  static ObjectNode put(String key, String base64Value, long lease) {
    ObjectNode put = EtcdGateway.JSON.createObjectNode().put("key", b64(key));
    put.put("value", base64Value);
    if (lease != 0) {
      put.put("lease", Long.toString(lease));
    }
    return put;
  }

  /** The JSON value of a key-value, or a text node saying why it cannot be read. */
  static JsonNode readJson(JsonNode kv) {
    try {
      return EtcdGateway.JSON.readTree(bytes(kv.path("value")));
    } catch (IOException e) {
      return EtcdGateway.JSON.getNodeFactory().textNode("unreadable: " + e.getMessage());
    }
  }

  // ---- close -----------------------------------------------------------------------------------

  /**
   * Stops both threads and revokes the lease, so that this replica's keys attached to it (its data
   * planes, its heartbeat) vanish at once. Idempotent.
   */
  void close() {
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
        s.awaitTermination(settings.requestTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
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
            settings.replica(),
            e.getMessage());
      }
    }
  }
}

package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdClient.bytes;
import static dev.configsync.cp.etcd.EtcdClient.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.configsync.cp.etcd.internal.rpc.DeleteRangeRequest;
import dev.configsync.cp.etcd.internal.rpc.DeleteRangeResponse;
import dev.configsync.cp.etcd.internal.rpc.Event;
import dev.configsync.cp.etcd.internal.rpc.KeyValue;
import dev.configsync.cp.etcd.internal.rpc.LeaseKeepAliveRequest;
import dev.configsync.cp.etcd.internal.rpc.LeaseKeepAliveResponse;
import dev.configsync.cp.etcd.internal.rpc.PutRequest;
import dev.configsync.cp.etcd.internal.rpc.RangeRequest;
import dev.configsync.cp.etcd.internal.rpc.RangeResponse;
import dev.configsync.cp.etcd.internal.rpc.TxnRequest;
import dev.configsync.cp.etcd.internal.rpc.TxnResponse;
import dev.configsync.cp.etcd.internal.rpc.WatchCreateRequest;
import dev.configsync.cp.etcd.internal.rpc.WatchRequest;
import dev.configsync.cp.etcd.internal.rpc.WatchResponse;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One replica's connection to etcd, shared by its {@link SharedConfig} and its {@link SharedFleet}:
 * the client ({@link EtcdClient}, one gRPC channel), etcd's health as this replica sees it, the
 * lease that keeps this replica listed (kept alive on a LeaseKeepAlive stream), the watch of the
 * prefix but the chunks of large frames (a Watch stream, resumed from the next revision after a
 * break), and the two threads that do the background work. The parts do not talk to etcd by other
 * means, so health is judged on every call.
 *
 * <p><b>Threads.</b> The unary calls ({@link #range}, {@link #put}, {@link #txn}, ...) and {@link
 * #unavailable} are safe from any thread. The lease, the replica heartbeat and every part's {@link
 * Part#flush} run on the scheduler thread {@code configsync-etcd-<replica>}, one round per flush
 * interval, so the parts' write-side state needs no lock. gRPC's threads (Netty's event loop and
 * grpc's executor) only put what the streams receive into queues and volatile fields: the watch's
 * responses are handed to the parts on {@code configsync-etcd-watch-<replica>} ({@link Part#onKey},
 * {@link Part#endOfBatch}), one response at a time, in revision order; the keep-alive answers are
 * read by the scheduler thread. {@link #start} and {@link #close} are synchronized and idempotent.
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
    void onKey(String key, KeyValue kv, boolean deleted);

    /** The keys of one watch response or of one reload were all handed over (watch thread). */
    void endOfBatch();
  }

  private final EtcdSettings settings;
  static final ObjectMapper JSON = new ObjectMapper();

  private final EtcdClient client;
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

  // The scheduler thread's state; the keep-alive stream's callbacks write only leaseLost and
  // keepAliveStream (to null, when the stream ends).
  private volatile long leaseId;
  private long lastKeepAliveNanos;
  private volatile @Nullable StreamObserver<LeaseKeepAliveRequest> keepAliveStream;
  private volatile boolean leaseLost;

  // The watch thread's state.
  private volatile long watchFrom; // next revision the watch asks for; 0 = reload first
  private final Map<String, JsonNode> replicas = new ConcurrentHashMap<>();
  private final AtomicInteger reloads = new AtomicInteger();

  private @Nullable ScheduledExecutorService scheduler;
  private @Nullable Thread watchThread;
  private volatile boolean closed;

  EtcdSession(EtcdSettings settings) {
    this.settings = settings;
    this.client = new EtcdClient(settings.endpoints(), settings.requestTimeout(), settings.ssl());
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
        + client.endpoints()
        + " under "
        + settings.prefix()
        + " as replica "
        + settings.replica();
  }

  // ---- calls and health ------------------------------------------------------------------------

  /** A unary call to etcd (see {@link EtcdClient}). */
  @FunctionalInterface
  interface Rpc<T> {
    T call(EtcdClient client) throws IOException;
  }

  RangeResponse range(RangeRequest request) throws IOException {
    return call(c -> c.range(request));
  }

  void put(PutRequest request) throws IOException {
    var unused = call(c -> c.put(request));
  }

  DeleteRangeResponse deleteRange(DeleteRangeRequest request) throws IOException {
    return call(c -> c.deleteRange(request));
  }

  TxnResponse txn(TxnRequest request, EtcdClient.Call kind) throws IOException {
    return call(c -> c.txn(request, kind));
  }

  /** One call to etcd, counted for health. Any thread. */
  <T> T call(Rpc<T> rpc) throws IOException {
    try {
      T answer = rpc.call(client);
      succeeded();
      return answer;
    } catch (EtcdClient.EtcdException e) {
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
        var unused = range(range(settings.hashKey()).setCountOnly(true).build());
      }
      long now = System.nanoTime();
      if (leaseId == 0 || now - lastKeepAliveNanos >= settings.leaseTtl().toNanos() / 3) {
        keepAlive();
        lastKeepAliveNanos = now;
      }
      for (Part part : parts) {
        part.flush();
      }
    } catch (EtcdClient.EtcdException e) {
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

  /**
   * Keeps the lease alive on the LeaseKeepAlive stream (opened again when it broke), or takes a new
   * lease when etcd said the old one expired; then writes this replica's heartbeat under it.
   */
  private void keepAlive() throws IOException {
    if (leaseLost) {
      log.warn(
          "etcd lease of replica {} expired (etcd was out of reach longer than {}); taking a new"
              + " one and writing this replica's data planes again",
          settings.replica(),
          settings.leaseTtl());
      leaseLost = false;
      leaseId = 0;
      closeKeepAliveStream();
    }
    if (leaseId == 0) {
      // The fleet writes its nodes again under a new lease.
      leaseId = call(c -> c.leaseGrant(settings.leaseTtl().toSeconds())).getID();
    }
    StreamObserver<LeaseKeepAliveRequest> stream = keepAliveStream;
    if (stream == null) {
      stream = openKeepAliveStream();
      keepAliveStream = stream;
    }
    stream.onNext(LeaseKeepAliveRequest.newBuilder().setID(leaseId).build());
    JsonNode me =
        JSON.createObjectNode()
            .put("name", settings.replica())
            .put("started_at", startedAt.toString())
            .put("heartbeat_at", clock.instant().toString());
    // Also what keeps every replica's watch stream from going quiet (see watchLoop).
    put(put(settings.replicasPrefix() + settings.replica(), bytes(me.toString()), leaseId));
  }

  /** A LeaseKeepAlive stream whose answers say whether etcd still has the lease. */
  private StreamObserver<LeaseKeepAliveRequest> openKeepAliveStream() {
    return client
        .leaseStub()
        .leaseKeepAlive(
            new StreamObserver<LeaseKeepAliveResponse>() {
              @Override
              public void onNext(LeaseKeepAliveResponse answer) {
                succeeded();
                if (answer.getTTL() <= 0 && answer.getID() == leaseId) {
                  leaseLost = true; // the scheduler takes a new lease on its next round
                }
              }

              @Override
              public void onError(Throwable t) {
                keepAliveStream = null;
                if (!closed) {
                  log.debug("etcd keep-alive stream broke: {}", Status.fromThrowable(t));
                }
              }

              @Override
              public void onCompleted() {
                keepAliveStream = null;
              }
            });
  }

  private void closeKeepAliveStream() {
    StreamObserver<LeaseKeepAliveRequest> stream = keepAliveStream;
    keepAliveStream = null;
    if (stream != null) {
      try {
        stream.onCompleted();
      } catch (RuntimeException e) {
        log.debug("closing the keep-alive stream: {}", e.toString());
      }
    }
  }

  // ---- watch -----------------------------------------------------------------------------------

  /** What a watch stream delivered: a response, or its end (with the error, if any). */
  private record WatchItem(@Nullable WatchResponse response, @Nullable Throwable error) {}

  /**
   * One Watch stream at a time from {@code watchFrom}; its responses are handed over on this
   * thread. When the stream breaks (its member died, lost its leader, or fell silent), a new one
   * starts from the revision after the last one handed over, on whichever member the channel picks:
   * no event is lost, none is handed over twice.
   */
  private void watchLoop() {
    long backoffMillis = 50;
    String prefix = settings.prefix();
    ByteString end = bytes(settings.watchedEnd());
    Duration silence =
        settings.leaseTtl().dividedBy(3).plus(settings.requestTimeout().multipliedBy(2));
    while (!closed) {
      ClientCallStreamObserver<WatchRequest> call = null;
      try {
        if (watchFrom == 0) {
          reload();
        }
        BlockingQueue<WatchItem> received = new LinkedBlockingQueue<>();
        call = openWatch(received);
        call.onNext(
            WatchRequest.newBuilder()
                .setCreateRequest(
                    WatchCreateRequest.newBuilder()
                        .setKey(bytes(prefix))
                        .setRangeEnd(end)
                        .setStartRevision(watchFrom))
                .build());
        log.debug("etcd watch from revision {}", watchFrom);
        boolean established = false;
        while (!closed) {
          // The store writes its own heartbeat under the watched prefix more often than
          // "silence": a stream that hears nothing for that long is stale (a member cut off
          // behind a network fault) and is cancelled.
          WatchItem item = received.poll(silence.toMillis(), TimeUnit.MILLISECONDS);
          if (item == null) {
            client.reconnect();
            throw new IOException("etcd watch heard nothing for " + silence.toMillis() + " ms");
          }
          WatchResponse response = item.response();
          if (response == null) {
            Throwable error = item.error();
            if (error != null) {
              throw new IOException(
                  "etcd watch ended: " + EtcdClient.describe(Status.fromThrowable(error)), error);
            }
            break; // ended by etcd without an error
          }
          if (!established) {
            established = true;
            backoffMillis = 50; // etcd confirmed the watch: a success
          }
          onWatchResponse(response);
        }
        if (!closed) {
          log.info("etcd watch ended; resuming from revision {}", watchFrom);
        }
      } catch (CompactedException e) {
        log.warn(
            "etcd compacted revision {} away while this replica was not watching (oldest kept:"
                + " {}); reloading the latest state",
            watchFrom,
            e.compactRevision);
        watchFrom = 0;
      } catch (InterruptedException e) {
        return;
      } catch (IOException | RuntimeException e) {
        if (closed) {
          return;
        }
        failed(e);
        log.debug("etcd watch failed: {}", e.toString());
      } finally {
        if (call != null) {
          call.cancel("watch ended", null);
        }
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

  /** Opens a Watch stream whose callbacks (on gRPC's threads) only fill {@code received}. */
  private ClientCallStreamObserver<WatchRequest> openWatch(BlockingQueue<WatchItem> received) {
    AtomicReference<@Nullable ClientCallStreamObserver<WatchRequest>> call =
        new AtomicReference<>();
    var unused =
        client
            .watchStub()
            .watch(
                new ClientResponseObserver<WatchRequest, WatchResponse>() {
                  @Override
                  public void beforeStart(ClientCallStreamObserver<WatchRequest> requests) {
                    call.set(requests);
                  }

                  @Override
                  public void onNext(WatchResponse response) {
                    received.add(new WatchItem(response, null));
                  }

                  @Override
                  public void onError(Throwable t) {
                    received.add(new WatchItem(null, t));
                  }

                  @Override
                  public void onCompleted() {
                    received.add(new WatchItem(null, null));
                  }
                });
    return Objects.requireNonNull(call.get(), "beforeStart runs within watch()");
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

  /**
   * Reads the whole prefix but the chunks of large frames: the configuration, the fleet, the
   * aggregates.
   */
  private void reload() throws IOException {
    String prefix = settings.prefix();
    RangeResponse answer =
        range(
            RangeRequest.newBuilder()
                .setKey(bytes(prefix))
                .setRangeEnd(bytes(settings.watchedEnd()))
                .build());
    long revision = answer.getHeader().getRevision();
    replicas.clear();
    for (Part part : parts) {
      part.reset();
    }
    for (KeyValue kv : answer.getKvsList()) {
      onKey(text(kv.getKey()), kv, false);
    }
    // Counted before the parts hand the state over: whoever sees the reloaded configuration (a
    // node, a test) sees the count too.
    reloads.incrementAndGet();
    for (Part part : parts) {
      part.endOfBatch();
    }
    watchFrom = revision + 1;
  }

  private void onWatchResponse(WatchResponse result) {
    if (result.getCanceled()) {
      long compact = result.getCompactRevision();
      if (compact > 0) {
        throw new CompactedException(compact);
      }
      String reason = result.getCancelReason();
      throw new IllegalStateException(
          "etcd cancelled the watch: " + (reason.isEmpty() ? "no reason given" : reason));
    }
    succeeded();
    long last = 0;
    for (Event event : result.getEventsList()) {
      KeyValue kv = event.getKv();
      boolean deleted = event.getType() == Event.EventType.DELETE;
      last = Math.max(last, kv.getModRevision());
      onKey(text(kv.getKey()), kv, deleted);
    }
    for (Part part : parts) {
      part.endOfBatch();
    }
    if (last > 0) {
      watchFrom = Math.max(watchFrom, last + 1);
    }
  }

  private void onKey(String key, KeyValue kv, boolean deleted) {
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
  static RangeRequest.Builder range(String key) {
    return RangeRequest.newBuilder().setKey(bytes(key));
  }

  /** A put request; {@code lease} 0 for none. */
  static PutRequest put(String key, ByteString value, long lease) {
    return PutRequest.newBuilder().setKey(bytes(key)).setValue(value).setLease(lease).build();
  }

  /** The JSON value of a key-value, or a text node saying why it cannot be read. */
  static JsonNode readJson(KeyValue kv) {
    try {
      return JSON.readTree(kv.getValue().toByteArray());
    } catch (IOException e) {
      return JSON.getNodeFactory().textNode("unreadable: " + e.getMessage());
    }
  }

  // ---- close -----------------------------------------------------------------------------------

  /**
   * Stops both threads, revokes the lease, so that this replica's keys attached to it (its data
   * planes, its heartbeat) vanish at once, and closes the channel. Idempotent.
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
      w.interrupt(); // it waits on its queue; it calls no listener after close
    }
    closeKeepAliveStream();
    long lease = leaseId;
    if (lease != 0) {
      try {
        client.leaseRevoke(lease);
      } catch (IOException e) {
        log.info(
            "Could not revoke the etcd lease of replica {} (it expires by itself): {}",
            settings.replica(),
            e.getMessage());
      }
    }
    client.close();
  }
}

package dev.configsync.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP proxy on 127.0.0.1 that forwards to one target and breaks the network on demand: added
 * latency, a bandwidth limit, connections reset, a black hole (the connection stays open and
 * nothing passes), refused connections, and a connection cut after a given number of bytes. It
 * works below TLS, so a data plane's mutual TLS runs end to end through it, as through a real
 * network.
 *
 * <pre>{@code
 * try (TestControlPlane cp = TestControlPlane.start(pki);
 *     FaultProxy proxy = FaultProxy.start("127.0.0.1", cp.port())) {
 *   ConfigSyncClient client = ConfigSyncClient.builder()
 *       .controlPlane(URI.create("wss://localhost:" + proxy.port()))  // the certificate names localhost
 *       .transport(OkHttpTransport.create(pki.dataPlaneTls()))
 *       .build();
 *   client.start();
 *   ...
 *   proxy.blackhole();   // the control plane's host vanished without closing anything
 *   ...
 *   proxy.heal();
 * }
 * }</pre>
 *
 * <p><b>Faults</b> can be switched at any time and apply at once to the connections already open as
 * well as to new ones; {@link #heal()} switches them all off. Bytes that a black hole swallowed are
 * gone: a TLS connection that lived through one is broken, as it would be on a real network.
 *
 * <p><b>Threads.</b> All methods are thread-safe. The proxy runs one accepting thread, and two
 * threads per connection (one per direction), from a cached pool of daemon threads named {@code
 * fault-proxy-PORT-...}; blocking I/O, fine for tests with a few hundred connections at most.
 *
 * <p><b>Ownership.</b> {@link #close()} stops accepting, resets every connection, and waits for
 * every thread of the proxy to end. It does not touch the target.
 */
public final class FaultProxy implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FaultProxy.class);

  /** Which way bytes go through the proxy. */
  public enum Direction {
    /** From the client that dialled the proxy to the target (a data plane's pings, requests). */
    UPSTREAM,
    /** From the target back to the client (a control plane's configurations, pongs). */
    DOWNSTREAM
  }

  private final InetSocketAddress target;
  private final ServerSocket server;
  private final ExecutorService threads;
  private final Set<ProxyConnection> links = ConcurrentHashMap.newKeySet();
  private final FaultSwitch faults = new FaultSwitch();
  private final ProxyCounters counters = new ProxyCounters();
  private final ProxyContext context;
  private final AtomicInteger linkIds = new AtomicInteger();

  /** Every thread the pool made, so that {@link #close()} can wait until each has really ended. */
  private final Set<Thread> started = ConcurrentHashMap.newKeySet();

  private FaultProxy(InetSocketAddress target) throws IOException {
    this.target = target;
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 200);
    this.server = s;
    String prefix = "fault-proxy-" + s.getLocalPort() + "-";
    AtomicInteger n = new AtomicInteger();
    this.threads =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            10,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            r -> {
              Thread t = new Thread(r, prefix + n.incrementAndGet());
              t.setDaemon(true);
              started.add(t);
              return t;
            });
    this.context =
        new ProxyContext(
            target, threads, faults, counters, links, "fault-proxy-" + s.getLocalPort());
    threads.execute(this::acceptLoop);
  }

  /**
   * Starts a proxy on a free port of 127.0.0.1 that forwards every connection to {@code host:port}.
   * The target need not be up yet: a connection to a target that is down is reset at once.
   *
   * @throws UncheckedIOException when no port can be bound
   */
  public static FaultProxy start(String host, int port) {
    Objects.requireNonNull(host, "host");
    if (port < 1 || port > 65_535) {
      throw new IllegalArgumentException("port must be 1-65535, got: " + port);
    }
    try {
      return new FaultProxy(new InetSocketAddress(host, port));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the fault proxy", e);
    }
  }

  /** The port the proxy listens on (127.0.0.1). Dial it instead of the target. */
  public int port() {
    return server.getLocalPort();
  }

  /** Where connections are forwarded. */
  public InetSocketAddress target() {
    return target;
  }

  // ---- faults -----------------------------------------------------------------------------

  /**
   * Delays every byte by {@code latency} in each direction (so a round trip takes twice as long).
   * Bytes keep their order and the link keeps its throughput: it is a long pipe, not a slow one.
   */
  public void latency(Duration latency) {
    long nanos = nonNegative(latency, "latency");
    faults.update(f -> f.withLatency(nanos, nanos));
  }

  /** Delays every byte going {@code direction} by {@code latency}. Zero removes the delay. */
  public void latency(Direction direction, Duration latency) {
    long nanos = nonNegative(latency, "latency");
    boolean up = direction == Direction.UPSTREAM;
    faults.update(
        f ->
            f.withLatency(
                up ? nanos : f.upstreamLatencyNanos(), up ? f.downstreamLatencyNanos() : nanos));
  }

  /** Limits each connection to {@code bytesPerSecond} in each direction. Zero removes the limit. */
  public void bandwidth(long bytesPerSecond) {
    requireRate(bytesPerSecond);
    faults.update(f -> f.withBandwidth(bytesPerSecond, bytesPerSecond));
  }

  /** Limits each connection to {@code bytesPerSecond} going {@code direction}; zero: no limit. */
  public void bandwidth(Direction direction, long bytesPerSecond) {
    requireRate(bytesPerSecond);
    boolean up = direction == Direction.UPSTREAM;
    faults.update(
        f ->
            f.withBandwidth(
                up ? bytesPerSecond : f.upstreamBytesPerSecond(),
                up ? f.downstreamBytesPerSecond() : bytesPerSecond));
  }

  /**
   * A black hole: every connection, open or new, stays open on both sides, and nothing passes any
   * more, in either direction. What arrives is read and thrown away (counted by {@link
   * #bytesSwallowed()}), so senders never block; a close or reset from either side is not passed on
   * either. A new connection is accepted (its TCP handshake completes, with the proxy) and then
   * hears nothing; the target does not see it until the black hole ends. This is a host that
   * vanished, or a middlebox that dropped its state, without any packet telling the endpoints.
   */
  public void blackhole() {
    faults.update(f -> f.withBlackhole(true));
  }

  /**
   * Refuses new connections: each is accepted and reset at once, which its client sees as a
   * connection that fails immediately. Connections already open are not affected.
   */
  public void refuse() {
    faults.update(f -> f.withRefuse(true));
  }

  /** Accepts new connections again after {@link #refuse()}. */
  public void accept() {
    faults.update(f -> f.withRefuse(false));
  }

  /**
   * Resets every open connection now, on both sides (TCP RST: {@code SO_LINGER} 0, then close),
   * like a crashed middlebox or peer. New connections are not affected.
   */
  public void reset() {
    for (ProxyConnection link : links) {
      link.reset();
    }
  }

  /**
   * Arms a one-shot cut: once {@code bytes} more bytes have gone toward clients (over all
   * connections, counted from now), the connection carrying the next byte is reset on both sides,
   * mid-stream. A client receives at most {@code bytes} of what was sent after the call. Use it to
   * stop a target mid-message, for example a control plane that dies while pushing a large
   * configuration. {@link #heal()} disarms it.
   */
  public void cutAfter(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("cutAfter needs bytes >= 0, got: " + bytes);
    }
    faults.armCut(bytes);
  }

  /** Switches every fault off: no latency, no limit, no black hole, accepting, no cut armed. */
  public void heal() {
    faults.disarmCut();
    faults.update(f -> ProxyFaults.NONE);
  }

  // ---- counters ---------------------------------------------------------------------------

  /** Connections accepted and forwarded to the target since start (refused ones not counted). */
  public int connectionsAccepted() {
    return counters.accepted();
  }

  /** Connections refused since start, by {@link #refuse()} or because the target was down. */
  public int connectionsRefused() {
    return counters.refused();
  }

  /** How many cuts armed by {@link #cutAfter(long)} have happened. */
  public int cutsMade() {
    return counters.cuts();
  }

  /** Connections open now. */
  public int openConnections() {
    return links.size();
  }

  /**
   * Bytes passed on (handed to the receiving socket) in {@code direction} since start; not those a
   * black hole swallowed.
   */
  public long bytesForwarded(Direction direction) {
    return counters.forwarded(direction);
  }

  /** Bytes a black hole read and threw away since start, both directions together. */
  public long bytesSwallowed() {
    return counters.swallowed();
  }

  /**
   * When bytes were last passed on in {@code direction}, on the {@link System#nanoTime()} scale,
   * taken just before they were written (so no peer received them earlier); empty when none were
   * yet. For measuring how long a peer has heard nothing.
   */
  public OptionalLong lastForwardedNanos(Direction direction) {
    return counters.lastForwardedNanos(direction);
  }

  /**
   * Stops accepting, resets every connection and waits (up to 5 s) for every thread of the proxy to
   * end. Idempotent.
   */
  @Override
  public void close() {
    faults.markClosed();
    try {
      server.close();
    } catch (IOException e) {
      log.debug("closing the listening socket failed", e);
    }
    reset();
    faults.wakeAll();
    threads.shutdown();
    try {
      if (!threads.awaitTermination(5, TimeUnit.SECONDS)) {
        threads.shutdownNow();
        log.warn("fault proxy on port {}: threads slow to stop", port());
      }
      // The pool counts as terminated once its tasks are done, a moment before its threads end.
      for (Thread t : started) {
        t.join(TimeUnit.SECONDS.toMillis(5));
      }
    } catch (InterruptedException e) {
      threads.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  // ---- internals --------------------------------------------------------------------------

  private static long nonNegative(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative()) {
      throw new IllegalArgumentException(name + " must not be negative, got: " + d);
    }
    return d.toNanos();
  }

  private static void requireRate(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException(
          "bandwidth must be >= 0 bytes per second (0: no limit), got: " + bytesPerSecond);
    }
  }

  private void acceptLoop() {
    Thread.currentThread().setName(context.threadName() + "-accept");
    while (!faults.closed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        if (!faults.closed()) {
          log.warn("fault proxy on port {} stopped accepting", port(), e);
        }
        return;
      }
      if (faults.current().refuse()) {
        counters.countRefused();
        ProxyConnection.resetQuietly(client);
        continue;
      }
      ProxyConnection link = new ProxyConnection(linkIds.incrementAndGet(), client, context);
      links.add(link);
      try {
        threads.execute(link::run);
      } catch (RejectedExecutionException e) {
        link.reset(); // closing
      }
    }
  }
}

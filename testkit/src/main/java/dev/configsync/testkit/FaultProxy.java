package dev.configsync.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
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

  /** At most this many bytes wait inside the proxy per direction; then it stops reading. */
  private static final int MAX_QUEUED_BYTES = 1 << 20;

  /** A bandwidth limit is applied in slices of this many milliseconds' worth of bytes. */
  private static final int SLICE_MILLIS = 20;

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  /** Which way bytes go through the proxy. */
  public enum Direction {
    /** From the client that dialled the proxy to the target (a data plane's pings, requests). */
    UPSTREAM,
    /** From the target back to the client (a control plane's configurations, pongs). */
    DOWNSTREAM
  }

  /** The faults in force; replaced as a whole, never changed in place. */
  private record Faults(
      long upstreamLatencyNanos,
      long downstreamLatencyNanos,
      long upstreamBytesPerSecond,
      long downstreamBytesPerSecond,
      boolean blackhole,
      boolean refuse) {
    static final Faults NONE = new Faults(0, 0, 0, 0, false, false);

    long latencyNanos(Direction d) {
      return d == Direction.UPSTREAM ? upstreamLatencyNanos : downstreamLatencyNanos;
    }

    long bytesPerSecond(Direction d) {
      return d == Direction.UPSTREAM ? upstreamBytesPerSecond : downstreamBytesPerSecond;
    }
  }

  private final InetSocketAddress target;
  private final ServerSocket server;
  private final ExecutorService threads;
  private final Set<Link> links = ConcurrentHashMap.newKeySet();
  private final Object faultsLock = new Object();
  private volatile Faults faults = Faults.NONE;
  private long faultChanges; // guarded by faultsLock
  private volatile boolean closed;

  /** Bytes still allowed toward clients before the armed cut; negative when none is armed. */
  private final AtomicLong cutBudget = new AtomicLong(-1);

  private final AtomicInteger accepted = new AtomicInteger();
  private final AtomicInteger refused = new AtomicInteger();
  private final AtomicInteger cuts = new AtomicInteger();
  private final AtomicInteger linkIds = new AtomicInteger();
  private final AtomicLong upstreamBytes = new AtomicLong();
  private final AtomicLong downstreamBytes = new AtomicLong();
  private final AtomicLong swallowedBytes = new AtomicLong();
  private final AtomicLong lastUpstreamNanos = new AtomicLong();
  private final AtomicLong lastDownstreamNanos = new AtomicLong();
  private volatile boolean anyUpstream;
  private volatile boolean anyDownstream;

  /** Every thread the pool made, so that {@link #close()} can wait until each has really ended. */
  private final java.util.Set<Thread> started = java.util.concurrent.ConcurrentHashMap.newKeySet();

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
    update(
        f ->
            new Faults(
                nanos,
                nanos,
                f.upstreamBytesPerSecond,
                f.downstreamBytesPerSecond,
                f.blackhole,
                f.refuse));
  }

  /** Delays every byte going {@code direction} by {@code latency}. Zero removes the delay. */
  public void latency(Direction direction, Duration latency) {
    long nanos = nonNegative(latency, "latency");
    boolean up = direction == Direction.UPSTREAM;
    update(
        f ->
            new Faults(
                up ? nanos : f.upstreamLatencyNanos,
                up ? f.downstreamLatencyNanos : nanos,
                f.upstreamBytesPerSecond,
                f.downstreamBytesPerSecond,
                f.blackhole,
                f.refuse));
  }

  /** Limits each connection to {@code bytesPerSecond} in each direction. Zero removes the limit. */
  public void bandwidth(long bytesPerSecond) {
    requireRate(bytesPerSecond);
    update(
        f ->
            new Faults(
                f.upstreamLatencyNanos,
                f.downstreamLatencyNanos,
                bytesPerSecond,
                bytesPerSecond,
                f.blackhole,
                f.refuse));
  }

  /** Limits each connection to {@code bytesPerSecond} going {@code direction}; zero: no limit. */
  public void bandwidth(Direction direction, long bytesPerSecond) {
    requireRate(bytesPerSecond);
    boolean up = direction == Direction.UPSTREAM;
    update(
        f ->
            new Faults(
                f.upstreamLatencyNanos,
                f.downstreamLatencyNanos,
                up ? bytesPerSecond : f.upstreamBytesPerSecond,
                up ? f.downstreamBytesPerSecond : bytesPerSecond,
                f.blackhole,
                f.refuse));
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
    update(
        f ->
            new Faults(
                f.upstreamLatencyNanos,
                f.downstreamLatencyNanos,
                f.upstreamBytesPerSecond,
                f.downstreamBytesPerSecond,
                true,
                f.refuse));
  }

  /**
   * Refuses new connections: each is accepted and reset at once, which its client sees as a
   * connection that fails immediately. Connections already open are not affected.
   */
  public void refuse() {
    update(
        f ->
            new Faults(
                f.upstreamLatencyNanos,
                f.downstreamLatencyNanos,
                f.upstreamBytesPerSecond,
                f.downstreamBytesPerSecond,
                f.blackhole,
                true));
  }

  /** Accepts new connections again after {@link #refuse()}. */
  public void accept() {
    update(
        f ->
            new Faults(
                f.upstreamLatencyNanos,
                f.downstreamLatencyNanos,
                f.upstreamBytesPerSecond,
                f.downstreamBytesPerSecond,
                f.blackhole,
                false));
  }

  /**
   * Resets every open connection now, on both sides (TCP RST: {@code SO_LINGER} 0, then close),
   * like a crashed middlebox or peer. New connections are not affected.
   */
  public void reset() {
    for (Link link : links) {
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
    cutBudget.set(bytes);
  }

  /** Switches every fault off: no latency, no limit, no black hole, accepting, no cut armed. */
  public void heal() {
    cutBudget.set(-1);
    update(f -> Faults.NONE);
  }

  // ---- counters ---------------------------------------------------------------------------

  /** Connections accepted and forwarded to the target since start (refused ones not counted). */
  public int connectionsAccepted() {
    return accepted.get();
  }

  /** Connections refused since start, by {@link #refuse()} or because the target was down. */
  public int connectionsRefused() {
    return refused.get();
  }

  /** How many cuts armed by {@link #cutAfter(long)} have happened. */
  public int cutsMade() {
    return cuts.get();
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
    return direction == Direction.UPSTREAM ? upstreamBytes.get() : downstreamBytes.get();
  }

  /** Bytes a black hole read and threw away since start, both directions together. */
  public long bytesSwallowed() {
    return swallowedBytes.get();
  }

  /**
   * When bytes were last passed on in {@code direction}, on the {@link System#nanoTime()} scale,
   * taken just before they were written (so no peer received them earlier); empty when none were
   * yet. For measuring how long a peer has heard nothing.
   */
  public OptionalLong lastForwardedNanos(Direction direction) {
    boolean up = direction == Direction.UPSTREAM;
    if (!(up ? anyUpstream : anyDownstream)) {
      return OptionalLong.empty();
    }
    return OptionalLong.of(up ? lastUpstreamNanos.get() : lastDownstreamNanos.get());
  }

  /**
   * Stops accepting, resets every connection and waits (up to 5 s) for every thread of the proxy to
   * end. Idempotent.
   */
  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException e) {
      log.debug("closing the listening socket failed", e);
    }
    reset();
    synchronized (faultsLock) {
      faultsLock.notifyAll();
    }
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

  private void update(UnaryOperator<Faults> change) {
    synchronized (faultsLock) {
      faults = change.apply(faults);
      faultChanges++;
      faultsLock.notifyAll(); // pumps waiting for a black hole to end, or for a due time
    }
  }

  /** Waits until a fault changes, {@code link} ends, the proxy closes, or {@code nanos} pass. */
  private void awaitChange(Link link, long nanos) {
    long deadline = System.nanoTime() + nanos;
    synchronized (faultsLock) {
      long seen = faultChanges;
      try {
        while (faultChanges == seen && !link.ended && !closed) {
          if (nanos == Long.MAX_VALUE) {
            faultsLock.wait();
          } else {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
              return;
            }
            TimeUnit.NANOSECONDS.timedWait(faultsLock, left);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        link.reset();
      }
    }
  }

  /** Waits while a black hole is in force and {@code link} is alive. */
  private void awaitBlackholeEnd(Link link) {
    while (faults.blackhole && !link.ended && !closed) {
      awaitChange(link, Long.MAX_VALUE);
    }
  }

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
    Thread.currentThread().setName("fault-proxy-" + port() + "-accept");
    while (!closed) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        if (!closed) {
          log.warn("fault proxy on port {} stopped accepting", port(), e);
        }
        return;
      }
      if (faults.refuse) {
        refused.incrementAndGet();
        resetQuietly(client);
        continue;
      }
      Link link = new Link(linkIds.incrementAndGet(), client);
      links.add(link);
      try {
        threads.execute(link::run);
      } catch (RejectedExecutionException e) {
        link.reset(); // closing
      }
    }
  }

  private static void resetQuietly(Socket socket) {
    try {
      socket.setSoLinger(true, 0);
    } catch (IOException ignored) {
      // already closed: nothing to reset
    }
    try {
      socket.close();
    } catch (IOException ignored) {
      // nothing more to do
    }
  }

  /** Bytes read at a known time, waiting to be passed on. */
  private static final class Chunk {
    final byte[] bytes;
    final long readNanos;
    int offset;

    Chunk(byte[] bytes, long readNanos) {
      this.bytes = bytes;
      this.readNanos = readNanos;
    }

    int remaining() {
      return bytes.length - offset;
    }
  }

  /** One proxied connection: the client's socket and ours to the target. */
  private final class Link {
    private final int id;
    private final Socket client;
    private final Socket upstream = new Socket();
    private final AtomicInteger pumpsRunning = new AtomicInteger(2);
    private volatile boolean ended;

    Link(int id, Socket client) {
      this.id = id;
      this.client = client;
    }

    void run() {
      name("-" + id + "-connect");
      try {
        client.setTcpNoDelay(true);
        // Through a black hole not even the connection attempt reaches the target: wait it out.
        if (!swallowWhileBlackholed()) {
          reset();
          return;
        }
        upstream.setTcpNoDelay(true);
        upstream.connect(target, (int) CONNECT_TIMEOUT.toMillis());
      } catch (IOException e) {
        if (!ended && !closed) {
          refused.incrementAndGet();
          log.debug("fault proxy: target {} unreachable: {}", target, e.toString());
        }
        reset();
        return;
      }
      accepted.incrementAndGet();
      try {
        threads.execute(() -> pump(Direction.UPSTREAM, client, upstream));
      } catch (RejectedExecutionException e) {
        reset();
        return;
      }
      pump(Direction.DOWNSTREAM, upstream, client);
    }

    /**
     * Reads and discards what the client sends while a black hole is in force. False when the
     * client went away (or the proxy closed) meanwhile.
     */
    private boolean swallowWhileBlackholed() throws IOException {
      if (!faults.blackhole) {
        return true;
      }
      InputStream in = client.getInputStream();
      byte[] buffer = new byte[16 * 1024];
      client.setSoTimeout(50); // to notice the end of the black hole while no byte comes
      boolean clientGone = false;
      while (faults.blackhole && !ended && !closed) {
        if (clientGone) {
          awaitBlackholeEnd(this); // a close does not pass a black hole
          continue;
        }
        try {
          int n = in.read(buffer);
          if (n < 0) {
            clientGone = true;
          } else {
            swallowedBytes.addAndGet(n);
          }
        } catch (SocketTimeoutException e) {
          // check the fault again
        } catch (IOException e) {
          clientGone = true;
        }
      }
      client.setSoTimeout(0);
      return !clientGone && !ended && !closed;
    }

    private void pump(Direction direction, Socket from, Socket to) {
      name("-" + id + (direction == Direction.UPSTREAM ? "-up" : "-down"));
      try {
        new Pump(this, direction, from, to).run();
      } catch (IOException e) {
        // A reset, or a socket closed under us. A black hole does not pass that on either: the
        // other side keeps its connection until the black hole ends.
        awaitBlackholeEnd(this);
        reset();
      } finally {
        if (pumpsRunning.decrementAndGet() == 0) {
          closeBoth();
        }
      }
    }

    private void name(String suffix) {
      Thread.currentThread().setName("fault-proxy-" + port() + suffix);
    }

    void reset() {
      ended = true;
      resetQuietly(client);
      resetQuietly(upstream);
      links.remove(this);
      synchronized (faultsLock) {
        faultsLock.notifyAll();
      }
    }

    private void closeBoth() {
      ended = true;
      for (Socket s : List.of(client, upstream)) {
        try {
          s.close();
        } catch (IOException ignored) {
          // nothing more to do
        }
      }
      links.remove(this);
    }
  }

  /**
   * Moves bytes one way. It reads whenever it can, stamping each chunk with its arrival, and writes
   * each chunk once it is due (arrival + latency, and no sooner than the bandwidth allows). While
   * chunks wait, reads time out at the next due time, so one thread does both.
   */
  private final class Pump {
    private final Link link;
    private final Direction direction;
    private final Socket from;
    private final Socket to;
    private final ArrayDeque<Chunk> queue = new ArrayDeque<>();
    private final byte[] buffer = new byte[16 * 1024];
    private long queuedBytes;
    private long bandwidthFreeAtNanos;
    private boolean eof;

    Pump(Link link, Direction direction, Socket from, Socket to) {
      this.link = link;
      this.direction = direction;
      this.from = from;
      this.to = to;
    }

    void run() throws IOException {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      while (!link.ended && !closed) {
        Faults f = faults;
        if (f.blackhole) {
          drop();
        }
        long waitNanos = Long.MAX_VALUE; // until the head of the queue is due
        Chunk head = queue.peek();
        if (head != null) {
          long now = System.nanoTime();
          long due = Math.max(head.readNanos + f.latencyNanos(direction), bandwidthFreeAtNanos);
          if (due - now <= 0) {
            if (!write(out, head, f.bytesPerSecond(direction), now)) {
              return; // cut
            }
            continue;
          }
          waitNanos = due - now;
        }
        if (eof) {
          if (head != null) {
            awaitChange(link, waitNanos);
          } else if (f.blackhole) {
            awaitBlackholeEnd(link); // a close does not pass a black hole either
          } else {
            to.shutdownOutput(); // pass the half-close on
            return;
          }
        } else if (queuedBytes >= MAX_QUEUED_BYTES) {
          awaitChange(link, waitNanos);
        } else {
          read(in, waitNanos);
        }
      }
    }

    private void read(InputStream in, long waitNanos) throws IOException {
      int timeoutMillis =
          waitNanos == Long.MAX_VALUE
              ? 0 // nothing waiting: block until bytes arrive
              : (int) Math.max(1, Math.min(Integer.MAX_VALUE, (waitNanos + 999_999) / 1_000_000));
      from.setSoTimeout(timeoutMillis);
      int n;
      try {
        n = in.read(buffer);
      } catch (SocketTimeoutException e) {
        return; // the head of the queue is due
      }
      if (n < 0) {
        eof = true;
        return;
      }
      if (faults.blackhole) {
        swallowedBytes.addAndGet(n);
        return;
      }
      queue.add(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime()));
      queuedBytes += n;
    }

    /** Writes (part of) the head chunk; false when an armed cut ended the connection. */
    private boolean write(OutputStream out, Chunk head, long bytesPerSecond, long now)
        throws IOException {
      int n = head.remaining();
      if (bytesPerSecond > 0) {
        n = (int) Math.min(n, Math.max(1, bytesPerSecond * SLICE_MILLIS / 1000));
      }
      int allowed = direction == Direction.DOWNSTREAM ? cutAllowance(n) : n;
      if (allowed > 0) {
        // Counted (and stamped) before the write: no peer can see bytes the counters do not show.
        count(allowed);
        out.write(head.bytes, head.offset, allowed);
      }
      if (allowed < n) {
        cuts.incrementAndGet();
        link.reset();
        return false;
      }
      head.offset += n;
      queuedBytes -= n;
      if (head.remaining() == 0) {
        queue.poll();
      }
      if (bytesPerSecond > 0) {
        bandwidthFreeAtNanos =
            Math.max(bandwidthFreeAtNanos, now) + n * 1_000_000_000L / bytesPerSecond;
      }
      return true;
    }

    /** How many of {@code n} bytes may go before an armed cut; fewer than n means cut now. */
    private int cutAllowance(int n) {
      while (true) {
        long budget = cutBudget.get();
        if (budget < 0) {
          return n;
        }
        if (budget >= n) {
          if (cutBudget.compareAndSet(budget, budget - n)) {
            return n;
          }
        } else if (cutBudget.compareAndSet(budget, -1)) {
          return (int) budget;
        }
      }
    }

    private void count(int n) {
      long now = System.nanoTime();
      if (direction == Direction.UPSTREAM) {
        upstreamBytes.addAndGet(n);
        lastUpstreamNanos.set(now);
        anyUpstream = true;
      } else {
        downstreamBytes.addAndGet(n);
        lastDownstreamNanos.set(now);
        anyDownstream = true;
      }
    }

    private void drop() {
      for (Chunk c : queue) {
        swallowedBytes.addAndGet(c.remaining());
      }
      queue.clear();
      queuedBytes = 0;
    }
  }
}

package dev.configsync.testkit;

import dev.configsync.testkit.FaultProxy.Direction;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One proxied connection: the client's socket and ours to the target, and the two {@link Pump}s
 * between them. {@link #run()} connects (waiting out a black hole first), then pumps downstream on
 * its own thread and upstream on another; the sockets are closed when both pumps end, or reset at
 * once by {@link #reset()}.
 */
final class ProxyConnection {
  private static final Logger log = LoggerFactory.getLogger(FaultProxy.class);

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  private final int id;
  private final Socket client;
  private final ProxyContext proxy;
  private final FaultSwitch faults;
  private final Socket upstream = new Socket();
  private final AtomicInteger pumpsRunning = new AtomicInteger(2);
  private volatile boolean ended;

  ProxyConnection(int id, Socket client, ProxyContext proxy) {
    this.id = id;
    this.client = client;
    this.proxy = proxy;
    this.faults = proxy.faults();
  }

  /** Whether the connection was reset or closed. */
  boolean ended() {
    return ended;
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
      upstream.connect(proxy.target(), (int) CONNECT_TIMEOUT.toMillis());
    } catch (IOException e) {
      if (!ended && !faults.closed()) {
        proxy.counters().countRefused();
        log.debug("fault proxy: target {} unreachable: {}", proxy.target(), e.toString());
      }
      reset();
      return;
    }
    proxy.counters().countAccepted();
    try {
      proxy.threads().execute(() -> pump(Direction.UPSTREAM, client, upstream));
    } catch (RejectedExecutionException e) {
      reset();
      return;
    }
    pump(Direction.DOWNSTREAM, upstream, client);
  }

  /**
   * Reads and discards what the client sends while a black hole is in force. False when the client
   * went away (or the proxy closed) meanwhile.
   */
  private boolean swallowWhileBlackholed() throws IOException {
    if (!faults.current().blackhole()) {
      return true;
    }
    InputStream in = client.getInputStream();
    byte[] buffer = new byte[16 * 1024];
    client.setSoTimeout(50); // to notice the end of the black hole while no byte comes
    boolean clientGone = false;
    while (faults.current().blackhole() && !ended && !faults.closed()) {
      if (clientGone) {
        faults.awaitBlackholeEnd(this); // a close does not pass a black hole
        continue;
      }
      try {
        int n = in.read(buffer);
        if (n < 0) {
          clientGone = true;
        } else {
          proxy.counters().countSwallowed(n);
        }
      } catch (SocketTimeoutException e) {
        // check the fault again
      } catch (IOException e) {
        clientGone = true;
      }
    }
    client.setSoTimeout(0);
    return !clientGone && !ended && !faults.closed();
  }

  private void pump(Direction direction, Socket from, Socket to) {
    name("-" + id + (direction == Direction.UPSTREAM ? "-up" : "-down"));
    try {
      new Pump(this, direction, from, to, faults, proxy.counters()).run();
    } catch (IOException e) {
      // A reset, or a socket closed under us. A black hole does not pass that on either: the
      // other side keeps its connection until the black hole ends.
      faults.awaitBlackholeEnd(this);
      reset();
    } finally {
      if (pumpsRunning.decrementAndGet() == 0) {
        closeBoth();
      }
    }
  }

  private void name(String suffix) {
    Thread.currentThread().setName(proxy.threadName() + suffix);
  }

  /** Resets both sockets now (TCP RST) and wakes whatever waits on this connection. */
  void reset() {
    ended = true;
    resetQuietly(client);
    resetQuietly(upstream);
    proxy.open().remove(this);
    faults.wakeAll();
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
    proxy.open().remove(this);
  }

  /** Resets {@code socket}: {@code SO_LINGER} 0, then close. Errors are ignored. */
  static void resetQuietly(Socket socket) {
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
}

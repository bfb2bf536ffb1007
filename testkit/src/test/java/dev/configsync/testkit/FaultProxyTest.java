package dev.configsync.testkit;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.configsync.testkit.FaultProxy.Direction;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The fault proxy on its own, between plain sockets and a plain TCP target. */
class FaultProxyTest {
  private final List<AutoCloseable> closeLater = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeLater.size() - 1; i >= 0; i--) {
      closeLater.get(i).close();
    }
  }

  private <T extends AutoCloseable> T later(T resource) {
    closeLater.add(resource);
    return resource;
  }

  /**
   * A TCP target: echoes (or, with {@code greeting > 0}, first sends that many bytes), and records
   * what each connection saw.
   */
  private static final class Target implements AutoCloseable {
    final ServerSocket server;
    final ExecutorService threads = Executors.newCachedThreadPool();
    final AtomicInteger accepted = new AtomicInteger();
    final AtomicLong received = new AtomicLong();
    final List<String> endings = new CopyOnWriteArrayList<>(); // "eof" or the exception
    final List<Socket> sockets = new CopyOnWriteArrayList<>();
    final int greeting;

    Target(int greeting) throws IOException {
      this.greeting = greeting;
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      threads.execute(this::acceptLoop);
    }

    private void acceptLoop() {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          accepted.incrementAndGet();
          sockets.add(s);
          threads.execute(() -> serve(s));
        } catch (IOException e) {
          return;
        }
      }
    }

    private void serve(Socket s) {
      try (s) {
        if (greeting > 0) {
          s.getOutputStream().write(new byte[greeting]);
        }
        byte[] buffer = new byte[8192];
        InputStream in = s.getInputStream();
        int n;
        while ((n = in.read(buffer)) > 0) {
          received.addAndGet(n);
          s.getOutputStream().write(buffer, 0, n);
        }
        endings.add("eof");
      } catch (IOException e) {
        endings.add(e.toString());
      }
    }

    int port() {
      return server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : sockets) {
        s.close();
      }
      threads.shutdownNow();
    }
  }

  private static Socket dial(FaultProxy proxy) throws IOException {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port());
    s.setSoTimeout(10_000);
    s.setTcpNoDelay(true);
    return s;
  }

  private static String roundTrip(Socket s, String message) throws IOException {
    s.getOutputStream().write(message.getBytes(US_ASCII));
    return new String(s.getInputStream().readNBytes(message.length()), US_ASCII);
  }

  /** Reads until the end of the stream or a reset; returns the bytes read. */
  private static long drain(Socket s) {
    long total = 0;
    byte[] buffer = new byte[8192];
    try {
      InputStream in = s.getInputStream();
      int n;
      while ((n = in.read(buffer)) > 0) {
        total += n;
      }
    } catch (IOException e) {
      // reset: what arrived before it is counted
    }
    return total;
  }

  @Test
  void forwardsBothWaysAndCountsBytesAndConnections() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    assertThat(proxy.lastForwardedNanos(Direction.DOWNSTREAM)).isEmpty();

    try (Socket s = dial(proxy)) {
      long before = System.nanoTime();
      assertThat(roundTrip(s, "hello")).isEqualTo("hello");
      assertThat(proxy.connectionsAccepted()).isEqualTo(1);
      assertThat(proxy.openConnections()).isEqualTo(1);
      assertThat(proxy.bytesForwarded(Direction.UPSTREAM)).isEqualTo(5);
      assertThat(proxy.bytesForwarded(Direction.DOWNSTREAM)).isEqualTo(5);
      assertThat(proxy.lastForwardedNanos(Direction.DOWNSTREAM).getAsLong()).isGreaterThan(before);
    }
    // The client's close reaches the target, whose close comes back: nothing stays open.
    await().until(() -> target.endings.equals(List.of("eof")) && proxy.openConnections() == 0);
  }

  @Test
  void latencyDelaysEachDirectionButKeepsThroughput() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    Duration latency = Duration.ofMillis(150);
    proxy.latency(latency);

    try (Socket s = dial(proxy)) {
      long start = System.nanoTime();
      assertThat(roundTrip(s, "x")).isEqualTo("x");
      assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(2 * latency.toNanos());

      // 2 MiB echoed: read in many chunks by the proxy. Each chunk waits the latency from its own
      // arrival, concurrently with the others; a proxy that delayed chunks one after the other
      // would need at least 128 x 150 ms here.
      byte[] block = new byte[2 << 20];
      long bulkStart = System.nanoTime();
      CompletableFuture<Void> writer =
          CompletableFuture.runAsync(
              () -> {
                try {
                  s.getOutputStream().write(block);
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      assertThat(s.getInputStream().readNBytes(block.length)).hasSize(block.length);
      writer.get(10, TimeUnit.SECONDS);
      long bulkMillis = (System.nanoTime() - bulkStart) / 1_000_000;
      assertThat(bulkMillis).isBetween(2 * latency.toMillis(), 2 * latency.toMillis() + 4_000);
    }
  }

  @Test
  void latencyCanBeSetForOneDirection() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    proxy.latency(Direction.DOWNSTREAM, Duration.ofSeconds(1));

    try (Socket s = dial(proxy)) {
      long start = System.nanoTime();
      s.getOutputStream().write('a');
      await()
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(2))
          .until(() -> target.received.get() == 1);
      long upMillis = (System.nanoTime() - start) / 1_000_000;
      assertThat(s.getInputStream().read()).isEqualTo('a');
      long roundMillis = (System.nanoTime() - start) / 1_000_000;
      assertThat(upMillis).isLessThan(1_000);
      assertThat(roundMillis).isGreaterThanOrEqualTo(1_000);
    }
  }

  @Test
  void bandwidthLimitPacesTheTransfer() throws Exception {
    int size = 64 * 1024;
    Target target = later(new Target(size));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    proxy.bandwidth(Direction.DOWNSTREAM, 64 * 1024);

    try (Socket s = dial(proxy)) {
      long start = System.nanoTime();
      assertThat(s.getInputStream().readNBytes(size)).hasSize(size);
      long millis = (System.nanoTime() - start) / 1_000_000;
      // 64 KiB at 64 KiB/s: one second, less the first 20 ms slice that goes at once.
      assertThat(millis).isBetween(950L, 6_000L);
      // The other direction is not limited.
      long upStart = System.nanoTime();
      assertThat(roundTripUpOnly(s, target, new byte[size])).isTrue();
      assertThat((System.nanoTime() - upStart) / 1_000_000).isLessThan(950L);
    }
  }

  private static boolean roundTripUpOnly(Socket s, Target target, byte[] bytes) throws IOException {
    long before = target.received.get();
    s.getOutputStream().write(bytes);
    await().until(() -> target.received.get() == before + bytes.length);
    return true;
  }

  @Test
  void blackholeKeepsConnectionsOpenPassesNothingAndHealsForNewConnections() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    Socket old = later(dial(proxy));
    assertThat(roundTrip(old, "ok")).isEqualTo("ok");

    proxy.blackhole();
    old.getOutputStream().write("lost".getBytes(US_ASCII));
    await().until(() -> proxy.bytesSwallowed() == 4);
    old.shutdownOutput(); // a close does not pass a black hole
    Socket fresh = later(dial(proxy)); // TCP completes with the proxy...
    fresh.getOutputStream().write("gone".getBytes(US_ASCII));
    await().until(() -> proxy.bytesSwallowed() == 8);
    old.setSoTimeout(300);
    assertThatThrownBy(() -> old.getInputStream().read())
        .isInstanceOf(SocketTimeoutException.class);
    assertThat(target.received.get()).isEqualTo(2);
    assertThat(target.endings).isEmpty();
    assertThat(target.accepted.get()).isEqualTo(1); // ...but never reaches the target

    proxy.heal();
    // The held-back close now passes, and the waiting connection reaches the target, without the
    // bytes the black hole swallowed.
    await().until(() -> target.endings.equals(List.of("eof")));
    assertThat(roundTrip(fresh, "back")).isEqualTo("back");
    assertThat(target.accepted.get()).isEqualTo(2);
    assertThat(target.received.get()).isEqualTo(2 + 4);
  }

  @Test
  void refuseResetsNewConnectionsAndLeavesOpenOnesAlone() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    Socket open = later(dial(proxy));
    assertThat(roundTrip(open, "a")).isEqualTo("a");

    proxy.refuse();
    try (Socket refused = dial(proxy)) {
      assertThat(drain(refused)).isZero();
    }
    assertThat(proxy.connectionsRefused()).isEqualTo(1);
    assertThat(roundTrip(open, "b")).isEqualTo("b");

    proxy.accept();
    try (Socket again = dial(proxy)) {
      assertThat(roundTrip(again, "c")).isEqualTo("c");
    }
    assertThat(proxy.connectionsAccepted()).isEqualTo(2);
    assertThat(target.accepted.get()).isEqualTo(2);
  }

  @Test
  void aTargetThatIsDownMeansAnImmediatelyFailingConnection() throws Exception {
    // A socket bound to the port and not listening: connections there are refused, and no other
    // test can take the port meanwhile (one that was only free a moment ago can be taken).
    try (Socket down = new Socket()) {
      down.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      FaultProxy proxy = later(FaultProxy.start("127.0.0.1", down.getLocalPort()));
      try (Socket s = dial(proxy)) {
        assertThat(drain(s)).isZero();
      }
      await().until(() -> proxy.connectionsRefused() == 1);
      assertThat(proxy.connectionsAccepted()).isZero();
    }
  }

  @Test
  void resetSendsRstToBothSides() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    Socket s = later(dial(proxy));
    assertThat(roundTrip(s, "a")).isEqualTo("a");

    proxy.reset();

    assertThatThrownBy(() -> s.getInputStream().read())
        .isInstanceOf(SocketException.class)
        .hasMessageContaining("reset");
    await().until(() -> target.endings.size() == 1);
    assertThat(target.endings.get(0)).contains("reset");
    await().until(() -> proxy.openConnections() == 0);
  }

  @Test
  void cutAfterEndsOneConnectionMidStreamOnce() throws Exception {
    int push = 1 << 20;
    Target target = later(new Target(push));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    proxy.cutAfter(100_000);

    try (Socket first = dial(proxy)) {
      long got = drain(first);
      assertThat(got).isLessThanOrEqualTo(100_000);
    }
    assertThat(proxy.cutsMade()).isEqualTo(1);
    assertThat(proxy.bytesForwarded(Direction.DOWNSTREAM)).isEqualTo(100_000);
    await().until(() -> target.endings.size() == 1);

    try (Socket second = dial(proxy)) {
      assertThat(second.getInputStream().readNBytes(push)).hasSize(push);
    }
    assertThat(proxy.cutsMade()).isEqualTo(1);
  }

  @Test
  void closeEndsEveryThreadAndConnection() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = FaultProxy.start("127.0.0.1", target.port());
    int port = proxy.port();
    Socket a = later(dial(proxy));
    Socket b = later(dial(proxy));
    assertThat(roundTrip(a, "a")).isEqualTo("a");
    assertThat(roundTrip(b, "b")).isEqualTo("b");
    proxy.latency(Duration.ofSeconds(30));
    b.getOutputStream().write('w'); // held in the proxy
    proxy.blackhole();
    Socket c = later(dial(proxy)); // waiting for the black hole to end
    await().until(() -> threadsOf(port).size() >= 6); // accept, 2 x 2 pumps, 1 waiting
    proxy.close();

    assertThat(threadsOf(port)).isEmpty();
    assertThat(drain(a)).isZero();
    assertThat(drain(c)).isZero();
    assertThatThrownBy(() -> new Socket(InetAddress.getLoopbackAddress(), port).close())
        .isInstanceOf(ConnectException.class);
    proxy.close(); // idempotent
  }

  private static List<String> threadsOf(int port) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(n -> n.startsWith("fault-proxy-" + port + "-"))
        .toList();
  }

  @Test
  void settingsAreChecked() throws Exception {
    Target target = later(new Target(0));
    FaultProxy proxy = later(FaultProxy.start("127.0.0.1", target.port()));
    assertThatThrownBy(() -> proxy.latency(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("latency");
    assertThatThrownBy(() -> proxy.bandwidth(-5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bandwidth");
    assertThatThrownBy(() -> proxy.cutAfter(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cutAfter");
    assertThatThrownBy(() -> FaultProxy.start("127.0.0.1", 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("port");
  }
}

package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The admin API's connection handling against slow and numerous clients, over real sockets: a
 * deadline for a request's head and one for its body, and a cap on open connections.
 */
class AdminConnectionLimitsTest {
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final List<Socket> sockets = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (Socket s : sockets) {
      s.close();
    }
    f.close();
  }

  private void start(java.util.function.UnaryOperator<ControlPlaneServer.Builder> settings)
      throws Exception {
    f.start(
        b -> settings.apply(b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))));
  }

  private Socket connect() throws IOException {
    Socket s =
        new Socket(InetAddress.getLoopbackAddress(), f.cp.adminAddress().orElseThrow().getPort());
    // A bound on a broken test only: the verdicts come from what is read, not from this.
    s.setSoTimeout(60_000);
    sockets.add(s);
    return s;
  }

  /** Everything the server sends until it closes its side. */
  private static String readAll(Socket s) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    InputStream in = s.getInputStream();
    byte[] buffer = new byte[4096];
    for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
      out.write(buffer, 0, n);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  private static void send(Socket s, String text) throws IOException {
    OutputStream out = s.getOutputStream();
    out.write(text.getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  @Test
  void aClientThatSendsTheRequestHeadTooSlowlyIsAnswered408AndClosed() throws Exception {
    start(b -> b.adminRequestHeadTimeout(Duration.ofSeconds(1)));
    Socket slow = connect();
    // Part of a head, then nothing more: the old server waited for the idle minute, and a client
    // sending a byte now and then kept the connection for ever.
    send(slow, "GET /status HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    long start = System.nanoTime();
    String answer = readAll(slow);
    assertThat(answer).startsWith("HTTP/1.1 408").contains("request_timeout");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(50));

    // A client that sends its head in time is unaffected, also when it reuses the connection.
    Socket good = connect();
    send(good, "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n");
    send(good, "GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    String both = readAll(good);
    assertThat(both.split("HTTP/1.1 200", -1)).hasSize(3);
  }

  @Test
  void aClientThatDribblesTheRequestBodyIsAnswered408AndNothingIsPublished() throws Exception {
    start(b -> b.adminRequestBodyTimeout(Duration.ofSeconds(1)));
    Socket slow = connect();
    String body = "{\"services\":[]}";
    send(
        slow,
        "PUT /config HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + "Content-Length: "
            + (body.length() + 1000)
            + "\r\n\r\n");
    // A byte every 100 ms: never idle, so before the body deadline only the idle minute bounded it.
    java.util.concurrent.ScheduledExecutorService dribbler =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    try {
      java.util.concurrent.Future<?> unused =
          dribbler.scheduleAtFixedRate(
              () -> {
                try {
                  send(slow, " ");
                } catch (IOException e) {
                  // closed by the server: the test reads the verdict
                }
              },
              0,
              100,
              java.util.concurrent.TimeUnit.MILLISECONDS);
      long start = System.nanoTime();
      String answer = readAll(slow);
      assertThat(answer)
          .startsWith("HTTP/1.1 408")
          .contains("request_timeout")
          .contains("adminRequestBodyTimeout");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));
    } finally {
      dribbler.shutdownNow();
    }
    assertThat(f.cp.currentConfig()).isEmpty();

    // A body sent in time is published as before.
    Socket good = connect();
    send(
        good,
        "PUT /config HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + "Connection: close\r\nContent-Length: "
            + body.length()
            + "\r\n\r\n"
            + body);
    assertThat(readAll(good)).startsWith("HTTP/1.1 200");
    assertThat(f.cp.currentConfig()).isPresent();
  }

  @Test
  void aConnectionOverTheLimitIsAnswered503AndTheLimitFreesUpWhenOnesClose() throws Exception {
    start(b -> b.maxAdminConnections(2));
    Socket first = connect();
    Socket second = connect();
    send(first, "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n");
    send(second, "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assertThat(new String(first.getInputStream().readNBytes(12), StandardCharsets.US_ASCII))
        .isEqualTo("HTTP/1.1 200");
    assertThat(new String(second.getInputStream().readNBytes(12), StandardCharsets.US_ASCII))
        .isEqualTo("HTTP/1.1 200");

    Socket third = connect();
    send(third, "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n");
    String refused = readAll(third);
    assertThat(refused).startsWith("HTTP/1.1 503").contains("too_many_connections");
    third.close(); // a refused connection counts until it is closed

    first.close();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              try (Socket again = connect()) {
                send(again, "GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
                return readAll(again).startsWith("HTTP/1.1 200");
              } catch (IOException e) {
                return false;
              }
            });
  }

  @Test
  void theSettingsRefuseNonsense() {
    ControlPlaneServer.Builder b = ControlPlaneServer.builder();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> b.adminRequestHeadTimeout(Duration.ZERO))
        .hasMessageContaining("adminRequestHeadTimeout");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> b.adminRequestBodyTimeout(Duration.ofHours(2)))
        .hasMessageContaining("adminRequestBodyTimeout");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.maxAdminConnections(0))
        .hasMessageContaining("maxAdminConnections");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.maxDataPlanes(0))
        .hasMessageContaining("maxDataPlanes");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.maxRegistryBytes(1000))
        .hasMessageContaining("maxRegistryBytes");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.maxNodeIdsPerCertificate(-1))
        .hasMessageContaining("maxNodeIdsPerCertificate");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.maxNodeLabels(-1))
        .hasMessageContaining("maxNodeLabels");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.maxNodePlugins(10_001))
        .hasMessageContaining("maxNodePlugins");
  }
}

package dev.configsync.okhttp;

import static dev.configsync.okhttp.TestPki.ca;
import static dev.configsync.okhttp.TestPki.leafEc;
import static dev.configsync.okhttp.TestPki.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.okhttp.internal.WebSocketFrameWriter;
import dev.configsync.okhttp.internal.WebSocketHandshake;
import dev.configsync.spi.Transport;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import okio.ByteString;
import okio.Okio;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A control plane that pings without end and never reads what the node writes back: the node
 * answers every ping it can, but the pongs it could not send yet never pile up in memory.
 */
class PingFloodTest {
  /** More pongs (131 bytes each on the wire) than loopback socket buffers absorb at once. */
  private static final int PINGS = 100_000;

  @TempDir Path dir;

  @Test
  void pongsForAPeerThatDoesNotReadDoNotPileUp() throws Exception {
    HeldCertificate ca = ca("cp-ca");
    HeldCertificate server = leafEc("control-plane", ca);
    HeldCertificate client = leafEc("dp", ca);
    HandshakeCertificates serverTls =
        new HandshakeCertificates.Builder()
            .heldCertificate(server)
            .addTrustedCertificate(ca.certificate())
            .build();
    ExecutorService serverThread = Executors.newSingleThreadExecutor();
    try (SSLServerSocket listening =
            (SSLServerSocket)
                serverTls
                    .sslContext()
                    .getServerSocketFactory()
                    .createServerSocket(0, 1, InetAddress.getLoopbackAddress());
        OkHttpTransport transport =
            OkHttpTransport.create(
                TlsConfig.pki(
                    write(dir, "dp.crt", client.certificatePem()),
                    write(dir, "dp.key", client.privateKeyPkcs8Pem()),
                    write(dir, "ca.pem", ca.certificatePem())))) {
      listening.setNeedClientAuth(true);
      Future<SSLSocket> flood = serverThread.submit(() -> pingForEver(listening));
      AtomicInteger pings = new AtomicInteger();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      OkHttpConnection connection =
          (OkHttpConnection)
              transport.connect(
                  new Transport.ConnectRequest(
                      URI.create("wss://127.0.0.1:" + listening.getLocalPort() + "/v1/outlet"),
                      1 << 20,
                      // Also the write timeout: the pongs' writer is stuck for the whole test,
                      // which takes far longer than 10 s on a loaded machine.
                      Duration.ofMinutes(5)),
                  new Transport.Listener() {
                    @Override
                    public void onOpen() {}

                    @Override
                    public void onBinary(byte[] payload) {}

                    @Override
                    public void onPong(byte[] payload) {}

                    @Override
                    public void onPing(byte[] payload) {
                      pings.incrementAndGet();
                    }

                    @Override
                    public void onClosed(int code, String reason) {}

                    @Override
                    public void onFailure(Throwable error) {
                      failure.set(error);
                    }
                  });
      await()
          .atMost(Duration.ofMinutes(3))
          .alias("all pings received (or a failure)")
          .until(() -> pings.get() == PINGS || failure.get() != null);
      assertThat(failure.get()).as("the connection failed after %d pings", pings.get()).isNull();
      SSLSocket controlPlane = flood.get();
      try {
        // The writer is stuck on a full socket; at most the latest pong waits behind it.
        assertThat(connection.queuedFrames()).isLessThanOrEqualTo(1);
        connection.cancel();
      } finally {
        controlPlane.close();
      }
    } finally {
      serverThread.shutdownNow();
    }
  }

  /**
   * Accepts one upgrade, then sends ping after ping and never reads again. Returns the socket still
   * open: the caller closes it when the test is over. (Dropped here, it would be closed by its
   * cleaner at the next GC, and closing a socket with unread data resets the connection while the
   * node is still reading the last pings.)
   */
  private static SSLSocket pingForEver(SSLServerSocket listening) throws Exception {
    SSLSocket socket = (SSLSocket) listening.accept();
    BufferedReader request =
        new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    String key = "";
    for (String line = request.readLine();
        line != null && !line.isEmpty();
        line = request.readLine()) {
      if (line.toLowerCase(Locale.ROOT).startsWith("sec-websocket-key:")) {
        key = line.substring(line.indexOf(':') + 1).trim();
      }
    }
    OutputStream out = socket.getOutputStream();
    out.write(
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: "
                + WebSocketHandshake.acceptFor(key)
                + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    WebSocketFrameWriter frames =
        new WebSocketFrameWriter(Okio.buffer(Okio.sink(out)), false, new SecureRandom());
    ByteString payload = ByteString.of(new byte[125]);
    for (int i = 0; i < PINGS; i++) {
      frames.writePing(payload);
    }
    return socket;
  }
}

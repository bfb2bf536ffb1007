package dev.configsync.examples.gateway;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpServer;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.FileConfigStore;
import dev.configsync.cp.ServerTls;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import okhttp3.tls.HeldCertificate;

/**
 * A real control plane (mutual TLS, file store), real upstream HTTP servers and real gateways on
 * 127.0.0.1, closed together.
 */
final class GatewayTestBed implements AutoCloseable {
  /** Short timings: the production defaults (30 s heartbeats, 5-10 s reconnects) would be slow. */
  static final Duration HEARTBEAT = Duration.ofMillis(500);

  final TestPki pki = TestPki.create();
  final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final Path dir;
  private final List<Runnable> closeables = new ArrayList<>();
  private ControlPlaneServer cp;
  private int cpPort;

  GatewayTestBed(Path dir) {
    this.dir = dir;
  }

  /** Starts the control plane: on a free port the first time, then on the same port and store. */
  ControlPlaneServer startControlPlane() throws IOException {
    HeldCertificate cert = pki.controlPlaneCertificate();
    cp =
        ControlPlaneServer.builder()
            .tls(
                ServerTls.pkiFromPem(
                    cert.certificatePem(), cert.privateKeyPkcs8Pem(), pki.ca().certificatePem()))
            .listen("127.0.0.1", cpPort)
            .configStore(FileConfigStore.open(dir.resolve("cp-store"), 64 << 20))
            .heartbeatInterval(HEARTBEAT)
            .handshakeTimeout(Duration.ofSeconds(5))
            .ioThreads(2)
            .start();
    cpPort = cp.address().getPort();
    return cp;
  }

  ControlPlaneServer cp() {
    return cp;
  }

  void stopControlPlane() {
    cp.close();
  }

  /**
   * A client builder for the control plane's port (which need not be open), caching in {@code
   * cache}.
   */
  ConfigSyncClient.Builder client(String cache) throws IOException {
    if (cpPort == 0) {
      cpPort = freePort(); // nothing listens there yet
    }
    return ConfigSyncClient.builder()
        .controlPlane(URI.create("wss://localhost:" + cpPort))
        .transport(OkHttpTransport.create(pki.dataPlaneTls()))
        .snapshotStore(FileSnapshotStore.open(dir.resolve(cache)))
        .heartbeatInterval(HEARTBEAT)
        .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(150))
        .handshakeTimeout(Duration.ofSeconds(5))
        .onEvent(events::add);
  }

  Gateway startGateway(String cache) throws IOException {
    return startGateway(cache, c -> c, UsageRecorder.none());
  }

  Gateway startGateway(
      String cache, UnaryOperator<ConfigSyncClient.Builder> settings, UsageRecorder usage)
      throws IOException {
    return startGateway(cache, settings, usage, g -> g);
  }

  Gateway startGateway(
      String cache,
      UnaryOperator<ConfigSyncClient.Builder> settings,
      UsageRecorder usage,
      UnaryOperator<Gateway.Builder> gatewaySettings)
      throws IOException {
    Gateway gateway =
        gatewaySettings
            .apply(Gateway.builder())
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .threads(16)
            .usageRecorder(usage)
            .start(settings.apply(client(cache)));
    closeables.add(gateway::close);
    return gateway;
  }

  Upstream upstream(String name) throws IOException {
    Upstream upstream = new Upstream(name);
    closeables.add(upstream::close);
    return upstream;
  }

  URI uri(Gateway gateway, String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + gateway.address().getPort() + pathAndQuery);
  }

  HttpResponse<String> get(Gateway gateway, String pathAndQuery)
      throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(uri(gateway, pathAndQuery)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /**
   * Sends {@code request} (a complete HTTP/1.1 request head, CRLF line ends, and body) over a new
   * socket, for headers the JDK client will not send (Host, Connection, TE); returns the response
   * head and body as text. The body is read by its Content-Length (every response here has one).
   */
  static String raw(Gateway gateway, String request) throws IOException {
    try (Socket socket =
        new Socket(InetAddress.getLoopbackAddress(), gateway.address().getPort())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder head = new StringBuilder();
      while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          throw new IOException("connection closed inside the response head: " + head);
        }
        head.append((char) b);
      }
      int length = 0;
      for (String line : head.toString().split("\r\n", -1)) {
        if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
          length = Integer.parseInt(line.substring("content-length:".length()).trim());
        }
      }
      return head + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
    }
  }

  /**
   * A loopback port that refuses connections until the bed is closed: a socket is bound to it and
   * does not listen, so a connection there is refused, and no other process can take the port
   * meanwhile (a port that was merely free a moment ago can be, by a test running beside this one:
   * an upstream request then met whatever listened there instead of a refusal).
   */
  int refusingPort() throws IOException {
    java.net.Socket holder = new java.net.Socket();
    holder.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    closeables.add(
        () -> {
          try {
            holder.close();
          } catch (IOException e) {
            // closing a socket that never connected: nothing to do
          }
        });
    return holder.getLocalPort();
  }

  /** A port nothing listens on (it was free a moment ago). */
  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  @Override
  public void close() {
    List<Runnable> reversed = new ArrayList<>(closeables);
    Collections.reverse(reversed);
    reversed.forEach(Runnable::run);
    if (cp != null) {
      cp.close();
    }
  }

  /**
   * An upstream HTTP server that answers 200 with its name as the body, and {@code X-Upstream} and
   * {@code X-Upstream-Uri} (the raw path and query it was asked for) headers. It keeps the last
   * request it received. A request with {@code X-Want-Status: N} is answered with status N, and
   * with hop-by-hop headers that a proxy must not pass on.
   */
  static final class Upstream implements AutoCloseable {
    /** One request as the upstream saw it. */
    record Received(String method, String rawUri, Headers headers, String body) {}

    final String name;
    final AtomicReference<Received> last = new AtomicReference<>();
    private final HttpServer server;
    private final ExecutorService threads = Executors.newFixedThreadPool(4);

    Upstream(String name) throws IOException {
      this.name = name;
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
      server.setExecutor(threads);
      server.createContext(
          "/",
          exchange -> {
            try (exchange) {
              byte[] in;
              try (InputStream body = exchange.getRequestBody()) {
                in = body.readAllBytes();
              }
              String rawUri = exchange.getRequestURI().getRawPath();
              if (exchange.getRequestURI().getRawQuery() != null) {
                rawUri += "?" + exchange.getRequestURI().getRawQuery();
              }
              Headers requestHeaders = new Headers();
              requestHeaders.putAll(exchange.getRequestHeaders());
              last.set(
                  new Received(
                      exchange.getRequestMethod(),
                      rawUri,
                      requestHeaders,
                      new String(in, StandardCharsets.UTF_8)));
              Headers h = exchange.getResponseHeaders();
              h.set("X-Upstream", name);
              h.set("X-Upstream-Uri", rawUri);
              h.set("Content-Type", "text/plain");
              int status = 200;
              String want = exchange.getRequestHeaders().getFirst("X-Want-Status");
              if (want != null) {
                status = Integer.parseInt(want);
                h.set("Keep-Alive", "timeout=5");
                h.set("Connection", "X-Upstream-Hop");
                h.set("X-Upstream-Hop", "connection-scoped");
                h.set("X-Upstream-Custom", "kept");
              }
              if (exchange.getRequestMethod().equals("HEAD")) {
                exchange.sendResponseHeaders(status, -1);
                return;
              }
              byte[] out = name.getBytes(StandardCharsets.UTF_8);
              exchange.sendResponseHeaders(status, out.length);
              try (OutputStream os = exchange.getResponseBody()) {
                os.write(out);
              }
            }
          });
      server.start();
    }

    /** {@code http://127.0.0.1:PORT}. */
    String url() {
      return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void close() {
      server.stop(0);
      threads.shutdownNow();
      try {
        threads.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}

package dev.configsync.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.okhttp.internal.WebSocketFrame;
import dev.configsync.okhttp.internal.WebSocketFrameReader;
import dev.configsync.okhttp.internal.WebSocketFrameWriter;
import dev.configsync.okhttp.internal.WebSocketHandshake;
import dev.configsync.okhttp.internal.WebSocketProtocolException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ServerSocketFactory;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Handshake;
import okhttp3.Protocol;
import okhttp3.tls.HandshakeCertificates;
import okio.BufferedSink;
import okio.ByteString;
import okio.Okio;
import okio.Socket;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/**
 * A control plane for tests: speaks configsync's protocol (Kong hybrid mode v1) over real mutual
 * TLS on 127.0.0.1, records what every data plane reports, and can misbehave on demand.
 *
 * <pre>{@code
 * try (TestControlPlane cp = TestControlPlane.start(pki)) {
 *   ConfigSyncClient client = ConfigSyncClient.builder()
 *       .controlPlane(cp.uri())
 *       .transport(OkHttpTransport.create(pki.dataPlaneTls()))
 *       .build();
 *   client.start();
 *   String hash = cp.publish("{\"services\":[]}");
 *   await().until(() -> cp.lastReportedHash(client.status().nodeId()).equals(Optional.of(hash)));
 * }
 * }</pre>
 *
 * <p>Like a real control plane it checks {@code basic_info} and ping payloads and closes the
 * connection on a protocol violation, sends each data plane the latest configuration when it
 * connects (never older ones) and every new one at once. Faults: {@link #answerPings(boolean)},
 * {@link #dropConnections()}, {@link #stop()} and {@link #restart()} on the same port, {@link
 * #sendRaw(byte[])}, {@link #sendFrame(FrameType, ByteString)} and {@link #sendBytes(byte[])}. What
 * the data planes answer is recorded: pings ({@link #reportedHashes}), pongs ({@link #pongs}),
 * error reports and close frames ({@link #closeFramesReceived()}).
 *
 * <p>Thread-safe. Each connection is served on its own thread.
 */
public final class TestControlPlane implements AutoCloseable {
  /** The largest frame this control plane reads from a data plane. */
  private static final long MAX_FRAME = 16L * 1024 * 1024;

  private final HandshakeCertificates serverTls;
  private final SecureRandom random = new SecureRandom();
  private final List<NodeSession> sessions = new CopyOnWriteArrayList<>();
  private final Map<String, List<String>> reportedHashes = new ConcurrentHashMap<>();
  private final List<String> violations = new CopyOnWriteArrayList<>();
  private final List<JsonNode> errorReports = new CopyOnWriteArrayList<>();
  private final Map<String, List<ByteString>> pongs = new ConcurrentHashMap<>();
  private final List<CloseFrame> closeFrames = new CopyOnWriteArrayList<>();
  private final List<JsonNode> usageBatches = new CopyOnWriteArrayList<>();
  private final AtomicInteger connections = new AtomicInteger();
  private volatile boolean answerPings = true;
  private final Object publishLock = new Object();
  private volatile byte @Nullable [] latest;
  private volatile @Nullable String latestHash;
  private @Nullable MockWebServer server;
  private int port;

  private TestControlPlane(HandshakeCertificates serverTls) {
    this.serverTls = serverTls;
  }

  /**
   * Starts a control plane on a free port of 127.0.0.1 whose certificates come from {@code pki}.
   */
  public static TestControlPlane start(TestPki pki) {
    return start(Objects.requireNonNull(pki, "pki").controlPlaneHandshake());
  }

  /**
   * Starts a control plane on a free port of 127.0.0.1 with its own TLS material: {@code serverTls}
   * holds the certificate it presents and the certificates it trusts for data planes' client
   * certificates (which it always requires). For example, a {@code shared}-mode control plane
   * presents the cluster certificate and trusts only that one:
   *
   * <pre>{@code
   * HeldCertificate cluster = new HeldCertificate.Builder().commonName("kong_clustering").build();
   * TestControlPlane cp = TestControlPlane.start(new HandshakeCertificates.Builder()
   *     .heldCertificate(cluster)
   *     .addTrustedCertificate(cluster.certificate())
   *     .build());
   * }</pre>
   */
  public static TestControlPlane start(HandshakeCertificates serverTls) {
    TestControlPlane cp = new TestControlPlane(Objects.requireNonNull(serverTls, "serverTls"));
    cp.listen(0);
    return cp;
  }

  /** The address data planes dial: {@code wss://localhost:PORT}. */
  public URI uri() {
    return URI.create("wss://localhost:" + port);
  }

  /** The port, stable across {@link #stop()} and {@link #restart()}. */
  public int port() {
    return port;
  }

  // ---- publishing -------------------------------------------------------------------------

  /** Publishes a configuration given as JSON text; returns its hash. */
  public String publish(String configJson) {
    try {
      return publish(Json.readFrozen(configJson.getBytes(StandardCharsets.UTF_8)));
    } catch (IOException e) {
      throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
    }
  }

  /**
   * Publishes {@code configTable}: encodes it once, keeps it as the latest (what a data plane gets
   * when it connects), and sends it to every connected data plane now. Returns its hash. Works
   * while the control plane is stopped too: the configuration goes out when it is back.
   */
  public String publish(JsonNode configTable) {
    ConfigHashes hashes = ConfigHash.configHashes(configTable);
    byte[] payload =
        HybridProtocol.reconfigure(configTable, hashes, System.currentTimeMillis() / 1000.0, null);
    String hash = hashes.config();
    // One lock orders this fan-out against each node's first send: no node can get this
    // configuration and then an older one.
    synchronized (publishLock) {
      latest = payload;
      latestHash = hash;
      for (NodeSession session : sessions) {
        if (session.info != null) {
          session.send(WebSocketFrame.binary(ByteString.of(payload)));
        }
      }
    }
    return hash;
  }

  /**
   * Publishes {@code configTable} as {@link #publish(JsonNode)} does (it becomes the latest, which
   * a data plane gets whole when it connects), but sends the data planes connected now {@code
   * change} instead of the whole configuration: a {@code reconfigure_delta} payload to {@code
   * configTable} (see {@code docs/protocol.md}, "Incremental sync"; the caller builds it). A node
   * that does not run the change's base refuses it and gets the whole configuration at its next
   * connection. Returns the configuration's hash.
   */
  public String publishChange(JsonNode configTable, byte[] change) {
    ConfigHashes hashes = ConfigHash.configHashes(configTable);
    byte[] payload =
        HybridProtocol.reconfigure(configTable, hashes, System.currentTimeMillis() / 1000.0, null);
    ByteString frame = ByteString.of(change);
    synchronized (publishLock) {
      latest = payload;
      latestHash = hashes.config();
      for (NodeSession session : sessions) {
        if (session.info != null) {
          session.send(WebSocketFrame.binary(frame));
        }
      }
    }
    return hashes.config();
  }

  /**
   * Sends {@code payload} as a binary frame to every connected data plane, as is: for tests of
   * corrupt, oversized or forged messages. It does not become the latest configuration.
   */
  public void sendRaw(byte[] payload) {
    for (NodeSession session : sessions) {
      session.send(WebSocketFrame.binary(ByteString.of(payload)));
    }
  }

  /**
   * Sends one frame of {@code type} with {@code payload}, as is, to every connected data plane: for
   * tests of frames a control plane does not normally send (text messages, server pings).
   *
   * @throws IllegalArgumentException when a data plane is connected and the frame may not go on the
   *     wire (a control frame over 125 bytes, say; {@link #sendBytes} writes such frames)
   */
  public void sendFrame(FrameType type, ByteString payload) {
    WebSocketFrame frame = type.frame(payload);
    for (NodeSession session : sessions) {
      session.send(frame);
    }
  }

  /**
   * Writes {@code wire} to every connected data plane's socket as is, without any framing: for
   * tests of frames the codec would refuse to write (reserved bits, a length that lies, fragments,
   * control frames over 125 bytes, masked server frames). Never interleaves with a frame being
   * written.
   */
  public void sendBytes(byte[] wire) {
    byte[] copy = wire.clone();
    for (NodeSession session : sessions) {
      session.sendBytes(copy);
    }
  }

  /** The hash of the latest published configuration. */
  public Optional<String> latestHash() {
    return Optional.ofNullable(latestHash);
  }

  // ---- what data planes said --------------------------------------------------------------

  /** Every ping payload (configuration hash) the node has sent, oldest first. */
  public List<String> reportedHashes(Object nodeId) {
    return List.copyOf(reportedHashes.getOrDefault(nodeId.toString(), List.of()));
  }

  /** The last hash the node reported in a ping. */
  public Optional<String> lastReportedHash(Object nodeId) {
    List<String> hashes = reportedHashes(nodeId);
    return hashes.isEmpty() ? Optional.empty() : Optional.of(hashes.get(hashes.size() - 1));
  }

  /**
   * The payloads of the pongs the node has sent (answers to {@link #sendFrame} pings), oldest
   * first.
   */
  public List<ByteString> pongs(Object nodeId) {
    return List.copyOf(pongs.getOrDefault(nodeId.toString(), List.of()));
  }

  /**
   * A close frame a data plane sent.
   *
   * @param nodeId the node's {@code node_id}
   * @param code the close code, or 1005 when the frame carried none
   * @param reason the close reason, possibly empty
   */
  public record CloseFrame(String nodeId, int code, String reason) {}

  /** The close frames data planes sent, oldest first. */
  public List<CloseFrame> closeFramesReceived() {
    return List.copyOf(closeFrames);
  }

  /** The data planes connected now. */
  public List<NodeInfo> connectedNodes() {
    List<NodeInfo> nodes = new ArrayList<>();
    for (NodeSession s : sessions) {
      if (s.info != null) {
        nodes.add(s.info);
      }
    }
    return nodes;
  }

  /** How many WebSocket connections have been accepted since start. */
  public int connectionCount() {
    return connections.get();
  }

  /**
   * The error reports ({@code {"type":"error",...}}) data planes sent about configurations they
   * refused, oldest first.
   */
  public List<JsonNode> errorReports() {
    return List.copyOf(errorReports);
  }

  /**
   * The usage batches data planes sent on {@code /v1/ingest}, inflated, oldest first. Like Kong's
   * control plane, this one never acknowledges them (it sends no {@code ingest_hello}), so data
   * planes fall back to fire-and-forget.
   */
  public List<JsonNode> usageBatches() {
    return List.copyOf(usageBatches);
  }

  /** The protocol violations seen, one line each, oldest first. */
  public List<String> violations() {
    return List.copyOf(violations);
  }

  /**
   * What the control plane knows of a connected data plane.
   *
   * @param nodeId the {@code node_id} query parameter
   * @param hostname the {@code node_hostname} query parameter
   * @param version the {@code node_version} query parameter
   * @param basicInfo the node's {@code basic_info} message
   * @param clientCertificateSubject the subject of the node's TLS client certificate
   * @param configFramesSent configuration frames sent to this node on this connection
   */
  public record NodeInfo(
      String nodeId,
      String hostname,
      String version,
      JsonNode basicInfo,
      String clientCertificateSubject,
      int configFramesSent) {}

  // ---- faults -----------------------------------------------------------------------------

  /** Whether to answer pings with pongs. Off: a control plane that has gone silent. */
  public void answerPings(boolean answer) {
    this.answerPings = answer;
  }

  /** Drops every connection at once, without a close frame (like a crash or a network cut). */
  public void dropConnections() {
    for (NodeSession s : sessions) {
      s.drop();
    }
  }

  /** Closes every connection with a close frame (like a graceful shutdown). */
  public void closeConnections(int code, String reason) {
    for (NodeSession s : sessions) {
      s.send(WebSocketFrame.close(code, reason));
    }
  }

  /** Stops listening and drops every connection. The configuration is kept. */
  public synchronized void stop() {
    MockWebServer s = server;
    server = null;
    dropConnections();
    if (s != null) {
      try {
        s.close();
      } catch (AssertionError e) {
        // MockWebServer closes its listening socket and every connection first, then waits up to
        // 5 s for its threads to go idle, and throws AssertionError if they have not (seen on a
        // loaded machine).
        // The port and the connections are released by then; waiting is all that failed.
        LoggerFactory.getLogger(TestControlPlane.class)
            .warn("test control plane threads slow to stop: {}", e.getMessage());
      }
    }
  }

  /** Listens again on the same port after {@link #stop()}. */
  public synchronized void restart() {
    if (server != null) {
      throw new IllegalStateException("the control plane is running; stop() it first");
    }
    listen(port);
  }

  /** Whether the control plane is listening. */
  public synchronized boolean isRunning() {
    return server != null;
  }

  @Override
  public void close() {
    stop();
  }

  // ---- serving ----------------------------------------------------------------------------

  private synchronized void listen(int wantedPort) {
    MockWebServer s = new MockWebServer();
    s.useHttps(serverTls.sslSocketFactory());
    s.requireClientAuth();
    s.setProtocols(List.of(Protocol.HTTP_1_1));
    s.setServerSocketFactory(new ReusableAddressServerSockets());
    s.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            return upgrade(request);
          }
        });
    try {
      s.start(InetAddress.getLoopbackAddress(), wantedPort);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on port " + wantedPort, e);
    }
    server = s;
    port = s.getPort();
  }

  /**
   * MockWebServer turns SO_REUSEADDR off when it binds port 0, which makes {@link #restart()} on
   * the same port fail while the old connections sit in TIME_WAIT. These sockets keep it on, and
   * accept connections with TCP_NODELAY, as a real control plane does.
   */
  private static final class ReusableAddressServerSockets extends ServerSocketFactory {
    @Override
    public ServerSocket createServerSocket() throws IOException {
      return new ServerSocket() {
        @Override
        public void setReuseAddress(boolean ignored) throws java.net.SocketException {
          super.setReuseAddress(true);
        }

        @Override
        public java.net.Socket accept() throws IOException {
          java.net.Socket socket = super.accept();
          // Without it, a configuration written right after a pong waits for the data plane's
          // delayed ACK (Nagle), up to 40 ms on Linux.
          socket.setTcpNoDelay(true);
          return socket;
        }
      };
    }

    @Override
    public ServerSocket createServerSocket(int port) throws IOException {
      throw new UnsupportedOperationException("MockWebServer binds unbound sockets");
    }

    @Override
    public ServerSocket createServerSocket(int port, int backlog) throws IOException {
      throw new UnsupportedOperationException("MockWebServer binds unbound sockets");
    }

    @Override
    public ServerSocket createServerSocket(int port, int backlog, InetAddress address)
        throws IOException {
      throw new UnsupportedOperationException("MockWebServer binds unbound sockets");
    }
  }

  private MockResponse upgrade(RecordedRequest request) {
    String key = request.getHeaders().get("Sec-WebSocket-Key");
    if (HybridProtocol.INGEST_PATH.equals(request.getUrl().encodedPath()) && key != null) {
      return new MockResponse.Builder()
          .code(101)
          .setHeader("Connection", "Upgrade")
          .setHeader("Upgrade", "websocket")
          .setHeader("Sec-WebSocket-Accept", WebSocketHandshake.acceptFor(key))
          .socketHandler(this::serveIngest)
          .build();
    }
    if (!HybridProtocol.OUTLET_PATH.equals(request.getUrl().encodedPath())) {
      return new MockResponse.Builder().code(404).body("no such endpoint").build();
    }
    if (key == null
        || !"websocket".equalsIgnoreCase(request.getHeaders().get("Upgrade"))
        || request.getUrl().queryParameter("node_id") == null) {
      return new MockResponse.Builder()
          .code(400)
          .body("expected a WebSocket upgrade with node_id")
          .build();
    }
    return new MockResponse.Builder()
        .code(101)
        .setHeader("Connection", "Upgrade")
        .setHeader("Upgrade", "websocket")
        .setHeader("Sec-WebSocket-Accept", WebSocketHandshake.acceptFor(key))
        .socketHandler(socket -> serve(request, socket))
        .build();
  }

  /** Kong-like telemetry: reads usage batches, answers pings, never says anything else. */
  private void serveIngest(Socket socket) {
    WebSocketFrameReader reader =
        new WebSocketFrameReader(Okio.buffer(socket.getSource()), true, MAX_FRAME);
    WebSocketFrameWriter writer =
        new WebSocketFrameWriter(Okio.buffer(socket.getSink()), false, random);
    try {
      while (true) {
        WebSocketFrame frame = reader.readFrame();
        switch (frame.opcode()) {
          case WebSocketFrame.OP_BINARY -> {
            try {
              usageBatches.add(
                  Json.readFrozen(
                      dev.configsync.internal.Gzip.decompress(
                          frame.payload().toByteArray(), MAX_FRAME)));
            } catch (IOException e) {
              violations.add("ingest: a usage batch that is not gzip JSON");
            }
          }
          case WebSocketFrame.OP_PING -> writer.write(WebSocketFrame.pong(frame.payload()));
          case WebSocketFrame.OP_CLOSE -> {
            writer.writeClose(1000, "");
            return;
          }
          default -> {
            // pongs and anything else: ignored
          }
        }
      }
    } catch (IOException e) {
      // the data plane went away
    } finally {
      socket.cancel();
    }
  }

  private void serve(RecordedRequest request, Socket socket) {
    connections.incrementAndGet();
    NodeSession session = new NodeSession(request, socket);
    sessions.add(session);
    try {
      session.run();
    } finally {
      sessions.remove(session);
      socket.cancel();
    }
  }

  private final class NodeSession {
    private final RecordedRequest request;
    private final Socket socket;
    private final BufferedSink sink;
    private final WebSocketFrameWriter writer;
    private final String nodeId;
    private volatile @Nullable NodeInfo info;
    private final AtomicInteger configFrames = new AtomicInteger();

    NodeSession(RecordedRequest request, Socket socket) {
      this.request = request;
      this.socket = socket;
      this.sink = Okio.buffer(socket.getSink());
      this.writer = new WebSocketFrameWriter(sink, false, random);
      this.nodeId = Objects.requireNonNullElse(request.getUrl().queryParameter("node_id"), "");
    }

    void run() {
      WebSocketFrameReader reader =
          new WebSocketFrameReader(Okio.buffer(socket.getSource()), true, MAX_FRAME);
      try {
        WebSocketFrame first = reader.readFrame();
        JsonNode basicInfo = parseBasicInfo(first);
        if (basicInfo == null) {
          return;
        }
        synchronized (publishLock) {
          info = nodeInfo(basicInfo);
          byte[] config = latest;
          if (config != null) {
            send(WebSocketFrame.binary(ByteString.of(config)));
          }
        }
        while (true) {
          WebSocketFrame frame = reader.readFrame();
          switch (frame.opcode()) {
            case WebSocketFrame.OP_PING -> {
              String hash = frame.payload().string(StandardCharsets.US_ASCII);
              if (frame.payload().size() != HybridProtocol.PING_PAYLOAD_LENGTH
                  || !(ConfigHash.isValidHash(hash) || hash.equals(ConfigHash.NONE))) {
                violation(
                    "ping payload is not a 32-character hash: " + frame.payload().hex(), 1002);
                return;
              }
              reportedHashes.computeIfAbsent(nodeId, k -> new CopyOnWriteArrayList<>()).add(hash);
              if (answerPings) {
                send(WebSocketFrame.pong(ByteString.EMPTY));
              }
            }
            case WebSocketFrame.OP_PONG ->
                // answers to our pings, or unsolicited (allowed): recorded either way
                pongs
                    .computeIfAbsent(nodeId, k -> new CopyOnWriteArrayList<>())
                    .add(frame.payload());
            case WebSocketFrame.OP_BINARY -> {
              JsonNode message = parse(frame.payload());
              if (message == null || !"error".equals(message.path("type").asText())) {
                violation("data frame after basic_info that is not an error report", 1002);
                return;
              }
              errorReports.add(message);
            }
            case WebSocketFrame.OP_CLOSE -> {
              closeFrames.add(new CloseFrame(nodeId, frame.closeCode(), frame.closeReason()));
              send(WebSocketFrame.close(1000, ""));
              return;
            }
            default -> {
              violation("unexpected " + WebSocketFrame.opcodeName(frame.opcode()) + " frame", 1003);
              return;
            }
          }
        }
      } catch (WebSocketProtocolException e) {
        violation(String.valueOf(e.getMessage()), e.closeCode());
      } catch (IOException e) {
        // the data plane went away
      }
    }

    private @Nullable JsonNode parseBasicInfo(WebSocketFrame first) {
      if (first.opcode() != WebSocketFrame.OP_BINARY) {
        violation(
            "first frame is " + WebSocketFrame.opcodeName(first.opcode()) + ", not basic_info",
            1002);
        return null;
      }
      JsonNode message = parse(first.payload());
      if (message == null
          || !"basic_info".equals(message.path("type").asText())
          || !message.path("plugins").isArray()) {
        violation("first frame is not a basic_info message", 1002);
        return null;
      }
      return message;
    }

    private @Nullable JsonNode parse(ByteString payload) {
      try {
        return Json.readFrozen(payload.toByteArray());
      } catch (IOException e) {
        return null;
      }
    }

    private NodeInfo nodeInfo(JsonNode basicInfo) {
      String subject = "";
      Handshake handshake = request.getHandshake();
      if (handshake != null) {
        for (Certificate c : handshake.peerCertificates()) {
          subject = ((X509Certificate) c).getSubjectX500Principal().getName();
          break;
        }
      }
      return new NodeInfo(
          nodeId,
          Objects.requireNonNullElse(request.getUrl().queryParameter("node_hostname"), ""),
          Objects.requireNonNullElse(request.getUrl().queryParameter("node_version"), ""),
          basicInfo,
          subject,
          0);
    }

    void send(WebSocketFrame frame) {
      try {
        writer.write(frame);
        if (frame.opcode() == WebSocketFrame.OP_BINARY) {
          int sent = configFrames.incrementAndGet();
          NodeInfo i = info;
          if (i != null) {
            info =
                new NodeInfo(
                    i.nodeId(),
                    i.hostname(),
                    i.version(),
                    i.basicInfo(),
                    i.clientCertificateSubject(),
                    sent);
          }
        }
      } catch (IOException e) {
        drop();
      }
    }

    void sendBytes(byte[] wire) {
      try {
        synchronized (writer) { // the writer's own lock: no frame is cut in two
          sink.write(wire);
          sink.flush();
        }
      } catch (IOException e) {
        drop();
      }
    }

    private void violation(String what, int closeCode) {
      violations.add(nodeId + ": " + what);
      try {
        writer.writeClose(closeCode, "protocol violation");
      } catch (IOException ignored) {
        // it is closing anyway
      }
    }

    void drop() {
      socket.cancel();
    }
  }
}

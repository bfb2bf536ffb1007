package dev.configsync.systest;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A data plane written by hand, holding a valid certificate but sending what it likes: any {@code
 * node_version} in its URL, any plugins and versions in {@code basic_info}, pings with a payload of
 * its choice. It speaks the protocol through the JDK's WebSocket client over mutual TLS, so the
 * control plane sees a real node, only a hostile one.
 */
final class HostileNode implements AutoCloseable {
  private final String nodeId = UUID.randomUUID().toString();
  private final AtomicInteger pongs = new AtomicInteger();
  private final CompletableFuture<String> closed = new CompletableFuture<>();
  private WebSocket socket;

  private HostileNode() {}

  /**
   * Connects to {@code cp} with a new certificate of {@code pki} and the given {@code
   * node_version}, and sends {@code basic_info} with {@code plugins} (name to version).
   *
   * @throws ExecutionException when the control plane refuses the connection (a 400, say)
   */
  static HostileNode connect(
      ControlPlaneProcess cp,
      PkiFiles pki,
      String name,
      String nodeVersion,
      Map<String, String> plugins)
      throws ExecutionException, InterruptedException, TimeoutException {
    HostileNode node = new HostileNode();
    URI uri =
        URI.create(
            cp.outlet()
                + "/v1/outlet?node_id="
                + node.nodeId
                + "&node_hostname="
                + name
                + "&node_version="
                + URLEncoder.encode(nodeVersion, StandardCharsets.UTF_8));
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(pki.clientContext(pki.issue(name)))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    node.socket =
        http.newWebSocketBuilder().buildAsync(uri, node.listener()).get(20, TimeUnit.SECONDS);
    ObjectNode info = AdminClient.JSON.createObjectNode().put("type", "basic_info");
    var list = info.putArray("plugins");
    plugins.forEach(
        (plugin, version) -> list.addObject().put("name", plugin).put("version", version));
    node.socket
        .sendBinary(ByteBuffer.wrap(info.toString().getBytes(StandardCharsets.UTF_8)), true)
        .get(20, TimeUnit.SECONDS);
    return node;
  }

  /** Sends a ping carrying {@code payload} (a node's running hash, or anything). */
  void ping(String payload) throws ExecutionException, InterruptedException, TimeoutException {
    socket
        .sendPing(ByteBuffer.wrap(payload.getBytes(StandardCharsets.UTF_8)))
        .get(20, TimeUnit.SECONDS);
  }

  String nodeId() {
    return nodeId;
  }

  int pongs() {
    return pongs.get();
  }

  /** Whether the control plane closed the connection (the reason, if so). */
  boolean isClosed() {
    return closed.isDone();
  }

  private WebSocket.Listener listener() {
    return new WebSocket.Listener() {
      @Override
      public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
        pongs.incrementAndGet();
        webSocket.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
        webSocket.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closed.complete(statusCode + " " + reason);
        return null;
      }

      @Override
      public void onError(WebSocket webSocket, Throwable error) {
        closed.complete(error.toString());
      }
    };
  }

  @Override
  public void close() {
    if (socket != null) {
      socket.abort();
    }
  }
}

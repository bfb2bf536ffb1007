package dev.configsync.cp;

import dev.configsync.internal.HybridProtocol;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.okhttp.internal.WebSocketFrame;
import dev.configsync.okhttp.internal.WebSocketFrameReader;
import dev.configsync.okhttp.internal.WebSocketFrameWriter;
import dev.configsync.okhttp.internal.WebSocketHandshake;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Map;
import java.util.UUID;
import javax.net.ssl.SSLSocket;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.ByteString;
import okio.Okio;

/**
 * A data plane written by hand for tests: TLS socket, HTTP upgrade and frames under the test's
 * control, so it can misbehave (wrong frames, silence, not reading).
 */
final class RawDataPlane implements java.io.Closeable {
  String nodeId = UUID.randomUUID().toString();
  final SSLSocket socket;
  final BufferedSource in;
  final BufferedSink out;
  final WebSocketFrameWriter writer;
  final WebSocketFrameReader reader;
  String responseStatus = "";

  private RawDataPlane(SSLSocket socket) throws IOException {
    this.socket = socket;
    this.in = Okio.buffer(Okio.source(socket.getInputStream()));
    this.out = Okio.buffer(Okio.sink(socket.getOutputStream()));
    this.writer = new WebSocketFrameWriter(out, true, new SecureRandom());
    this.reader = new WebSocketFrameReader(in, false, 64L << 20);
  }

  /** Connects and sends the upgrade request; {@link #upgraded()} tells whether it was accepted. */
  static RawDataPlane connect(TlsConfig tls, InetSocketAddress cp, String query, int receiveBuffer)
      throws IOException {
    SSLSocket socket = (SSLSocket) tls.sslSocketFactory().createSocket();
    if (receiveBuffer > 0) {
      socket.setReceiveBufferSize(receiveBuffer);
    }
    socket.connect(cp, 5000);
    socket.setSoTimeout(10_000);
    socket.startHandshake();
    RawDataPlane dp = new RawDataPlane(socket);
    dp.upgrade(query);
    return dp;
  }

  static RawDataPlane connect(TlsConfig tls, InetSocketAddress cp, String version)
      throws IOException {
    return connect(tls, cp, null, version, 0);
  }

  static RawDataPlane connect(
      TlsConfig tls, InetSocketAddress cp, String nodeId, String version, int receiveBuffer)
      throws IOException {
    String id = nodeId == null ? UUID.randomUUID().toString() : nodeId;
    RawDataPlane dp =
        connect(
            tls,
            cp,
            "/v1/outlet?node_id="
                + id
                + "&node_hostname=raw-"
                + id.substring(0, 8)
                + "&node_version="
                + version,
            receiveBuffer);
    dp.nodeId = id;
    return dp;
  }

  private void upgrade(String pathAndQuery) throws IOException {
    String key = WebSocketHandshake.newKey(new SecureRandom());
    out.writeUtf8(
        "GET "
            + pathAndQuery
            + " HTTP/1.1\r\n"
            + "Host: localhost\r\n"
            + "Connection: Upgrade\r\n"
            + "Upgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: "
            + key
            + "\r\n\r\n");
    out.flush();
    responseStatus = in.readUtf8LineStrict();
    for (String line = in.readUtf8LineStrict(); !line.isEmpty(); line = in.readUtf8LineStrict()) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("sec-websocket-accept:")
          && !line.substring(line.indexOf(':') + 1)
              .trim()
              .equals(WebSocketHandshake.acceptFor(key))) {
        throw new IOException("bad Sec-WebSocket-Accept: " + line);
      }
    }
  }

  boolean upgraded() {
    return responseStatus.startsWith("HTTP/1.1 101");
  }

  /** The body of a refused upgrade (read after {@link #upgraded()} is false). */
  String body() throws IOException {
    return in.readUtf8();
  }

  void sendBasicInfo(Map<String, String> plugins) throws IOException {
    writer.writeBinary(ByteString.of(HybridProtocol.basicInfo(plugins, Map.of())));
  }

  /** A {@code basic_info} that announces configsync's incremental sync. */
  void sendBasicInfoWithDeltas() throws IOException {
    writer.writeBinary(ByteString.of(HybridProtocol.basicInfo(Map.of(), Map.of(), true)));
  }

  void ping(String hash) throws IOException {
    writer.writePing(ByteString.encodeString(hash, StandardCharsets.US_ASCII));
  }

  WebSocketFrame read() throws IOException {
    return reader.readFrame();
  }

  /** Reads frames until a close frame; returns it. */
  WebSocketFrame readUntilClose() throws IOException {
    while (true) {
      WebSocketFrame f = reader.readFrame();
      if (f.opcode() == WebSocketFrame.OP_CLOSE) {
        return f;
      }
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}

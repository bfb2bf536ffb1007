package dev.configsync.bench;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A minimal HTTP/1.1 client for the control plane's admin API, for latency rows: one keep-alive
 * connection with Nagle's algorithm off, each request written whole in one call (headers and body
 * together) on the calling thread, its answer read on the same thread. The JDK's {@code HttpClient}
 * hands each request to its selector thread and wrote the headers and the body in two writes about
 * a millisecond apart on this machine, all of it inside the measured time and none of it the
 * product's. Answers must carry a {@code Content-Length} (the admin API's do). Not thread-safe.
 */
final class RawAdminClient implements Closeable {
  private final Socket socket;
  private final OutputStream out;
  private final InputStream in;
  private final String host;

  RawAdminClient(InetSocketAddress admin) throws IOException {
    socket = new Socket();
    socket.setTcpNoDelay(true);
    socket.connect(
        new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), admin.getPort()), 10_000);
    socket.setSoTimeout(60_000);
    out = socket.getOutputStream();
    in = new java.io.BufferedInputStream(socket.getInputStream(), 64 * 1024);
    host = "127.0.0.1:" + admin.getPort();
  }

  /** The request bytes of {@code PUT /config/{collection}/{key}}, ready to {@link #send}. */
  byte[] put(String collection, String key, byte[] entity) {
    String head =
        "PUT /config/"
            + collection
            + "/"
            + URLEncoder.encode(key, StandardCharsets.UTF_8)
            + " HTTP/1.1\r\nHost: "
            + host
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + entity.length
            + "\r\n\r\n";
    byte[] h = head.getBytes(StandardCharsets.US_ASCII);
    byte[] request = new byte[h.length + entity.length];
    System.arraycopy(h, 0, request, 0, h.length);
    System.arraycopy(entity, 0, request, h.length, entity.length);
    return request;
  }

  /** Writes {@code request} in one call and returns the answer's body; fails unless 200. */
  String send(byte[] request) throws IOException {
    out.write(request);
    out.flush();
    String status = line();
    long length = -1;
    for (String header = line(); !header.isEmpty(); header = line()) {
      int colon = header.indexOf(':');
      if (colon > 0
          && header.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length")) {
        length = Long.parseLong(header.substring(colon + 1).trim());
      }
    }
    if (length < 0) {
      throw new IOException("an answer without Content-Length: " + status);
    }
    byte[] body = in.readNBytes((int) length);
    if (body.length != length) {
      throw new IOException("the connection closed in an answer");
    }
    String text = new String(body, StandardCharsets.UTF_8);
    if (!status.startsWith("HTTP/1.1 200 ")) {
      throw new IOException(status + ": " + text);
    }
    return text;
  }

  private String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(128);
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new IOException("the connection closed in an answer");
      }
      if (c != '\r') {
        b.write(c);
      }
    }
    return b.toString(StandardCharsets.US_ASCII);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}

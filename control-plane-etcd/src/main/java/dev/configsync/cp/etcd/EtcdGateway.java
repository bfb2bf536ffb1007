package dev.configsync.cp.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.function.Consumer;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocketFactory;
import org.jspecify.annotations.Nullable;

/**
 * A small client of etcd's v3 JSON gateway ({@code POST /v3/kv/range}, {@code /v3/kv/txn}, {@code
 * /v3/watch}, {@code /v3/lease/*}), served by every etcd member on its client URL. Keys and values
 * travel base64-encoded; 64-bit numbers as JSON strings.
 *
 * <p>Failover: a call goes to the member that last answered and, when that member cannot be reached
 * or says it has no leader, to the next one, until one answers or {@code timeout} has passed. A
 * call that may have been applied without an answer ({@link Call#ONCE}) is not sent again once its
 * request was written.
 *
 * <p>Uses {@link HttpURLConnection}: blocking, on the caller's thread, with no thread of its own to
 * stop (the JDK 17 {@code HttpClient} cannot be closed). Thread-safe.
 */
final class EtcdGateway {
  static final ObjectMapper JSON = new ObjectMapper();

  /** Whether a call may be repeated after its request reached a member. */
  enum Call {
    /** Reads, lease keep-alives, and writes whose repetition is harmless. */
    IDEMPOTENT,
    /** A compare-and-set: sent again only when it certainly did not reach a member. */
    ONCE
  }

  /** etcd refused the request (an error it would give again): no failover. */
  static final class EtcdException extends IOException {
    private static final long serialVersionUID = 1L;
    final int code;

    EtcdException(int code, String message) {
      super(message);
      this.code = code;
    }
  }

  /** A call that reached a member but got no answer: it may or may not have been applied. */
  static final class OutcomeUnknownException extends IOException {
    private static final long serialVersionUID = 1L;

    OutcomeUnknownException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private final List<URI> endpoints;
  private final Duration timeout;
  private final @Nullable SSLSocketFactory ssl;
  private volatile int preferred;

  EtcdGateway(List<URI> endpoints, Duration timeout, @Nullable SSLSocketFactory ssl) {
    this.endpoints = List.copyOf(endpoints);
    this.timeout = timeout;
    this.ssl = ssl;
  }

  List<URI> endpoints() {
    return endpoints;
  }

  /** Makes the next call start with another member (after a watch on this one broke). */
  void avoid(URI endpoint) {
    int i = endpoints.indexOf(endpoint);
    if (i >= 0 && preferred == i) {
      preferred = (i + 1) % endpoints.size();
    }
  }

  /**
   * POSTs {@code body} to {@code path} and returns the answer.
   *
   * @throws EtcdException when etcd refused it
   * @throws OutcomeUnknownException when a {@link Call#ONCE} call got no answer after it was sent
   * @throws IOException when no member answered within the timeout
   */
  JsonNode call(String path, ObjectNode body, Call kind) throws IOException {
    byte[] request = JSON.writeValueAsBytes(body);
    long deadline = System.nanoTime() + timeout.toNanos();
    IOException last = null;
    int tlsRefusals = 0;
    int start = preferred;
    for (int attempt = 0; ; attempt++) {
      int index = (start + attempt) % endpoints.size();
      URI endpoint = endpoints.get(index);
      long left = deadline - System.nanoTime();
      if (left <= 0 || (attempt > 0 && attempt % endpoints.size() == 0 && !pause(deadline))) {
        break;
      }
      left = Math.max(deadline - System.nanoTime(), 1_000_000);
      HttpURLConnection c = open(endpoint, path, (int) Math.max(1, left / 1_000_000));
      boolean sent = false;
      try {
        c.setFixedLengthStreamingMode(request.length); // also stops the JDK's silent POST retry
        c.connect();
        try (OutputStream out = c.getOutputStream()) {
          out.write(request);
        }
        sent = true;
        int status = c.getResponseCode();
        JsonNode answer = readBody(status < 400 ? c.getInputStream() : c.getErrorStream());
        if (status == 200) {
          preferred = index;
          return answer;
        }
        int code = answer.path("code").asInt(-1);
        String message =
            answer.path("message").asText(answer.path("error").asText("HTTP " + status));
        if (kind == Call.ONCE && message.contains("timed out")) {
          // etcd gave up waiting for its own commit: the write may still be applied.
          throw new OutcomeUnknownException(
              "etcd at " + endpoint + " timed out on a write it may have applied: " + message,
              new IOException(message));
        }
        if (retryable(code, message)) {
          // Not applied (no leader, member stopping): another member may do better.
          last = new IOException(endpoint + ": " + message);
          continue;
        }
        throw new EtcdException(code, message);
      } catch (EtcdException | OutcomeUnknownException e) {
        throw e;
      } catch (IOException e) {
        last = new IOException(endpoint + ": " + describe(e), e);
        if (tlsRefused(e)) {
          // A certificate refused (by either side) is refused again: no point waiting for the
          // deadline once every member has said so. etcd did not process the request.
          if (++tlsRefusals >= endpoints.size()) {
            throw new IOException(
                "every etcd member refused the TLS handshake (check the CA, certificate and key):"
                    + " "
                    + last.getMessage(),
                e);
          }
          continue;
        }
        if (sent && kind == Call.ONCE && !(e instanceof ConnectException)) {
          throw new OutcomeUnknownException(
              "etcd at " + endpoint + " did not answer a write it may have applied: " + describe(e),
              e);
        }
      } finally {
        c.disconnect();
      }
    }
    throw new IOException(
        "no etcd member answered within "
            + timeout.toMillis()
            + " ms (tried "
            + endpoints
            + ")"
            + (last == null ? "" : "; last error: " + last.getMessage()),
        last);
  }

  /**
   * Whether {@code e} is a TLS handshake refusal: a certificate this side does not trust, or a
   * fatal alert from the member (no client certificate, or one it does not trust).
   */
  static boolean tlsRefused(IOException e) {
    // HttpURLConnection may wrap it ("Error writing request body to server"): look at the causes.
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SSLHandshakeException) {
        return true;
      }
      if (t instanceof SSLException) {
        String m = String.valueOf(t.getMessage());
        if (m.contains("fatal alert") || m.contains("certificate")) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean pause(long deadline) {
    long nap = Math.min(100_000_000L, deadline - System.nanoTime());
    if (nap <= 0) {
      return false;
    }
    try {
      Thread.sleep(nap / 1_000_000, (int) (nap % 1_000_000));
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** gRPC codes 14 (unavailable) and 4 (deadline), and etcd's "no leader" family. */
  private static boolean retryable(int code, String message) {
    return code == 14
        || code == 4
        || message.contains("no leader")
        || message.contains("leader changed")
        || message.contains("not capable")
        || message.contains("stopped");
  }

  /**
   * Opens a watch stream with {@code createRequest} on the preferred member and hands every
   * response to {@code onResponse}, on the calling thread, until the stream ends, fails, or {@link
   * WatchStream#cancel()} is called. Asks etcd to end the stream when the member loses its leader,
   * so that a member cut off from the others cannot keep the watch silently stale.
   */
  WatchStream openWatch(ObjectNode createRequest, Duration silence) throws IOException {
    int index = preferred;
    URI endpoint = endpoints.get(index);
    HttpURLConnection c = open(endpoint, "/v3/watch", (int) timeout.toMillis());
    // The store writes its own heartbeat under the watched prefix more often than "silence": a
    // stream that hears nothing for that long is stale (a member cut off behind a network fault)
    // and fails with a read timeout. (A blocked read cannot be cancelled from another thread:
    // HttpURLConnection.disconnect() waits for the reader's lock.)
    c.setReadTimeout((int) Math.max(1, silence.toMillis()));
    c.setRequestProperty("Grpc-Metadata-hasleader", "true");
    WatchStream watch = new WatchStream(endpoint, c);
    byte[] request =
        JSON.writeValueAsBytes(JSON.createObjectNode().set("create_request", createRequest));
    try {
      c.setFixedLengthStreamingMode(request.length);
      c.connect();
      try (OutputStream out = c.getOutputStream()) {
        out.write(request);
      }
      int status = c.getResponseCode();
      if (status != 200) {
        JsonNode answer = readBody(c.getErrorStream());
        throw new IOException(
            endpoint + ": watch refused: " + answer.path("message").asText("HTTP " + status));
      }
      return watch;
    } catch (IOException e) {
      c.disconnect();
      avoid(endpoint);
      throw e;
    }
  }

  /** One open watch stream. */
  static final class WatchStream {
    final URI endpoint;
    final long openedNanos = System.nanoTime();
    private final HttpURLConnection connection;
    private volatile boolean established;

    WatchStream(URI endpoint, HttpURLConnection connection) {
      this.endpoint = endpoint;
      this.connection = connection;
    }

    /** Reads responses until the stream ends (returns) or breaks (throws). */
    void read(Consumer<JsonNode> onResponse) throws IOException {
      try (BufferedReader lines =
          new BufferedReader(
              new InputStreamReader(connection.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = lines.readLine()) != null) {
          if (line.isBlank()) {
            continue;
          }
          established = true;
          JsonNode message = JSON.readTree(line);
          JsonNode error = message.path("error");
          if (!error.isMissingNode() && !error.isNull()) {
            throw new IOException(
                endpoint + ": watch ended: " + error.path("message").asText(error.toString()));
          }
          onResponse.accept(message.path("result"));
        }
      }
    }

    /** Whether etcd has answered on this stream yet (it does at once when it works). */
    boolean established() {
      return established;
    }

    /** Closes the stream; only from the thread that reads it. */
    void close() {
      connection.disconnect();
    }
  }

  private HttpURLConnection open(URI endpoint, String path, int timeoutMillis) throws IOException {
    HttpURLConnection c = (HttpURLConnection) endpoint.resolve(path).toURL().openConnection();
    if (ssl != null && c instanceof HttpsURLConnection https) {
      https.setSSLSocketFactory(ssl);
    }
    c.setRequestMethod("POST");
    c.setDoOutput(true);
    c.setUseCaches(false);
    c.setInstanceFollowRedirects(false);
    c.setConnectTimeout(timeoutMillis);
    c.setReadTimeout(timeoutMillis);
    c.setRequestProperty("Content-Type", "application/json");
    c.setRequestProperty("Accept", "application/json");
    return c;
  }

  private static JsonNode readBody(@Nullable InputStream in) throws IOException {
    if (in == null) {
      return JSON.createObjectNode();
    }
    try (InputStream body = in) {
      byte[] bytes = body.readAllBytes();
      return bytes.length == 0 ? JSON.createObjectNode() : JSON.readTree(bytes);
    }
  }

  static String describe(IOException e) {
    if (e instanceof ConnectException || e instanceof NoRouteToHostException) {
      return "connection refused";
    }
    if (e instanceof SocketTimeoutException) {
      return "timed out";
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  // ---- encoding --------------------------------------------------------------------------------

  static String b64(String text) {
    return b64(text.getBytes(StandardCharsets.UTF_8));
  }

  static String b64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }

  static byte[] bytes(JsonNode base64) {
    String text = base64.asText("");
    return text.isEmpty() ? new byte[0] : Base64.getDecoder().decode(text);
  }

  static String text(JsonNode base64) {
    return new String(bytes(base64), StandardCharsets.UTF_8);
  }

  /** The range end that selects every key starting with {@code prefix}. */
  static String prefixEnd(String prefix) {
    byte[] b = prefix.getBytes(StandardCharsets.UTF_8);
    for (int i = b.length - 1; i >= 0; i--) {
      if (b[i] != (byte) 0xff) {
        byte[] end = java.util.Arrays.copyOf(b, i + 1);
        end[i]++;
        return b64(end);
      }
    }
    return b64(new byte[] {0});
  }
}

package dev.configsync.okhttp;

import dev.configsync.okhttp.internal.WebSocketFrame;
import dev.configsync.okhttp.internal.WebSocketFrameReader;
import dev.configsync.okhttp.internal.WebSocketFrameWriter;
import dev.configsync.okhttp.internal.WebSocketHandshake;
import dev.configsync.okhttp.internal.WebSocketProtocolException;
import dev.configsync.spi.Transport;
import java.io.EOFException;
import java.io.IOException;
import java.net.ProtocolException;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.Handshake;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okio.BufferedSource;
import okio.ByteString;
import okio.Okio;
import okio.Socket;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One WebSocket connection: handshake and reads on its own thread, writes queued. */
final class OkHttpConnection implements Transport.Connection {
  /** How long the reader waits for the control plane to close after a protocol error. */
  static final long DRAIN_MILLIS = 1000;

  /** How much it reads, at most, meanwhile. */
  static final long DRAIN_BYTES = 1 << 20;

  private static final Logger log = LoggerFactory.getLogger(OkHttpConnection.class);

  /** How long to wait for the peer's close frame after sending ours. */
  private static final long CLOSE_WAIT_MILLIS = 1_000;

  /**
   * What one connection attempt uses: the client, with the TLS material current when the attempt
   * began, and why newer TLS files could not be used, if they could not.
   */
  record Attempt(
      OkHttpClient client, TlsConfig tls, @Nullable String tlsProblem, HandshakePhase phase) {}

  /** Notes how far the TLS handshake of the attempt got, to explain a connection cut then. */
  static final class HandshakePhase extends EventListener {
    private volatile boolean started;
    private volatile boolean secured;

    @Override
    public void secureConnectStart(Call call) {
      started = true;
    }

    @Override
    public void secureConnectEnd(Call call, @Nullable Handshake handshake) {
      secured = true;
    }

    /** Whether the TLS handshake began (TCP, and the proxy tunnel if any, are up). */
    boolean started() {
      return started;
    }

    /** Whether the TLS handshake completed, as far as this side can tell. */
    boolean secured() {
      return secured;
    }
  }

  private final Supplier<Attempt> attempts;
  private final Transport.ConnectRequest request;
  private final Transport.Listener listener;
  private final ExecutorService writers;
  private final SecureRandom random;
  private final AtomicBoolean terminated = new AtomicBoolean();
  private final AtomicReference<java.net.@Nullable Socket> rawSocket;
  private final CountDownLatch readerDone = new CountDownLatch(1);
  private final Object lock = new Object();

  // Guarded by lock.
  private @Nullable Call call;
  private @Nullable Socket socket;
  private @Nullable WebSocketFrameWriter writer;
  private final Queue<WebSocketFrame> outbox = new ArrayDeque<>();
  private boolean writing;
  private boolean closeQueued;
  private boolean cancelled;

  private volatile boolean closeSent;

  OkHttpConnection(
      Supplier<Attempt> attempts,
      Transport.ConnectRequest request,
      Transport.Listener listener,
      ExecutorService writers,
      SecureRandom random,
      AtomicReference<java.net.@Nullable Socket> rawSocket) {
    this.rawSocket = rawSocket;
    this.attempts = attempts;
    this.request = request;
    this.listener = listener;
    this.writers = writers;
    this.random = random;
  }

  void start() {
    Thread reader = new Thread(this::run, "configsync-ws-" + request.uri().getHost());
    reader.setDaemon(true);
    reader.start();
  }

  private static final long PROGRESS_INTERVAL_NANOS = 50_000_000;

  // ---- reader thread ----------------------------------------------------------------------

  private void run() {
    Attempt attempt;
    try {
      attempt = attempts.get(); // reads the TLS files: on this thread, never the caller's
    } catch (RuntimeException e) {
      fail(e);
      return;
    }
    Socket s;
    try {
      s = handshake(attempt.client());
    } catch (IOException | RuntimeException e) {
      fail(
          TlsFailures.describe(
              e, request.uri(), attempt.tls(), attempt.tlsProblem(), attempt.phase()));
      return;
    }
    if (s == null) {
      return; // cancelled while connecting
    }
    listener.onOpen();
    BufferedSource source = Okio.buffer(new ProgressSource(s.getSource()));
    // Liveness is the client's job (it cancels a silent connection), so reads wait for ever.
    source.timeout().clearTimeout();
    WebSocketFrameReader frames = new WebSocketFrameReader(source, false, request.maxFrameBytes());
    try {
      while (!terminated.get()) {
        WebSocketFrame frame = frames.readFrame();
        switch (frame.opcode()) {
          case WebSocketFrame.OP_BINARY -> listener.onBinary(frame.payload().toByteArray());
          case WebSocketFrame.OP_PONG -> listener.onPong(frame.payload().toByteArray());
          case WebSocketFrame.OP_PING -> {
            enqueue(WebSocketFrame.pong(frame.payload()));
            listener.onPing(frame.payload().toByteArray());
          }
          case WebSocketFrame.OP_CLOSE -> {
            int code = frame.closeCode();
            if (!closeSent) {
              writeCloseNow(code == WebSocketFrame.CLOSE_NO_STATUS ? 1000 : code, "");
            }
            terminate();
            if (terminated.compareAndSet(false, true)) {
              listener.onClosed(code, frame.closeReason());
            }
            return;
          }
          case WebSocketFrame.OP_TEXT ->
              throw new WebSocketProtocolException(
                  "the control plane sent a text frame; the protocol uses binary frames only",
                  WebSocketFrame.CLOSE_UNSUPPORTED_DATA);
          default ->
              throw new WebSocketProtocolException(
                  "unexpected frame " + WebSocketFrame.opcodeName(frame.opcode()),
                  WebSocketFrame.CLOSE_PROTOCOL_ERROR);
        }
      }
    } catch (WebSocketProtocolException e) {
      writeCloseNow(e.closeCode(), truncate(e.getMessage()));
      if (closeSent) {
        drainBeforeClosing(source);
      }
      fail(e);
    } catch (EOFException e) {
      fail(new EOFException("the control plane closed the connection without a close frame"));
    } catch (IOException | RuntimeException e) {
      fail(e);
    } finally {
      readerDone.countDown();
    }
  }

  /**
   * After this side's close frame for a protocol error (reader thread): reads and discards what the
   * control plane still sends, until it closes the connection, for at most {@link #DRAIN_MILLIS}
   * and {@link #DRAIN_BYTES}. Closing a socket with unread bytes (the rest of an oversized frame,
   * say) makes TCP reset the connection, and a reset can discard the close frame before the control
   * plane reads it: it would never learn why the node left.
   */
  private static void drainBeforeClosing(BufferedSource source) {
    try {
      source.timeout().timeout(DRAIN_MILLIS, TimeUnit.MILLISECONDS);
      source.timeout().deadline(DRAIN_MILLIS, TimeUnit.MILLISECONDS);
      okio.Buffer discard = new okio.Buffer();
      long drained = 0;
      while (drained < DRAIN_BYTES) {
        long n = source.read(discard, 8192);
        if (n < 0) {
          return; // the control plane closed the connection
        }
        drained += n;
        discard.clear();
      }
    } catch (IOException | RuntimeException e) {
      // timed out, or reset: the socket is dropped next either way
    }
  }

  /** Writes a close frame from the reader thread, best effort, before the socket is dropped. */
  private void writeCloseNow(int code, String reason) {
    WebSocketFrameWriter w;
    synchronized (lock) {
      if (closeQueued || cancelled) {
        return;
      }
      closeQueued = true;
      w = writer;
    }
    if (w != null) {
      try {
        w.writeClose(code, reason);
        closeSent = true;
      } catch (IOException | RuntimeException e) {
        log.debug("could not send close frame", e);
      }
    }
  }

  private @Nullable Socket handshake(OkHttpClient client) throws IOException {
    String key = WebSocketHandshake.newKey(random);
    Request upgrade =
        new Request.Builder()
            .url(request.uri().toString())
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", key)
            .build();
    Call c;
    synchronized (lock) {
      if (cancelled) {
        return null;
      }
      c = client.newCall(upgrade);
      call = c;
    }
    Response response = c.execute();
    if (response.code() != 101) {
      String body = "";
      try (response) {
        body = response.peekBody(200).string().strip();
      } catch (IOException | RuntimeException ignored) {
        // the status line says enough
      }
      throw new ProtocolException(
          "control plane answered the WebSocket upgrade with HTTP "
              + response.code()
              + (body.isEmpty() ? "" : ": " + body));
    }
    Socket s = response.socket();
    if (s == null) {
      throw new ProtocolException("101 response without an upgraded socket");
    }
    String accept = response.header("Sec-WebSocket-Accept");
    if (!"websocket".equalsIgnoreCase(response.header("Upgrade"))
        || !WebSocketHandshake.acceptFor(key).equals(accept)) {
      s.cancel();
      throw new ProtocolException(
          "control plane's upgrade response is not a valid WebSocket accept (Upgrade="
              + response.header("Upgrade")
              + ", Sec-WebSocket-Accept="
              + accept
              + ")");
    }
    synchronized (lock) {
      if (cancelled) {
        s.cancel();
        return null;
      }
      socket = s;
      writer = new WebSocketFrameWriter(Okio.buffer(s.getSink()), true, random);
    }
    return s;
  }

  // ---- sending ----------------------------------------------------------------------------

  @Override
  public boolean sendBinary(byte[] payload) {
    return enqueue(WebSocketFrame.binary(ByteString.of(payload)));
  }

  @Override
  public boolean sendPing(byte[] payload) {
    if (payload.length > WebSocketFrame.MAX_CONTROL_PAYLOAD) {
      throw new IllegalArgumentException("ping payload over 125 bytes: " + payload.length);
    }
    return enqueue(WebSocketFrame.ping(ByteString.of(payload)));
  }

  @Override
  public void close(int code, String reason) {
    enqueueClose(code, reason);
  }

  @Override
  public void cancel() {
    terminated.set(true); // the caller asked for it: no callback follows
    terminate();
  }

  private void enqueueClose(int code, String reason) {
    WebSocketFrame frame = WebSocketFrame.close(code, truncate(reason)); // checks the code first
    boolean open;
    synchronized (lock) {
      if (closeQueued) {
        return;
      }
      closeQueued = true;
      open = writer != null;
    }
    if (!open) {
      terminate(); // still connecting: nothing to say goodbye on, so abandon the attempt
      return;
    }
    enqueueAlways(frame);
  }

  private boolean enqueue(WebSocketFrame frame) {
    synchronized (lock) {
      if (writer == null || cancelled || closeQueued) {
        return false;
      }
    }
    return enqueueAlways(frame);
  }

  private boolean enqueueAlways(WebSocketFrame frame) {
    synchronized (lock) {
      if (writer == null || cancelled) {
        return false;
      }
      if (frame.opcode() == WebSocketFrame.OP_PONG) {
        // A peer that pings faster than we can write (or stops reading) must not grow the queue:
        // RFC 6455 section 5.5.3 lets us answer only the latest ping, so a new pong replaces any
        // pong still waiting.
        outbox.removeIf(queued -> queued.opcode() == WebSocketFrame.OP_PONG);
      }
      outbox.add(frame);
      if (writing) {
        return true;
      }
      writing = true;
    }
    try {
      writers.execute(this::drainOutbox);
    } catch (RejectedExecutionException e) {
      synchronized (lock) {
        writing = false;
        outbox.clear();
      }
      return false;
    }
    return true;
  }

  /** Frames queued and not yet handed to the socket; for tests. */
  int queuedFrames() {
    synchronized (lock) {
      return outbox.size();
    }
  }

  private void drainOutbox() {
    while (true) {
      WebSocketFrame frame;
      WebSocketFrameWriter w;
      synchronized (lock) {
        frame = outbox.poll();
        w = writer;
        if (frame == null || w == null || cancelled) {
          writing = false;
          outbox.clear();
          return;
        }
      }
      try {
        w.write(frame);
        if (frame.opcode() == WebSocketFrame.OP_CLOSE) {
          closeSent = true;
          // Give the peer a moment to answer with its close frame, then drop the socket.
          try {
            readerDone.await(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          terminate();
        }
      } catch (IOException e) {
        log.debug("write to control plane failed", e);
        synchronized (lock) {
          writing = false;
          outbox.clear();
        }
        fail(e);
        return;
      }
    }
  }

  // ---- ending -----------------------------------------------------------------------------

  private void fail(Throwable error) {
    terminate();
    if (terminated.compareAndSet(false, true)) {
      listener.onFailure(error);
    }
  }

  /** Releases the socket (or the call in flight). Idempotent; no callback. */
  private void terminate() {
    Call c;
    Socket s;
    synchronized (lock) {
      if (cancelled) {
        return;
      }
      cancelled = true;
      c = call;
      s = socket;
    }
    if (s != null) {
      s.cancel();
    }
    if (c != null) {
      c.cancel();
    }
    java.net.Socket raw = rawSocket.get();
    if (raw != null) {
      try {
        raw.close();
      } catch (IOException e) {
        log.debug("closing the socket failed", e);
      }
    }
  }

  private static String truncate(@Nullable String reason) {
    if (reason == null) {
      return "";
    }
    // A close reason must fit a control frame (123 bytes of UTF-8); stay well inside it, and never
    // cut a character in two.
    String cut = reason;
    while (cut.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 60) {
      int end = cut.offsetByCodePoints(0, cut.codePointCount(0, cut.length()) - 1);
      cut = cut.substring(0, end);
    }
    return cut;
  }

  /**
   * Reports bytes that arrive while a frame is incomplete, at most every {@link
   * #PROGRESS_INTERVAL_NANOS}, so the client's silence check sees a large frame on a slow link as a
   * live peer.
   */
  private final class ProgressSource extends okio.ForwardingSource {
    private long lastReport = System.nanoTime();

    ProgressSource(okio.Source delegate) {
      super(delegate);
    }

    @Override
    public long read(okio.Buffer sink, long byteCount) throws IOException {
      long read = super.read(sink, byteCount);
      if (read > 0) {
        long now = System.nanoTime();
        if (now - lastReport >= PROGRESS_INTERVAL_NANOS && !terminated.get()) {
          lastReport = now;
          listener.onProgress();
        }
      }
      return read;
    }
  }
}

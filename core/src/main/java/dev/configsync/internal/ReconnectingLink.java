package dev.configsync.internal;

import dev.configsync.ReconnectBackoff;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.Transport;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.LongFunction;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One reconnecting connection to the control plane, the mechanism both of a client's streams use
 * (the configuration stream on {@code /v1/outlet} and usage telemetry on {@code /v1/ingest}): a
 * replica picked at random for every attempt, a handshake timer, heartbeat pings, dead detection on
 * silence, and the reconnect delay. What the stream says on the connection, and when it dials
 * again, is its owner's ({@link Handler}). Not API.
 *
 * <p><b>Threading.</b> Confined to its owner's serial context ({@code context}): every method must
 * be called from a task of it, and every {@link Handler} call and timer runs as one. Transport and
 * timer callbacks are posted there tagged with the connection's epoch; those of a connection that
 * has ended are dropped, so a late frame, close or timer of an old connection never reaches the
 * owner.
 */
public final class ReconnectingLink {
  private static final Logger log = LoggerFactory.getLogger(ReconnectingLink.class);

  /**
   * What a link needs.
   *
   * @param transport dials the control plane
   * @param scheduler timers and monotonic time
   * @param context the owner's serial context: every callback runs as one of its tasks
   * @param endpoints the replicas to pick from
   * @param backoff the reconnect delay
   * @param heartbeat how often to ping an open connection
   * @param deadAfter silence (no frame, no pong) after which an open connection is dropped
   * @param handshakeTimeout the longest an attempt may take to open
   * @param maxFrameBytes the largest frame accepted from the control plane
   * @param name what the connection is called in reasons, such as {@code "connection"}
   * @param silence the reason given when the connection is dropped for silence, from the silent
   *     milliseconds
   * @param pingPayload what each heartbeat ping carries
   */
  public record Settings(
      Transport transport,
      Scheduler scheduler,
      Executor context,
      ControlPlanes endpoints,
      ReconnectBackoff backoff,
      Duration heartbeat,
      Duration deadAfter,
      Duration handshakeTimeout,
      long maxFrameBytes,
      String name,
      LongFunction<String> silence,
      Supplier<byte[]> pingPayload) {}

  /** The owner's side; every call runs on the owner's context, for the current connection only. */
  public interface Handler {
    /** The connection opened; heartbeat pings and dead detection start after this returns. */
    void opened(Transport.Connection connection);

    /** A message arrived (the link has already noted that the peer is alive). */
    void received(byte[] payload);

    /** A ping or a pong arrived (the link has already noted that the peer is alive). */
    void heard();

    /** Part of a frame arrived: the peer is alive, though no message is complete. */
    void progress();

    /**
     * The connection failed, closed, timed out or went silent, and is gone (its timers cancelled).
     * The owner decides whether and when to dial again ({@link #retryDelay}, {@link #retryAfter}).
     */
    void lost(String reason);
  }

  private enum Phase {
    IDLE,
    CONNECTING,
    OPEN,
    CLOSED
  }

  private final Settings s;
  private final Handler handler;

  private Phase phase = Phase.IDLE;
  private int epoch;
  private Transport.@Nullable Connection connection;
  private @Nullable URI lastEndpoint;
  private int attemptsSinceData;
  private long lastReceivedNanos;
  private Scheduler.@Nullable Cancellable retryTimer;
  private Scheduler.@Nullable Cancellable handshakeTimer;
  private Scheduler.@Nullable Cancellable heartbeatTimer;
  private Scheduler.@Nullable Cancellable deadTimer;
  // The owner's timers for this connection (at most a few per connection): cancelled as it ends.
  private final List<Scheduler.Cancellable> ownerTimers = new ArrayList<>();

  /** A link that dials nothing until {@link #nextEndpoint} and {@link #open}. */
  public ReconnectingLink(Settings settings, Handler handler) {
    this.s = settings;
    this.handler = handler;
  }

  /**
   * Starts an attempt: counts it, and picks the replica to dial (at random; never the one of the
   * attempt just before when there are several). Then {@link #open} dials it.
   */
  public URI nextEndpoint() {
    retryTimer = null;
    attemptsSinceData++;
    URI target = s.endpoints().pick(lastEndpoint);
    lastEndpoint = target;
    return target;
  }

  /** The attempts since the last connection that delivered data, this one included. */
  public int attemptsSinceData() {
    return attemptsSinceData;
  }

  /** The replica of the current or last attempt, if any. */
  public @Nullable URI endpoint() {
    return lastEndpoint;
  }

  /** Dials {@code uri} (the endpoint {@link #nextEndpoint} gave, with the stream's query). */
  public void open(URI uri) {
    phase = Phase.CONNECTING;
    int myEpoch = ++epoch;
    connection =
        s.transport()
            .connect(
                new Transport.ConnectRequest(uri, s.maxFrameBytes(), s.handshakeTimeout()),
                new Events(myEpoch));
    // The transport has its own timeouts; this one also covers a peer that accepts TCP and then
    // says nothing, whatever the transport does.
    handshakeTimer =
        schedule(
            s.handshakeTimeout(),
            () -> {
              if (phase == Phase.CONNECTING) {
                drop("connection not established within " + s.handshakeTimeout());
              }
            });
  }

  /** Whether the current connection is open. */
  public boolean isOpen() {
    return phase == Phase.OPEN;
  }

  /** The open connection, or null. */
  public Transport.@Nullable Connection openConnection() {
    return phase == Phase.OPEN ? connection : null;
  }

  /** A connection that delivered data: the next reconnect delay starts over from attempt 1. */
  public void resetBackoff() {
    attemptsSinceData = 0;
  }

  /** Notes that the peer is alive (for dead detection) without resetting the backoff. */
  public void alive() {
    lastReceivedNanos = s.scheduler().nanoTime();
  }

  /** Sends a heartbeat ping now, if the connection is open. */
  public void ping() {
    Transport.Connection c = connection;
    if (c != null && phase == Phase.OPEN) {
      c.sendPing(s.pingPayload().get());
    }
  }

  /**
   * Runs {@code task} on the owner's context after {@code delay}, if the current connection is
   * still the same then; cancelled when it ends.
   */
  public Scheduler.Cancellable onConnection(Duration delay, Runnable task) {
    Scheduler.Cancellable timer = schedule(delay, task);
    ownerTimers.add(timer);
    return timer;
  }

  private Scheduler.Cancellable schedule(Duration delay, Runnable task) {
    int myEpoch = epoch;
    Scheduler.Cancellable timer =
        s.scheduler()
            .schedule(
                () ->
                    s.context()
                        .execute(
                            () -> {
                              if (myEpoch == epoch) {
                                task.run();
                              }
                            }),
                delay);
    return timer;
  }

  /** The delay before the next attempt, drawn from the backoff (never negative). */
  public Duration retryDelay() {
    Duration d = s.backoff().delay(Math.max(1, attemptsSinceData));
    return d.isNegative() ? Duration.ZERO : d;
  }

  /** Runs {@code reconnect} on the owner's context after {@code delay}, unless closed first. */
  public void retryAfter(Duration delay, Runnable reconnect) {
    retryTimer = s.scheduler().schedule(() -> s.context().execute(reconnect), delay);
  }

  /**
   * Ends the current connection (and any pending retry) for good; {@code reason} goes to the peer.
   */
  public void close(String reason) {
    phase = Phase.CLOSED;
    cancel(retryTimer);
    retryTimer = null;
    Transport.Connection c = end();
    if (c != null) {
      try {
        c.close(1000, reason);
      } catch (RuntimeException e) {
        log.warn("configsync transport failed to close a connection", e);
        c.cancel();
      }
    }
  }

  /** Cancels the connection's timers and forgets it; anything still arriving from it is ignored. */
  private Transport.@Nullable Connection end() {
    cancel(handshakeTimer);
    cancel(heartbeatTimer);
    cancel(deadTimer);
    handshakeTimer = null;
    heartbeatTimer = null;
    deadTimer = null;
    ownerTimers.forEach(Scheduler.Cancellable::cancel);
    ownerTimers.clear();
    epoch++;
    Transport.Connection c = connection;
    connection = null;
    return c;
  }

  private void drop(String reason) {
    if (phase == Phase.CLOSED) {
      return;
    }
    phase = Phase.IDLE;
    Transport.Connection c = end();
    if (c != null) {
      c.cancel();
    }
    handler.lost(reason);
  }

  private void onOpen() {
    if (phase != Phase.CONNECTING || connection == null) {
      return;
    }
    Transport.Connection c = connection;
    cancel(handshakeTimer);
    handshakeTimer = null;
    phase = Phase.OPEN;
    lastReceivedNanos = s.scheduler().nanoTime();
    handler.opened(c);
    scheduleHeartbeat();
    scheduleDeadCheck(s.deadAfter());
  }

  private void scheduleHeartbeat() {
    heartbeatTimer =
        schedule(
            s.heartbeat(),
            () -> {
              if (phase == Phase.OPEN) {
                ping();
                scheduleHeartbeat();
              }
            });
  }

  private void scheduleDeadCheck(Duration delay) {
    deadTimer =
        schedule(
            delay,
            () -> {
              if (phase != Phase.OPEN) {
                return;
              }
              long silent = s.scheduler().nanoTime() - lastReceivedNanos;
              long limit = s.deadAfter().toNanos();
              if (silent >= limit) {
                drop(s.silence().apply(Duration.ofNanos(silent).toMillis()));
              } else {
                scheduleDeadCheck(Duration.ofNanos(limit - silent));
              }
            });
  }

  private static void cancel(Scheduler.@Nullable Cancellable timer) {
    if (timer != null) {
      timer.cancel();
    }
  }

  /** A failure as a reason: the exception's type, and its message when it has one. */
  public static String describe(Throwable error) {
    String message = error.getMessage();
    String type = error.getClass().getSimpleName();
    return message == null || message.isBlank() ? type : type + ": " + message;
  }

  /** The transport's callbacks for one connection, posted to the owner's context. */
  private final class Events implements Transport.Listener {
    private final int myEpoch;

    Events(int myEpoch) {
      this.myEpoch = myEpoch;
    }

    private void post(Runnable task) {
      s.context()
          .execute(
              () -> {
                if (myEpoch == epoch) {
                  task.run();
                }
              });
    }

    @Override
    public void onOpen() {
      post(ReconnectingLink.this::onOpen);
    }

    @Override
    public void onBinary(byte[] payload) {
      post(
          () -> {
            alive();
            handler.received(payload);
          });
    }

    @Override
    public void onPong(byte[] payload) {
      post(
          () -> {
            alive();
            handler.heard();
          });
    }

    @Override
    public void onPing(byte[] payload) {
      onPong(payload);
    }

    @Override
    public void onProgress() {
      post(handler::progress);
    }

    @Override
    public void onClosed(int code, String reason) {
      post(
          () ->
              drop(
                  "control plane closed the "
                      + s.name()
                      + " ("
                      + code
                      + (reason.isEmpty() ? "" : " " + reason)
                      + ")"));
    }

    @Override
    public void onFailure(Throwable error) {
      post(() -> drop(describe(error)));
    }
  }
}

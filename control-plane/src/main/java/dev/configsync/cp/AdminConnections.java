package dev.configsync.cp;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin API's connections: how many may be open, how long a request's head and body may take,
 * who may send one (the token, or loopback names only), how large its body may be, and the order of
 * the answers (one at a time, in the order the requests came, built off the event loop). What each
 * request gets is {@link AdminEndpoints}'s decision.
 *
 * <p>Threading: {@link #initChannel} runs on the accepting event loop; every handler runs on its
 * connection's event loop, so their fields need no locks. Answers are built on the executors given
 * (the publish thread for {@code PUT /config}, the read threads for {@code GET}s).
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class AdminConnections {
  private static final Logger log = LoggerFactory.getLogger(AdminConnections.class);

  /** How long a connection may move no byte before it is closed (unless it awaits an answer). */
  static final Duration IDLE = Duration.ofSeconds(60);

  private final AdminEndpoints endpoints;
  private final AdminConnectionCounts counts;
  private final byte @Nullable [] token;
  private final Executor publishes;
  private final Executor reads;
  private final boolean loopbackOnly;
  private final Duration headTimeout;
  private final Duration bodyTimeout;
  private final int maxConnections;
  private final int maxBodyBytes;

  /**
   * @param settings the admin API's token, address and limits (see their {@link
   *     ControlPlaneServer.Builder} methods)
   * @param publishes runs publishes ({@code PUT /config})
   * @param reads builds the answers to {@code GET}s: writing out a large configuration, or a large
   *     fleet's list, takes long enough that it must not hold up an event loop that also serves
   *     data planes
   */
  AdminConnections(
      AdminEndpoints endpoints,
      AdminConnectionCounts counts,
      ServerSettings settings,
      Executor publishes,
      Executor reads) {
    this.endpoints = endpoints;
    this.counts = counts;
    String secret = settings.adminToken;
    this.token = secret == null ? null : ("Bearer " + secret).getBytes(StandardCharsets.UTF_8);
    this.publishes = publishes;
    this.reads = reads;
    InetSocketAddress at = settings.admin;
    // Without a token, a loopback address serves only requests that name a loopback host.
    this.loopbackOnly =
        at != null && at.getAddress() != null && at.getAddress().isLoopbackAddress();
    this.headTimeout = settings.adminRequestHeadTimeout;
    this.bodyTimeout = settings.adminRequestBodyTimeout;
    this.maxConnections = settings.maxAdminConnections;
    this.maxBodyBytes = settings.maxAdminBodyBytes;
  }

  /**
   * An answer decided before the request reached the {@link Handler} (a 401, 403, 408 or 413 sent
   * from the request's head or while its body arrives): passed down the pipeline so that it is sent
   * in turn, after the answers to the requests before it, and then ends the connection (see {@link
   * HttpJson#sendAndLinger}).
   */
  record Refusal(FullHttpResponse response) {}

  /**
   * Sets up a new admin connection's pipeline. One over {@code maxConnections} is answered 503
   * {@code too_many_connections} at once and closed; the others get deadlines for each request's
   * head and body (see {@link RequestDeadline}), the idle check, the HTTP codec, the {@link Gate},
   * the body aggregator and the {@link Handler}.
   */
  void initChannel(SocketChannel ch) {
    int open = counts.open.incrementAndGet();
    ch.closeFuture().addListener(f -> counts.open.decrementAndGet());
    if (open > maxConnections) {
      counts.refused.increment();
      ch.pipeline()
          .addLast(
              "idle", new IdleStateHandler(true, 0, 0, headTimeout.toNanos(), TimeUnit.NANOSECONDS))
          .addLast("http", new HttpServerCodec())
          .addLast("too-many", new TooMany(open - 1));
      return;
    }
    RequestDeadline deadline = new RequestDeadline();
    ch.pipeline()
        // Reports a minute with no byte read or written (a slow reader of a large answer is not
        // idle); the admin handler then closes the connection unless it waits for an answer.
        .addLast("idle", new IdleStateHandler(true, 0, 0, IDLE.toNanos(), TimeUnit.NANOSECONDS))
        .addLast("head-clock", deadline.clock())
        .addLast("http", new HttpServerCodec())
        .addLast("head-done", deadline.done())
        .addLast("gate", new Gate())
        .addLast("aggregator", new AdminBodyAggregator(maxBodyBytes))
        .addLast("admin", new Handler());
  }

  /** A connection over the limit: answered 503 as soon as it opens, what it sends is dropped. */
  private final class TooMany extends ChannelInboundHandlerAdapter {
    private final int open;

    TooMany(int open) {
      this.open = open;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      log.debug("Refused an admin connection: {} are open (maxAdminConnections)", open);
      HttpJson.sendAndLinger(
          ctx,
          HttpJson.error(
              HttpResponseStatus.SERVICE_UNAVAILABLE,
              "too_many_connections",
              "the admin API has "
                  + maxConnections
                  + " connections open, its limit (maxAdminConnections); close idle ones and"
                  + " retry"));
      ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event instanceof IdleStateEvent) {
        ctx.close();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /** Which part of a request a {@link RequestDeadline} is waiting for. */
  private enum Phase {
    HEAD("head", "the request head (request line and headers)", "adminRequestHeadTimeout"),
    BODY("body", "the request body", "adminRequestBodyTimeout");

    final String part;
    final String what;
    final String setting;

    Phase(String part, String what, String setting) {
      this.part = part;
      this.what = what;
      this.setting = setting;
    }
  }

  /**
   * The deadlines for a request's head and body: a clock starts at the first byte of a request
   * (below the HTTP codec) and stops when the codec has read the head; then, for a request with a
   * body, a second clock runs until the body's last byte. A client that takes longer is answered
   * 408, in turn, and the connection ends; if it still sends bytes that long after, it is closed. A
   * clock does not run out while the connection reads nothing because an earlier answer is pending.
   */
  private final class RequestDeadline {
    private boolean awaitingHead = true;
    private boolean refused;
    private Phase phase = Phase.HEAD;
    private @Nullable ScheduledFuture<?> timer;
    private @Nullable ChannelHandlerContext doneCtx;

    ChannelHandler clock() {
      return new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          if (awaitingHead && timer == null) {
            phase = Phase.HEAD;
            arm(ctx);
          }
          ctx.fireChannelRead(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
          cancel();
          ctx.fireChannelInactive();
        }
      };
    }

    ChannelHandler done() {
      return new ChannelInboundHandlerAdapter() {
        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
          doneCtx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          if (msg instanceof HttpRequest request) {
            awaitingHead = false;
            if (!refused) {
              cancel();
              if (!(msg instanceof LastHttpContent) && mayHaveBody(request)) {
                phase = Phase.BODY;
                arm(ctx);
              }
            }
          }
          if (msg instanceof LastHttpContent) {
            awaitingHead = true;
            if (!refused && phase == Phase.BODY) {
              cancel();
              phase = Phase.HEAD;
            }
          }
          ctx.fireChannelRead(msg);
        }
      };
    }

    private boolean mayHaveBody(HttpRequest request) {
      return HttpUtil.isTransferEncodingChunked(request)
          || HttpUtil.getContentLength(request, 0L) != 0;
    }

    private Duration limit() {
      return phase == Phase.HEAD ? headTimeout : bodyTimeout;
    }

    private void arm(ChannelHandlerContext ctx) {
      timer = ctx.executor().schedule(() -> expired(ctx), limit().toNanos(), TimeUnit.NANOSECONDS);
    }

    private void cancel() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }

    private void expired(ChannelHandlerContext ctx) {
      timer = null;
      ChannelHandlerContext next = doneCtx;
      if (!ctx.channel().isActive() || next == null) {
        return;
      }
      if (!ctx.channel().config().isAutoRead()) {
        arm(ctx); // an earlier answer is pending, so nothing is read: not the client's delay
        return;
      }
      if (refused) {
        ctx.close();
        return;
      }
      refused = true;
      long millis = limit().toMillis();
      log.info(
          "Admin client {} did not send a complete request {} within {} ms ({}); answered 408",
          ctx.channel().remoteAddress(),
          phase.part,
          millis,
          phase.setting);
      next.fireChannelRead(
          new Refusal(
              HttpJson.error(
                  HttpResponseStatus.REQUEST_TIMEOUT,
                  "request_timeout",
                  phase.what
                      + " did not arrive within "
                      + millis
                      + " ms ("
                      + phase.setting
                      + ")"
                      + (phase == Phase.BODY ? "; nothing was published" : ""))));
      arm(ctx); // closes the connection if the client is still at it after another deadline
    }
  }

  /**
   * One admin connection. Requests are answered one at a time, in the order they came: a client
   * that sends several without waiting (HTTP pipelining) gets its answers in that order, and a
   * {@code GET} sent after a {@code PUT} sees what the {@code PUT} published. Answers that take
   * time are built off the event loop; while one is pending the connection reads nothing more from
   * the socket, and requests (or {@link Refusal}s) already read wait here. All fields are touched
   * on the connection's event loop only.
   */
  private final class Handler extends ChannelInboundHandlerAdapter {
    /** {@link FullHttpRequest}s and {@link Refusal}s, in the order they came. */
    private final ArrayDeque<Object> waiting = new ArrayDeque<>();

    private boolean answering;
    private boolean closing;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (closing || !(msg instanceof FullHttpRequest || msg instanceof Refusal)) {
        discard(msg);
        return;
      }
      waiting.add(msg);
      answerWaiting(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      endAnswering();
      ctx.fireChannelInactive();
    }

    /** No request on this connection will be answered any more: drops those still waiting. */
    private void endAnswering() {
      closing = true;
      for (Object m = waiting.poll(); m != null; m = waiting.poll()) {
        discard(m);
      }
    }

    /**
     * A connection on which nothing moves for a while (no byte read or written) is closed, unless
     * it waits for an answer (a publish may take longer than that): slow clients cannot hold
     * connections, or half-sent bodies, for ever. One whose answers have ended is closed as well.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event instanceof IdleStateEvent) {
        if (closing || (!answering && waiting.isEmpty())) {
          ctx.close();
        }
        return;
      }
      ctx.fireUserEventTriggered(event);
    }

    private void discard(Object msg) {
      ReferenceCountUtil.release(msg instanceof Refusal r ? r.response() : msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("Admin connection failed: {}", cause.toString());
      ctx.close();
    }

    private void answerWaiting(ChannelHandlerContext ctx) {
      while (!answering && !closing) {
        Object next = waiting.poll();
        if (next == null) {
          return;
        }
        if (next instanceof Refusal refusal) {
          endAnswering();
          HttpJson.sendAndLinger(ctx, refusal.response());
          return;
        }
        FullHttpRequest request = (FullHttpRequest) next;
        try {
          answer(ctx, request);
        } catch (RuntimeException e) {
          // Never leave a client waiting: whatever went wrong, it gets an answer.
          log.warn("An admin request failed", e);
          send(ctx, internalError(), false);
        } finally {
          request.release();
        }
      }
    }

    /**
     * Sends an answer now, or (for an answer built elsewhere) sets {@code answering} until sent.
     */
    private void answer(ChannelHandlerContext ctx, FullHttpRequest request) {
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      if (!request.decoderResult().isSuccess()) {
        send(
            ctx,
            HttpJson.error(HttpResponseStatus.BAD_REQUEST, "bad_request", "malformed HTTP request"),
            false);
        return;
      }
      // Authentication happened on the request's head, before its body was read (see Gate).
      AdminAnswer answer = endpoints.route(request);
      if (answer instanceof AdminAnswer.Now now) {
        send(ctx, now.response(), keepAlive && !now.close());
      } else if (answer instanceof AdminAnswer.Read read) {
        answerOn(
            reads,
            ctx,
            read.answer(),
            keepAlive,
            "the control plane is busy with earlier admin reads, or shutting down; retry");
      } else if (answer instanceof AdminAnswer.Publish publish) {
        answerOn(
            publishes,
            ctx,
            publish.answer(),
            keepAlive,
            "the control plane is busy with earlier publishes, or shutting down;"
                + " nothing was published; retry");
      }
    }

    private void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
      if (!keepAlive) {
        endAnswering(); // the connection ends with this answer: later requests go unanswered
      }
      HttpJson.send(ctx, response, keepAlive);
    }

    /**
     * Builds the answer on {@code executor}, off the event loop, and sends it from there (Netty
     * hands the write to the event loop); then the event loop goes on with the next request.
     */
    private void answerOn(
        Executor executor,
        ChannelHandlerContext ctx,
        Supplier<FullHttpResponse> answer,
        boolean keepAlive,
        String busy) {
      answering = true;
      ctx.channel().config().setAutoRead(false);
      try {
        executor.execute(
            () -> {
              FullHttpResponse response;
              boolean keep = keepAlive;
              Error fatal = null;
              try {
                response = answer.get();
              } catch (RuntimeException | Error e) {
                log.warn("An admin request failed", e);
                response = internalError();
                keep = false;
                fatal = e instanceof Error error ? error : null;
              }
              FullHttpResponse sent = response;
              boolean sentKeepAlive = keep;
              try {
                ctx.executor()
                    .execute(
                        () -> {
                          send(ctx, sent, sentKeepAlive);
                          answering = false;
                          ctx.channel().config().setAutoRead(true);
                          answerWaiting(ctx);
                        });
              } catch (RejectedExecutionException closed) {
                ReferenceCountUtil.release(sent); // the server is closing: no one to answer
              }
              if (fatal != null) {
                throw fatal; // answered; the executor's thread goes, as the error demands
              }
            });
      } catch (RejectedExecutionException e) {
        answering = false;
        send(ctx, HttpJson.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "busy", busy), false);
      }
    }
  }

  private static FullHttpResponse internalError() {
    return HttpJson.error(
        HttpResponseStatus.INTERNAL_SERVER_ERROR,
        "internal_error",
        "the request failed unexpectedly; the control plane's log has the details");
  }

  /**
   * Checks each request's head before its body is read, so that an unauthenticated client cannot
   * make the server buffer a body: a wrong or missing token is answered 401 and the connection
   * closed. Without a token on a loopback address, only requests naming a loopback host are served,
   * so a web page cannot reach the API through DNS rebinding.
   */
  private final class Gate extends ChannelInboundHandlerAdapter {
    private boolean refusing;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpRequest request) {
        String problem = refusal(request);
        if (problem != null) {
          refusing = true;
          ReferenceCountUtil.release(msg);
          boolean auth = problem.startsWith("missing or wrong");
          FullHttpResponse response =
              HttpJson.error(
                  auth ? HttpResponseStatus.UNAUTHORIZED : HttpResponseStatus.FORBIDDEN,
                  auth ? "unauthorized" : "forbidden",
                  problem);
          if (auth) {
            response.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"configsync\"");
          }
          // Answered in turn by the Handler; the refused body is dropped below.
          ctx.fireChannelRead(new Refusal(response));
          return;
        }
        refusing = false;
      } else if (refusing && !(msg instanceof Refusal)) {
        ReferenceCountUtil.release(msg); // the refused request's body: dropped
        return;
      }
      ctx.fireChannelRead(msg);
    }
  }

  private @Nullable String refusal(HttpRequest request) {
    if (token != null) {
      String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
      boolean ok =
          header != null
              && MessageDigest.isEqual(token, header.trim().getBytes(StandardCharsets.UTF_8));
      return ok ? null : "missing or wrong admin token: send 'Authorization: Bearer <token>'";
    }
    if (loopbackOnly) {
      String host = request.headers().get(HttpHeaderNames.HOST, "");
      String name =
          host.startsWith("[") ? host.substring(0, host.indexOf(']') + 1) : host.split(":", 2)[0];
      if (!(name.equals("localhost") || name.equals("127.0.0.1") || name.equals("[::1]"))) {
        return "without an admin token this API answers only requests for localhost, 127.0.0.1"
            + " or [::1] (Host header was '"
            + LogSafe.text(host, 100)
            + "'); set an admin token to serve other names";
      }
    }
    return null;
  }
}

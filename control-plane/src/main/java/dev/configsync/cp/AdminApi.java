package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigHashes;
import dev.configsync.ConfigSyncException;
import dev.configsync.cache.YamlConfigFormat;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP API: {@code PUT /config}, {@code GET /config}, {@code GET
 * /clustering/data-planes}, {@code GET /status}, {@code GET /usage}, {@code GET /metrics} (the
 * Prometheus text format, see {@link MetricsPage}). Every error is a 4xx or 5xx with a JSON body
 * {@code {"error": code, "message": text}}; a request that fails publishes nothing.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class AdminApi {
  private static final Logger log = LoggerFactory.getLogger(AdminApi.class);
  private static final Path BODY = Path.of("request body");

  private final ControlPlaneServer server;
  private final byte @Nullable [] token;
  private final Executor blocking;
  private final Executor reads;

  private final boolean loopbackOnly;
  private final java.time.Duration headTimeout;
  private final int maxConnections;
  private final java.util.concurrent.atomic.AtomicInteger connections =
      new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.LongAdder connectionsRefused =
      new java.util.concurrent.atomic.LongAdder();

  /**
   * @param blocking runs publishes ({@code PUT /config})
   * @param reads builds the answers to {@code GET}s: writing out a large configuration, or a large
   *     fleet's list, takes long enough that it must not hold up an event loop that also serves
   *     data planes
   */
  AdminApi(
      ControlPlaneServer server,
      @Nullable String token,
      Executor blocking,
      Executor reads,
      boolean loopbackOnly,
      java.time.Duration headTimeout,
      int maxConnections) {
    this.server = server;
    this.headTimeout = headTimeout;
    this.maxConnections = maxConnections;
    this.loopbackOnly = loopbackOnly;
    this.token = token == null ? null : ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
    this.blocking = blocking;
    this.reads = reads;
  }

  /**
   * An answer decided before the request reached the {@link Handler} (a 401, 403 or 413 sent from
   * the request's head): passed down the pipeline so that it is sent in turn, after the answers to
   * the requests before it, and then ends the connection (see {@link HttpJson#sendAndLinger}).
   */
  record Refusal(FullHttpResponse response) {}

  /**
   * Sets up a new admin connection's pipeline. One over {@code maxConnections} is answered 503
   * {@code too_many_connections} at once and closed; the others get a deadline for each request's
   * head (see {@link HeadDeadline}), the idle check, the HTTP codec, the {@link Gate}, the body
   * aggregator and the {@link Handler}.
   */
  void initChannel(io.netty.channel.socket.SocketChannel ch, int maxBodyBytes) {
    int open = connections.incrementAndGet();
    ch.closeFuture().addListener(f -> connections.decrementAndGet());
    if (open > maxConnections) {
      connectionsRefused.increment();
      ch.pipeline()
          .addLast(
              "idle",
              new io.netty.handler.timeout.IdleStateHandler(
                  true, 0, 0, headTimeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS))
          .addLast("http", new io.netty.handler.codec.http.HttpServerCodec())
          .addLast("too-many", new TooMany(open - 1));
      return;
    }
    HeadDeadline deadline = new HeadDeadline();
    ch.pipeline()
        // Reports a minute with no byte read or written (a slow reader of a large answer is not
        // idle); the admin handler then closes the connection unless it waits for an answer.
        .addLast(
            "idle",
            new io.netty.handler.timeout.IdleStateHandler(
                true, 0, 0, 60, java.util.concurrent.TimeUnit.SECONDS))
        .addLast("head-clock", deadline.clock())
        .addLast("http", new io.netty.handler.codec.http.HttpServerCodec())
        .addLast("head-done", deadline.done())
        .addLast("gate", gate())
        .addLast("aggregator", new AdminBodyAggregator(maxBodyBytes))
        .addLast("admin", handler());
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

  /**
   * The deadline for a request's head: a clock starts at the first byte of a request (below the
   * HTTP codec) and stops when the codec has read the head. A client that takes longer is answered
   * 408, in turn, and the connection ends; if it still sends bytes that long after, it is closed.
   * The clock does not run out while the connection reads nothing because an earlier answer is
   * pending.
   */
  private final class HeadDeadline {
    private boolean awaitingHead = true;
    private boolean refused;
    private io.netty.util.concurrent.@Nullable ScheduledFuture<?> timer;
    private @Nullable ChannelHandlerContext doneCtx;

    ChannelHandler clock() {
      return new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          if (awaitingHead && timer == null) {
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
          if (msg instanceof HttpRequest) {
            awaitingHead = false;
            cancel();
          }
          if (msg instanceof io.netty.handler.codec.http.LastHttpContent) {
            awaitingHead = true;
          }
          ctx.fireChannelRead(msg);
        }
      };
    }

    private void arm(ChannelHandlerContext ctx) {
      timer =
          ctx.executor()
              .schedule(
                  () -> expired(ctx),
                  headTimeout.toNanos(),
                  java.util.concurrent.TimeUnit.NANOSECONDS);
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
      log.info(
          "Admin client {} did not send a complete request head within {} ms"
              + " (adminRequestHeadTimeout); answered 408",
          ctx.channel().remoteAddress(),
          headTimeout.toMillis());
      next.fireChannelRead(
          new Refusal(
              HttpJson.error(
                  HttpResponseStatus.REQUEST_TIMEOUT,
                  "request_timeout",
                  "the request head (request line and headers) did not arrive within "
                      + headTimeout.toMillis()
                      + " ms (adminRequestHeadTimeout)")));
      arm(ctx); // closes the connection if the client is still at it after another deadline
    }
  }

  /** A new handler for one admin connection (it keeps that connection's queue of requests). */
  ChannelHandler handler() {
    return new Handler();
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

    /** Sends an answer now, or (for {@code answerOn}) sets {@code answering} until it is sent. */
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
      String path;
      try {
        path = new QueryStringDecoder(request.uri()).path();
      } catch (IllegalArgumentException e) {
        send(
            ctx,
            HttpJson.error(
                HttpResponseStatus.BAD_REQUEST,
                "bad_request",
                "the request target is not a valid URI ("
                    + LogSafe.text(String.valueOf(e.getMessage()), 100)
                    + ")"),
            false);
        return;
      }
      if (path.length() > 1 && path.endsWith("/")) {
        path = path.substring(0, path.length() - 1);
      }
      HttpMethod method = request.method();
      switch (path) {
        case "/config" -> {
          if (method.equals(HttpMethod.GET)) {
            get(ctx, method, AdminApi.this::getConfig, keepAlive);
          } else if (method.equals(HttpMethod.PUT) || method.equals(HttpMethod.POST)) {
            byte[] body = ByteBufUtil.getBytes(request.content());
            String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
            String ifMatch = request.headers().get(HttpHeaderNames.IF_MATCH);
            answerOn(
                blocking,
                ctx,
                () -> putConfig(body, type, ifMatch),
                keepAlive,
                "the control plane is busy with earlier publishes, or shutting down;"
                    + " nothing was published; retry");
          } else {
            send(ctx, notAllowed("GET, PUT"), keepAlive);
          }
        }
        case "/config/history" -> {
          String limit = firstParameter(request.uri(), "limit");
          get(ctx, method, () -> history(limit), keepAlive);
        }
        case "/clustering/data-planes" -> get(ctx, method, AdminApi.this::dataPlanes, keepAlive);
        case "/status" -> get(ctx, method, AdminApi.this::status, keepAlive);
        case "/usage" -> get(ctx, method, AdminApi.this::usage, keepAlive);
        case "/metrics" -> get(ctx, method, AdminApi.this::metrics, keepAlive);
        default ->
            send(
                ctx,
                HttpJson.error(
                    HttpResponseStatus.NOT_FOUND,
                    "not_found",
                    "no endpoint at "
                        + path
                        + "; the admin API has /config, /config/history,"
                        + " /clustering/data-planes, /status, /usage and /metrics"),
                keepAlive);
      }
    }

    private void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
      if (!keepAlive) {
        endAnswering(); // the connection ends with this answer: later requests go unanswered
      }
      HttpJson.send(ctx, response, keepAlive);
    }

    private void get(
        ChannelHandlerContext ctx,
        HttpMethod method,
        Supplier<FullHttpResponse> answer,
        boolean keepAlive) {
      if (method.equals(HttpMethod.GET)) {
        answerOn(
            reads,
            ctx,
            answer,
            keepAlive,
            "the control plane is busy with earlier admin reads, or shutting down; retry");
      } else {
        send(ctx, notAllowed("GET"), keepAlive);
      }
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
  ChannelHandler gate() {
    return new Gate();
  }

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

  private static FullHttpResponse notAllowed(String allow) {
    FullHttpResponse response =
        HttpJson.error(
            HttpResponseStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint accepts " + allow);
    response.headers().set(HttpHeaderNames.ALLOW, allow);
    return response;
  }

  private FullHttpResponse getConfig() {
    Optional<PublishedConfig> current = server.currentConfig();
    if (current.isEmpty()) {
      return HttpJson.error(
          HttpResponseStatus.NOT_FOUND, "no_config", "no configuration has been published yet");
    }
    FullHttpResponse response = HttpJson.response(HttpResponseStatus.OK, current.get().config());
    response.headers().set(HttpHeaderNames.ETAG, "\"" + current.get().hash() + "\"");
    response.headers().set("X-Config-Hash", current.get().hash());
    return response;
  }

  /** Runs on the admin executor: parsing, hashing, compressing and storing may take a while. */
  FullHttpResponse putConfig(byte[] body, @Nullable String contentType) {
    return putConfig(body, contentType, null);
  }

  /**
   * As {@link #putConfig(byte[], String)}; with an {@code If-Match} header (the {@code ETag} of
   * {@code GET /config}), publishes only if that is still the configuration in force.
   */
  FullHttpResponse putConfig(
      byte[] body, @Nullable String contentType, @Nullable String ifMatchHeader) {
    String expected = null;
    if (ifMatchHeader != null && !ifMatchHeader.isBlank() && !ifMatchHeader.trim().equals("*")) {
      expected = ifMatchHeader.trim();
      if (expected.startsWith("W/")) {
        expected = expected.substring(2);
      }
      if (expected.length() >= 2 && expected.startsWith("\"") && expected.endsWith("\"")) {
        expected = expected.substring(1, expected.length() - 1);
      }
      if (!dev.configsync.internal.ConfigHash.isValidHash(expected)) {
        return HttpJson.error(
            HttpResponseStatus.BAD_REQUEST,
            "invalid_if_match",
            "If-Match must be the quoted configuration hash from GET /config's ETag, not "
                + ifMatchHeader);
      }
    }
    String media =
        contentType == null ? "" : contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    JsonNode config;
    byte[] json = null; // the body, when it can go into the frame as it is
    try {
      try {
        switch (media) {
          case "application/json" -> {
            config = ControlPlaneServer.parseJson(body);
            json = ControlPlaneServer.isPlainUtf8(body) ? body : null;
          }
          case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml" ->
              config = new YamlConfigFormat().read(BODY, body, Integer.MAX_VALUE);
          default -> {
            server.publishStats().failed(PublishStats.Failure.INVALID);
            return HttpJson.error(
                HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json or application/yaml"
                    + (media.isEmpty() ? " (none was sent)" : ", not " + media));
          }
        }
      } catch (RuntimeException e) {
        server.publishStats().failed(e); // a body that cannot be read is a failed publish too
        throw e;
      } catch (IOException e) {
        server.publishStats().failed(PublishStats.Failure.INVALID);
        throw e;
      }
      PublishResult result = server.publishFrozen(config, expected, json);
      Map<String, Object> answer = new LinkedHashMap<>();
      answer.put("hash", result.hash());
      answer.put("hashes", hashes(result.hashes()));
      answer.put("changed", result.changed());
      answer.put("published_at", result.publishedAt().toString());
      answer.put("payload_bytes", result.payloadBytes());
      Published latest = server.outlet().latest();
      Outlet.Tally tally =
          server
              .outlet()
              .tally(
                  latest != null && latest.hash().equals(result.hash())
                      ? latest.plugins()
                      : Compatibility.pluginsUsed(config));
      // connected_data_planes = sent_to + every withheld count + awaiting_basic_info
      answer.put("connected_data_planes", tally.connected());
      answer.put("sent_to", tally.sent());
      Map<String, Integer> withheld = new TreeMap<>();
      tally.withheld().forEach((status, n) -> withheld.put(status.wireName(), n));
      answer.put("withheld", withheld);
      answer.put("awaiting_basic_info", tally.awaitingBasicInfo());
      return HttpJson.response(HttpResponseStatus.OK, answer);
    } catch (ConfigFileException e) {
      return HttpJson.error(HttpResponseStatus.BAD_REQUEST, "invalid_yaml", e.getMessage());
    } catch (InvalidConfigurationException e) {
      return e.isTooLarge()
          ? HttpJson.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "too_large", e.getMessage())
          : HttpJson.error(HttpResponseStatus.BAD_REQUEST, "invalid_config", e.getMessage());
    } catch (IOException e) {
      return HttpJson.error(
          HttpResponseStatus.BAD_REQUEST, "invalid_config", "cannot be read: " + e.getMessage());
    } catch (PublishConflictException e) {
      log.warn("Publish refused, conflict: {}", e.getMessage());
      Map<String, Object> answer = new LinkedHashMap<>();
      answer.put("error", "conflict");
      answer.put("message", e.getMessage());
      answer.put("current_hash", e.currentHash());
      FullHttpResponse response = HttpJson.response(HttpResponseStatus.CONFLICT, answer);
      response.headers().set(HttpHeaderNames.ETAG, "\"" + e.currentHash() + "\"");
      return response;
    } catch (PublishOutcomeUnknownException e) {
      // Not "nothing was published": the store may apply it, now or later.
      Map<String, Object> answer = new LinkedHashMap<>();
      answer.put("error", "publish_outcome_unknown");
      answer.put("message", e.getMessage());
      answer.put("attempted_hash", e.attemptedHash());
      server.currentConfig().ifPresent(c -> answer.put("current_hash", c.hash()));
      return HttpJson.response(HttpResponseStatus.GATEWAY_TIMEOUT, answer);
    } catch (ConfigSyncException e) {
      log.error("Publishing from the admin API failed: {}", e.getMessage());
      return HttpJson.error(
          HttpResponseStatus.SERVICE_UNAVAILABLE, "store_unavailable", e.getMessage());
    } catch (RuntimeException e) {
      if (server.isClosed()) {
        return HttpJson.error(
            HttpResponseStatus.SERVICE_UNAVAILABLE,
            "shutting_down",
            "the control plane is shutting down; nothing was published");
      }
      // A bug (in a validator, say) must still get an answer: the client would wait for ever.
      log.error("Publishing from the admin API failed unexpectedly", e);
      return HttpJson.error(
          HttpResponseStatus.INTERNAL_SERVER_ERROR,
          "internal_error",
          "publishing failed unexpectedly ("
              + e.getClass().getSimpleName()
              + "); nothing was published; the control plane's log has the details");
    }
  }

  /** The first value of query parameter {@code name}, or null. */
  private static @Nullable String firstParameter(String uri, String name) {
    List<String> values = new QueryStringDecoder(uri).parameters().get(name);
    return values == null || values.isEmpty() ? null : values.get(0);
  }

  /** {@code GET /config/history[?limit=N]}: the configurations that were in force, newest first. */
  private FullHttpResponse history(@Nullable String limitParameter) {
    int limit = 20;
    if (limitParameter != null) {
      try {
        limit = Integer.parseInt(limitParameter);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > ControlPlaneServer.MAX_HISTORY) {
        return HttpJson.error(
            HttpResponseStatus.BAD_REQUEST,
            "invalid_limit",
            "limit must be a whole number from 1 to "
                + ControlPlaneServer.MAX_HISTORY
                + ", not "
                + LogSafe.text(limitParameter, 40));
      }
    }
    List<ConfigVersion> versions;
    try {
      versions = server.history(limit);
    } catch (ConfigSyncException e) {
      return HttpJson.error(
          HttpResponseStatus.SERVICE_UNAVAILABLE, "store_unavailable", e.getMessage());
    }
    List<Map<String, Object>> data = new ArrayList<>();
    for (ConfigVersion v : versions) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("hash", v.hash());
      m.put("revision", v.revision());
      m.put("published_at", v.publishedAt().toString());
      m.put("replica", v.replica());
      data.add(m);
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("data", data);
    server.currentConfig().ifPresent(c -> answer.put("current_hash", c.hash()));
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  private FullHttpResponse dataPlanes() {
    List<Map<String, Object>> data = server.dataPlanes().stream().map(AdminApi::dataPlane).toList();
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("data", data);
    answer.put("next", null);
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  static Map<String, Object> dataPlane(DataPlaneInfo node) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", node.id());
    m.put("hostname", node.hostname());
    m.put("ip", node.address());
    m.put("version", node.version());
    m.put("labels", node.labels());
    m.put("plugins", node.capabilities());
    m.put("connected", node.connected());
    m.put("connected_since", node.connectedSince().toString());
    m.put("last_seen", node.lastSeen().getEpochSecond());
    m.put("last_seen_at", node.lastSeen().toString());
    m.put("config_hash", node.configHash());
    m.put("sync_status", node.syncStatus().wireName());
    m.put("sync_status_reason", node.syncStatusReason());
    node.lastError()
        .ifPresent(
            e -> {
              Map<String, Object> error = new LinkedHashMap<>();
              error.put("name", e.name());
              error.put("message", e.message());
              error.put("config_hash", e.configHash());
              error.put("at", e.at().toString());
              m.put("last_error", error);
            });
    return m;
  }

  private FullHttpResponse status() {
    Map<String, Object> answer = new LinkedHashMap<>();
    Optional<String> degraded = server.degradedReason();
    answer.put("status", degraded.isPresent() ? "degraded" : "ok");
    degraded.ifPresent(reason -> answer.put("degraded_reason", reason));
    answer.put("version", server.version());
    answer.put("started_at", server.startedAt().toString());
    Optional<PublishedConfig> current = server.currentConfig();
    answer.put("config_hash", current.map(PublishedConfig::hash).orElse(null));
    answer.put("published_at", current.map(c -> c.publishedAt().toString()).orElse(null));
    List<DataPlaneInfo> nodes = server.dataPlanes();
    Map<String, Object> planes = new LinkedHashMap<>();
    planes.put("connected", nodes.stream().filter(DataPlaneInfo::connected).count());
    planes.put("known", nodes.size());
    planes.put(
        "in_sync",
        current
            .map(c -> nodes.stream().filter(n -> n.connected() && n.configHash().equals(c.hash())))
            .map(s -> s.count())
            .orElse(0L));
    planes.put(
        "incompatible",
        nodes.stream()
            .filter(
                n ->
                    n.syncStatus() != DataPlaneSyncStatus.NORMAL
                        && n.syncStatus() != DataPlaneSyncStatus.UNKNOWN)
            .count());
    answer.put("data_planes", planes);
    answer.put("tls_mode", server.tls().mode().name().toLowerCase(Locale.ROOT));
    answer.put("store", server.storeDescription());
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  /** {@code GET /metrics}: the server's figures in the Prometheus text format. */
  private FullHttpResponse metrics() {
    byte[] page =
        MetricsPage.write(server, connections.get(), connectionsRefused.sum())
            .getBytes(StandardCharsets.UTF_8);
    FullHttpResponse response =
        new io.netty.handler.codec.http.DefaultFullHttpResponse(
            io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
            HttpResponseStatus.OK,
            io.netty.buffer.Unpooled.wrappedBuffer(page));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, MetricsPage.CONTENT_TYPE);
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, page.length);
    return response;
  }

  private FullHttpResponse usage() {
    // As server.fleetUsage(), from the same snapshot as the per-replica breakdown below.
    Map<String, UsageReport> byReplica = server.usageByReplica();
    UsageReport report = byReplica.isEmpty() ? server.usage() : UsageReport.sum(byReplica.values());
    List<Map<String, Object>> rows =
        report.rows().stream()
            .map(
                r -> {
                  Map<String, Object> m = new LinkedHashMap<>();
                  m.put("node_id", r.nodeId());
                  m.put("service", r.counts().service());
                  m.put("route", r.counts().route());
                  m.put("consumer", r.counts().consumer());
                  for (int k = 1; k <= 5; k++) {
                    m.put(k + "xx", r.counts().byClass(k));
                  }
                  m.put("total", r.counts().total());
                  return m;
                })
            .toList();
    Map<String, String> hostnames = new LinkedHashMap<>();
    server.dataPlanes().forEach(n -> hostnames.put(n.id(), n.hostname()));
    List<Map<String, Object>> billing =
        report.billing().stream()
            .map(
                b -> {
                  Map<String, Object> m = new LinkedHashMap<>();
                  m.put("node_id", b.nodeId());
                  m.put("hostname", hostnames.get(b.nodeId()));
                  m.put("period", b.day().toString());
                  m.put("api_calls", b.apiCalls());
                  m.put("services_configured", b.servicesConfigured());
                  return m;
                })
            .toList();
    Map<String, Object> batches = new LinkedHashMap<>();
    batches.put("accepted", report.batchesAccepted());
    batches.put("duplicates_ignored", report.duplicatesIgnored());
    batches.put("refused", report.batchesRefused());
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("usage", rows);
    answer.put("billing", billing);
    answer.put("api_calls", report.apiCalls());
    answer.put("batches", batches);
    answer.put("rows_over_limit", report.rowsOverLimit());
    List<Map<String, Object>> replicas = new ArrayList<>();
    new TreeMap<>(byReplica)
        .forEach(
            (name, r) -> {
              Map<String, Object> m = new LinkedHashMap<>();
              m.put("replica", name);
              m.put("api_calls", r.apiCalls());
              m.put("batches_accepted", r.batchesAccepted());
              m.put("duplicates_ignored", r.duplicatesIgnored());
              replicas.add(m);
            });
    answer.put("replicas", replicas);
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  private static Map<String, String> hashes(ConfigHashes h) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("config", h.config());
    m.put("routes", h.routes());
    m.put("services", h.services());
    m.put("plugins", h.plugins());
    m.put("upstreams", h.upstreams());
    m.put("targets", h.targets());
    return m;
  }
}

package dev.configsync.cp;

import dev.configsync.internal.Versions;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first HTTP request on a data plane port, before the WebSocket upgrade: routes {@code
 * /v1/outlet} to a {@link OutletSession} after checking the node's query parameters, and answers
 * anything else with a JSON error. Also logs failed TLS handshakes, and closes a connection that
 * does not upgrade within the handshake timeout.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class OutletHttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger log = LoggerFactory.getLogger(OutletHttpHandler.class);
  private static final Pattern UUID_TEXT =
      Pattern.compile(
          "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  static final String INGEST_PATH = "/v1/ingest";

  private final Outlet outlet;
  private final @Nullable UsageIngest ingest;
  private @Nullable ScheduledFuture<?> upgradeTimer;

  OutletHttpHandler(Outlet outlet) {
    this(outlet, null);
  }

  OutletHttpHandler(Outlet outlet, @Nullable UsageIngest ingest) {
    this.outlet = outlet;
    this.ingest = ingest;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    upgradeTimer =
        ctx.executor()
            .schedule(
                () -> {
                  log.info(
                      "Closing connection from {}: no WebSocket upgrade within {} ms",
                      address(ctx),
                      outlet.handshakeTimeout.toMillis());
                  ctx.close();
                },
                outlet.handshakeTimeout.toNanos(),
                TimeUnit.NANOSECONDS);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    cancelTimer();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancelTimer();
    ctx.fireChannelInactive();
  }

  private void cancelTimer() {
    ScheduledFuture<?> timer = upgradeTimer;
    if (timer != null) {
      timer.cancel(false);
      upgradeTimer = null;
    }
  }

  /** At most one failed TLS handshake is logged at INFO per this interval; the rest at DEBUG. */
  static final long TLS_FAILURE_INFO_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof SslHandshakeCompletionEvent done && !done.isSuccess()) {
      logTlsFailure(ctx, done.cause());
    }
    ctx.fireUserEventTriggered(evt);
  }

  /**
   * One short line, without what the peer sent: a plaintext request's bytes (Netty's hex dump in
   * {@link NotSslRecordException}) can carry an {@code Authorization} header. Rate-limited, since
   * any peer can fail a handshake as often as it connects.
   */
  private void logTlsFailure(ChannelHandlerContext ctx, @Nullable Throwable cause) {
    long now = System.nanoTime();
    long next = outlet.nextTlsFailureInfoNanos.get();
    if (now - next >= 0
        && outlet.nextTlsFailureInfoNanos.compareAndSet(
            next, now + TLS_FAILURE_INFO_INTERVAL_NANOS)) {
      int quiet = outlet.tlsFailuresAtDebug.getAndSet(0);
      log.info(
          "TLS handshake with {} failed: {}{}",
          address(ctx),
          safeFailure(cause),
          quiet == 0 ? "" : " (" + quiet + " more since the last such line, logged at DEBUG)");
    } else {
      outlet.tlsFailuresAtDebug.incrementAndGet();
      log.debug("TLS handshake with {} failed: {}", address(ctx), safeFailure(cause));
    }
  }

  /**
   * What went wrong, in a line fit for the log: never the peer's bytes (a {@link
   * NotSslRecordException}'s message is a hex dump of them), and at most 200 printable characters.
   */
  static String safeFailure(@Nullable Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof NotSslRecordException) {
        return "the peer did not speak TLS (plaintext sent to the TLS port?); what it sent is not"
            + " logged";
      }
    }
    return LogSafe.text(rootMessage(cause), 200);
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (!request.decoderResult().isSuccess()) {
      reject(ctx, HttpResponseStatus.BAD_REQUEST, "bad_request", "malformed HTTP request");
      return;
    }
    QueryStringDecoder query = new QueryStringDecoder(request.uri());
    String path = query.path();
    if (path.equals(dev.configsync.internal.HybridProtocol.OUTLET_PATH)) {
      outlet(ctx, request, query.parameters());
    } else if (path.equals(INGEST_PATH) && ingest != null) {
      ingest(ctx, request, query.parameters(), ingest);
    } else if (path.equals(INGEST_PATH)) {
      reject(
          ctx,
          HttpResponseStatus.NOT_IMPLEMENTED,
          "not_implemented",
          "telemetry ingest (" + INGEST_PATH + ") is not served by this control plane version");
    } else {
      reject(
          ctx,
          HttpResponseStatus.NOT_FOUND,
          "not_found",
          "no endpoint at " + path + "; data planes connect to /v1/outlet");
    }
  }

  private void outlet(
      ChannelHandlerContext ctx, FullHttpRequest request, Map<String, List<String>> params) {
    if (!request.method().equals(HttpMethod.GET)) {
      reject(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
      return;
    }
    String nodeId = single(params, "node_id");
    String hostname = single(params, "node_hostname");
    String version = single(params, "node_version");
    String problem = null;
    if (nodeId == null || !UUID_TEXT.matcher(nodeId).matches()) {
      problem = "node_id must be a UUID";
    } else if (hostname == null
        || hostname.isEmpty()
        || hostname.length() > 255
        || hostname.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      problem = "node_hostname must be 1 to 255 printable characters";
    } else if (version == null || version.length() > 64 || !Versions.isValid(version)) {
      problem = "node_version must be of the form MAJOR.MINOR[.PATCH], at most 64 characters";
    }
    if (problem != null || nodeId == null || hostname == null || version == null) {
      String why = problem == null ? "missing query parameters" : problem;
      log.info("Refused data plane connection from {}: {}", address(ctx), why);
      reject(ctx, HttpResponseStatus.BAD_REQUEST, "bad_request", why);
      return;
    }
    WebSocketServerHandshakerFactory factory =
        new WebSocketServerHandshakerFactory(
            "wss://" + request.headers().get(HttpHeaderNames.HOST, "localhost") + request.uri(),
            null,
            WebSocketDecoderConfig.newBuilder()
                .maxFramePayloadLength(outlet.maxInboundFrameBytes)
                .allowMaskMismatch(false)
                .allowExtensions(false)
                .closeOnProtocolViolation(true)
                .build());
    WebSocketServerHandshaker handshaker = factory.newHandshaker(request);
    if (handshaker == null) {
      WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
      return;
    }
    OutletSession session =
        new OutletSession(
            outlet,
            ctx.channel(),
            nodeId.toLowerCase(java.util.Locale.ROOT),
            hostname,
            version,
            hostAddress(ctx.channel().remoteAddress()),
            peerCertificate(ctx));
    // The session goes in first, so that no frame can arrive with nobody to read it.
    ctx.pipeline().addAfter(ctx.name(), "outlet-session", session);
    handshaker
        .handshake(ctx.channel(), request)
        .addListener(
            future -> {
              if (future.isSuccess()) {
                ctx.pipeline().remove(this);
                session.start();
              } else {
                log.info(
                    "WebSocket upgrade with {} failed: {}",
                    address(ctx),
                    safeFailure(future.cause()));
                ctx.close();
              }
            });
  }

  /** {@code /v1/ingest}: usage telemetry; only {@code node_id} is required. */
  private void ingest(
      ChannelHandlerContext ctx,
      FullHttpRequest request,
      Map<String, List<String>> params,
      UsageIngest usage) {
    if (!request.method().equals(HttpMethod.GET)) {
      reject(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
      return;
    }
    String nodeId = single(params, "node_id");
    if (nodeId == null || !UUID_TEXT.matcher(nodeId).matches()) {
      log.info("Refused usage connection from {}: node_id must be a UUID", address(ctx));
      reject(ctx, HttpResponseStatus.BAD_REQUEST, "bad_request", "node_id must be a UUID");
      return;
    }
    WebSocketServerHandshaker handshaker = handshaker(request);
    if (handshaker == null) {
      WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
      return;
    }
    IngestSession session =
        new IngestSession(
            usage,
            outlet,
            ctx.channel(),
            nodeId.toLowerCase(java.util.Locale.ROOT),
            hostAddress(ctx.channel().remoteAddress()));
    ctx.pipeline().addAfter(ctx.name(), "ingest-session", session);
    handshaker
        .handshake(ctx.channel(), request)
        .addListener(
            future -> {
              if (future.isSuccess()) {
                ctx.pipeline().remove(this);
                session.start();
              } else {
                log.info(
                    "WebSocket upgrade with {} failed: {}",
                    address(ctx),
                    safeFailure(future.cause()));
                ctx.close();
              }
            });
  }

  private @Nullable WebSocketServerHandshaker handshaker(FullHttpRequest request) {
    return new WebSocketServerHandshakerFactory(
            "wss://" + request.headers().get(HttpHeaderNames.HOST, "localhost") + request.uri(),
            null,
            WebSocketDecoderConfig.newBuilder()
                .maxFramePayloadLength(outlet.maxInboundFrameBytes)
                .allowMaskMismatch(false)
                .allowExtensions(false)
                .closeOnProtocolViolation(true)
                .build())
        .newHandshaker(request);
  }

  /**
   * The SHA-256 of the client certificate the peer presented (hex), which the registry counts
   * node_ids by; "none" when there is none (not possible with mutual TLS, kept for safety).
   */
  static String peerCertificate(ChannelHandlerContext ctx) {
    SslHandler ssl = ctx.pipeline().get(SslHandler.class);
    try {
      java.security.cert.Certificate[] chain =
          ssl == null ? null : ssl.engine().getSession().getPeerCertificates();
      if (chain == null || chain.length == 0) {
        return "none";
      }
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256").digest(chain[0].getEncoded());
      return java.util.HexFormat.of().formatHex(digest);
    } catch (javax.net.ssl.SSLPeerUnverifiedException
        | java.security.cert.CertificateEncodingException
        | java.security.NoSuchAlgorithmException e) {
      return "none";
    }
  }

  private static @Nullable String single(Map<String, List<String>> params, String name) {
    List<String> values = params.get(name);
    return values == null || values.size() != 1 ? null : values.get(0);
  }

  private static void reject(
      ChannelHandlerContext ctx, HttpResponseStatus status, String code, String message) {
    HttpJson.send(ctx, HttpJson.error(status, code, message), false);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("Connection from {} failed before the upgrade: {}", address(ctx), safeFailure(cause));
    ctx.close();
  }

  private static String address(ChannelHandlerContext ctx) {
    SocketAddress a = ctx.channel().remoteAddress();
    return a == null ? "?" : a.toString();
  }

  static String hostAddress(@Nullable SocketAddress address) {
    if (address instanceof InetSocketAddress inet) {
      return inet.getAddress() == null ? inet.getHostString() : inet.getAddress().getHostAddress();
    }
    return String.valueOf(address);
  }

  static String rootMessage(@Nullable Throwable t) {
    if (t == null) {
      return "unknown cause";
    }
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root == t ? t.toString() : t.getMessage() + " (" + root + ")";
  }
}

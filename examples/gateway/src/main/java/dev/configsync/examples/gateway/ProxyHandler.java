package dev.configsync.examples.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.configsync.ConfigSyncClient;
import dev.configsync.LicenseState;
import dev.configsync.SyncStatus;
import dev.configsync.examples.gateway.UsageRecorder.StatusClass;
import dev.configsync.routes.KongRoutes;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proxies one request: license check, route lookup in the current table, upstream call, response
 * back. Runs on the gateway's request threads, many at once; it reads the routing table once per
 * request, so a request is served wholly by one configuration.
 */
final class ProxyHandler implements HttpHandler {
  private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The response header that names the configuration a response was routed by. */
  static final String HASH_HEADER = "X-Configsync-Hash";

  /**
   * Hop-by-hop headers (RFC 9110 section 7.6.1 and the older ones RFC 2616 listed), which concern
   * one connection and are never forwarded; plus those the JDK client sets itself.
   */
  private static final Set<String> NOT_FORWARDED =
      Set.of(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "proxy-connection",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade",
          // Set by the JDK's client from the request itself (it refuses them from callers):
          "host",
          "content-length",
          "expect");

  /** Response headers the JDK's server sets itself. */
  private static final Set<String> SET_BY_SERVER = Set.of("content-length", "date");

  private final Supplier<@Nullable RoutingTable> table;
  private final ConfigSyncClient client;
  private final HttpClient upstream;
  private final UsageRecorder usage;
  private final long maxRequestBodyBytes;

  ProxyHandler(
      Supplier<@Nullable RoutingTable> table,
      ConfigSyncClient client,
      HttpClient upstream,
      UsageRecorder usage,
      long maxRequestBodyBytes) {
    this.table = table;
    this.client = client;
    this.upstream = upstream;
    this.usage = usage;
    this.maxRequestBodyBytes = maxRequestBodyBytes;
  }

  @Override
  public void handle(HttpExchange exchange) {
    try {
      proxy(exchange);
    } catch (IOException | UncheckedIOException e) {
      // The client went away or the connection broke mid-response: nothing left to tell anyone.
      log.debug("request {} {} ended early: {}", exchange.getRequestMethod(), path(exchange), e);
    } catch (RuntimeException e) {
      log.warn("request {} {} failed", exchange.getRequestMethod(), path(exchange), e);
      if (exchange.getResponseCode() == -1) {
        try {
          sendJson(exchange, 500, "the gateway failed on this request; see its log", null);
        } catch (IOException ignored) {
          // The client is gone as well.
        }
      }
    } finally {
      exchange.close();
    }
  }

  private void proxy(HttpExchange exchange) throws IOException {
    RoutingTable routes = table.get(); // once: the whole request sees one configuration
    String hash = routes == null ? null : routes.hash();
    if (!client.isServing()) {
      sendJson(exchange, 503, notServingMessage(client.status()), hash);
      return;
    }
    if (routes == null) {
      sendJson(
          exchange,
          503,
          "no configuration yet: the gateway has not received one from the control plane, and has"
              + " none cached",
          null);
      return;
    }
    String method = exchange.getRequestMethod();
    String host = exchange.getRequestHeaders().getFirst("Host");
    URI requestUri = exchange.getRequestURI();
    String rawPath = requestUri.getRawPath() == null ? "/" : requestUri.getRawPath();
    Optional<RoutingTable.Match> found = routes.match(method, host, rawPath);
    if (found.isEmpty()) {
      sendJson(exchange, 404, "no route matches " + method + " " + rawPath, hash);
      record(null, null, 404);
      return;
    }
    RoutingTable.Match match = found.get();
    KongRoutes.Route route = match.route();
    String serviceName = route.service().name();

    byte[] body = readBody(exchange);
    if (body == null) {
      sendJson(
          exchange,
          413,
          "request body over the gateway's limit of " + maxRequestBodyBytes + " bytes",
          hash);
      record(serviceName, route.name(), 413);
      return;
    }
    HttpRequest request;
    try {
      request = upstreamRequest(exchange, match, body);
    } catch (IllegalArgumentException e) {
      sendJson(exchange, 400, "cannot forward this request: " + e.getMessage(), hash);
      record(serviceName, route.name(), 400);
      return;
    }

    HttpResponse<InputStream> response;
    try {
      response = upstream.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (HttpTimeoutException e) {
      sendJson(
          exchange, 504, "upstream of service '" + serviceName + "' did not answer in time", hash);
      record(serviceName, route.name(), 504);
      return;
    } catch (IOException e) {
      sendJson(
          exchange, 502, "upstream of service '" + serviceName + "' failed: " + describe(e), hash);
      record(serviceName, route.name(), 502);
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      sendJson(exchange, 502, "the gateway is shutting down", hash);
      record(serviceName, route.name(), 502);
      return;
    }
    record(serviceName, route.name(), response.statusCode());
    relay(exchange, response, hash);
  }

  /** The request body, or null when it is larger than the limit. */
  private byte @Nullable [] readBody(HttpExchange exchange) throws IOException {
    String declared = exchange.getRequestHeaders().getFirst("Content-Length");
    if (declared != null) {
      try {
        if (Long.parseLong(declared.trim()) > maxRequestBodyBytes) {
          return null;
        }
      } catch (NumberFormatException e) {
        // The JDK server has refused malformed lengths already; read and count instead.
      }
    }
    try (InputStream in = exchange.getRequestBody()) {
      byte[] body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxRequestBodyBytes + 1));
      return body.length > maxRequestBodyBytes ? null : body;
    }
  }

  private HttpRequest upstreamRequest(
      HttpExchange exchange, RoutingTable.Match match, byte[] body) {
    KongRoutes.Service service = match.route().service();
    String query = exchange.getRequestURI().getRawQuery();
    URI target =
        URI.create(service.origin() + match.upstreamPath() + (query == null ? "" : "?" + query));
    HttpRequest.Builder builder =
        HttpRequest.newBuilder(target)
            .timeout(service.readTimeout())
            .method(
                exchange.getRequestMethod(),
                body.length == 0
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(body));
    Headers in = exchange.getRequestHeaders();
    Set<String> skip = skipped(in.get("Connection"));
    for (Map.Entry<String, List<String>> header : in.entrySet()) {
      String name = header.getKey().toLowerCase(Locale.ROOT);
      if (skip.contains(name) || name.startsWith("x-forwarded-")) {
        continue;
      }
      for (String value : header.getValue()) {
        builder.header(header.getKey(), value);
      }
    }
    String client = exchange.getRemoteAddress().getAddress().getHostAddress();
    String forwardedFor = in.getFirst("X-Forwarded-For");
    builder.header("X-Forwarded-For", forwardedFor == null ? client : forwardedFor + ", " + client);
    builder.header("X-Forwarded-Proto", "http");
    String host = in.getFirst("Host");
    if (host != null) {
      builder.header("X-Forwarded-Host", host);
    }
    return builder.build();
  }

  private static void relay(
      HttpExchange exchange, HttpResponse<InputStream> response, @Nullable String hash)
      throws IOException {
    try (InputStream body = response.body()) {
      Headers out = exchange.getResponseHeaders();
      Map<String, List<String>> upstreamHeaders = response.headers().map();
      Set<String> skip = skipped(upstreamHeaders.get("connection"));
      for (Map.Entry<String, List<String>> header : upstreamHeaders.entrySet()) {
        String name = header.getKey().toLowerCase(Locale.ROOT);
        if (skip.contains(name) || SET_BY_SERVER.contains(name) || name.startsWith(":")) {
          continue;
        }
        out.put(header.getKey(), header.getValue());
      }
      if (hash != null) {
        out.set(HASH_HEADER, hash);
      }
      int status = response.statusCode();
      long length = response.headers().firstValueAsLong("content-length").orElse(-1);
      boolean noBody =
          exchange.getRequestMethod().equals("HEAD")
              || status == 204
              || status == 304
              || status < 200;
      if (noBody) {
        // The JDK server sends no body here; a HEAD or 304 may still say how long the body is.
        if (length >= 0 && status != 204 && status >= 200) {
          out.set("Content-Length", Long.toString(length));
        }
        exchange.sendResponseHeaders(status, -1);
        return;
      }
      // -1: no body; 0: chunked (length unknown); otherwise the exact length.
      exchange.sendResponseHeaders(status, length == 0 ? -1 : length < 0 ? 0 : length);
      try (OutputStream os = exchange.getResponseBody()) {
        body.transferTo(os);
      }
    }
  }

  /** Headers not to forward: the hop-by-hop ones and those the Connection header lists. */
  private static Set<String> skipped(@Nullable List<String> connection) {
    if (connection == null || connection.isEmpty()) {
      return NOT_FORWARDED;
    }
    Set<String> skip = new HashSet<>(NOT_FORWARDED);
    for (String value : connection) {
      for (String token : value.split(",", -1)) {
        skip.add(token.trim().toLowerCase(Locale.ROOT));
      }
    }
    return skip;
  }

  private void record(@Nullable String service, @Nullable String route, int status) {
    try {
      usage.record(service, route, null, StatusClass.of(status));
    } catch (RuntimeException e) {
      log.warn("usage recorder failed; the request is not affected", e);
    }
  }

  static String notServingMessage(SyncStatus status) {
    if (status.licenseState() == LicenseState.EXPIRED) {
      return "license expired"
          + (status.licenseExpiresAt() == null ? "" : " at " + status.licenseExpiresAt())
          + ": this gateway does not serve traffic until the control plane sends a configuration"
          + " with a renewed license";
    }
    return "the gateway is shutting down";
  }

  static void sendJson(HttpExchange exchange, int status, String message, @Nullable String hash)
      throws IOException {
    ObjectNode node = JSON.createObjectNode().put("message", message);
    byte[] bytes = JSON.writeValueAsString(node).getBytes(StandardCharsets.UTF_8);
    Headers headers = exchange.getResponseHeaders();
    headers.set("Content-Type", "application/json; charset=utf-8");
    if (hash != null) {
      headers.set(HASH_HEADER, hash);
    }
    if (exchange.getRequestMethod().equals("HEAD")) {
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream os = exchange.getResponseBody()) {
      os.write(bytes);
    }
  }

  private static String describe(IOException e) {
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  private static String path(HttpExchange exchange) {
    return exchange.getRequestURI().getRawPath();
  }
}

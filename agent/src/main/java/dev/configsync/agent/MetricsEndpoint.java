package dev.configsync.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --metrics-listen}: a plain HTTP endpoint that answers {@code GET /metrics} with the
 * agent's meters in the Prometheus text format (version 0.0.4), on one daemon thread of its own
 * (scrapes are answered one at a time). Every other path is 404, every other method 405. No TLS and
 * no authentication: bind it to loopback, or to an address only the scraper reaches.
 */
final class MetricsEndpoint implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MetricsEndpoint.class);

  /** The content type of the Prometheus text format. */
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final HttpServer server;
  private final ExecutorService executor;

  private MetricsEndpoint(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Parses {@code HOST:PORT} ({@code [v6-address]:PORT} for IPv6); port 0 takes any free port.
   *
   * @throws IllegalArgumentException with a message saying what is wrong (the caller names the
   *     flag)
   */
  static InetSocketAddress parse(String text) {
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new IllegalArgumentException("must be HOST:PORT, e.g. 127.0.0.1:9464, got: " + text);
    }
    String host = text.substring(0, colon);
    String portText = text.substring(colon + 1);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException(
          "an IPv6 address goes in brackets, e.g. [::1]:9464, got: " + text);
    }
    int port;
    try {
      port = Integer.parseInt(portText);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("the port must be a number, got: " + text, e);
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("the port must be 0 to 65535, got: " + text);
    }
    if (host.isBlank()) {
      throw new IllegalArgumentException("the host is empty: " + text);
    }
    try {
      return new InetSocketAddress(InetAddress.getByName(host), port);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("unknown host '" + host + "' in " + text, e);
    }
  }

  /**
   * Listens on {@code address} and answers each scrape with {@code page}'s text, built on the
   * endpoint's thread.
   *
   * @throws IOException when the address cannot be bound (in use, not local, not allowed)
   */
  static MetricsEndpoint start(InetSocketAddress address, Supplier<String> page)
      throws IOException {
    HttpServer server = HttpServer.create(address, 16);
    ExecutorService executor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "configsync-agent-metrics");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
    server.createContext("/", exchange -> answer(exchange, page));
    server.start();
    return new MetricsEndpoint(server, executor);
  }

  private static void answer(HttpExchange exchange, Supplier<String> page) throws IOException {
    try (exchange) {
      String method = exchange.getRequestMethod();
      if (!exchange.getRequestURI().getPath().equals("/metrics")) {
        send(exchange, 404, "text/plain; charset=utf-8", "not found: the agent serves /metrics\n");
      } else if (!method.equals("GET") && !method.equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        send(exchange, 405, "text/plain; charset=utf-8", "method not allowed: use GET\n");
      } else {
        String text;
        try {
          text = page.get();
        } catch (RuntimeException e) {
          log.warn("A metrics scrape failed", e);
          send(exchange, 500, "text/plain; charset=utf-8", "the scrape failed; see the log\n");
          return;
        }
        send(exchange, 200, CONTENT_TYPE, method.equals("HEAD") ? null : text);
      }
    }
  }

  private static void send(HttpExchange exchange, int status, String type, @Nullable String body)
      throws IOException {
    exchange.getResponseHeaders().set("Content-Type", type);
    if (body == null) {
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** The address listened on (with the port chosen, for port 0). */
  InetSocketAddress address() {
    return server.getAddress();
  }

  /** Stops listening; a scrape under way gets at most a second to finish. */
  @Override
  public void close() {
    server.stop(1);
    executor.shutdownNow();
  }
}

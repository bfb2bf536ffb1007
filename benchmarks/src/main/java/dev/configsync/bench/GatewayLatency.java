package dev.configsync.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.PublishResult;
import dev.configsync.examples.gateway.Gateway;
import dev.configsync.examples.gateway.RoutingTable;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;

/**
 * "gateway p50 at rest, 30,000 routes": the example gateway ({@code examples/gateway}) with a real
 * control plane over mutual TLS and a real upstream on 127.0.0.1, serving one request at a time;
 * the median latency of a request with 30,000 routes in its configuration against the same with
 * 1,000 routes (the floor), measured in the same run on the same machine.
 *
 * <p>What it guards: that matching a request does not test every route (issue 17's goal: within 1.2
 * x). Requests name random routes, by path and host, over keep-alive connections; every answer is
 * checked to come from the upstream.
 */
final class GatewayLatency implements Measurement {
  private static final int FEW = 1_000;
  private static final int MANY = 30_000;
  private static final int SERVICES = 100;

  @Override
  public String name() {
    return "gateway";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    int requests = mode == Mode.SMOKE ? 200 : mode == Mode.QUICK ? 3_000 : 10_000;
    int many = mode == Mode.SMOKE ? 3_000 : MANY;
    TestPki pki = TestPki.create();
    HttpServer upstream = startUpstream();
    try (ControlPlaneServer cp =
        CpRig.startControlPlane(pki, 0, new CpRig.CapturingStore(), 64L << 20)) {
      Gateway gateway =
          Gateway.builder()
              .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
              .start(
                  ConfigSyncClient.builder()
                      .controlPlane(CpRig.uri(cp))
                      .transport(OkHttpTransport.create(pki.dataPlaneTls()))
                      .nodeHostname("bench-gateway")
                      .usageReporting(false));
      try {
        int port = upstream.getAddress().getPort();
        medianLatency(cp, gateway, port, FEW, requests); // warms the JIT for both
        double manyMs = medianLatency(cp, gateway, port, many, requests);
        double few = medianLatency(cp, gateway, port, FEW, requests);
        return List.of(
            Result.relative(
                "gateway p50 at rest (example gateway)",
                String.format(Locale.ROOT, "%,d routes", many),
                String.format(Locale.ROOT, "the same gateway's p50 with %,d routes", FEW),
                few,
                manyMs,
                "ms",
                1.2,
                String.format(
                    Locale.ROOT,
                    "one request at a time over keep-alive, upstream on loopback; median of %,d"
                        + " requests each; p50 %s ms at %,d routes, %s ms at %,d",
                    requests,
                    CpRig.fmt(few),
                    FEW,
                    CpRig.fmt(manyMs),
                    many)));
      } finally {
        gateway.close();
      }
    } finally {
      upstream.stop(0);
    }
  }

  /** An upstream on a free loopback port that answers every request with 200 "ok". */
  static HttpServer startUpstream() throws IOException {
    HttpServer upstream =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
    upstream.createContext(
        "/",
        exchange -> {
          byte[] body = "ok".getBytes(StandardCharsets.US_ASCII);
          exchange.getRequestBody().readAllBytes();
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    upstream.start();
    return upstream;
  }

  /** Publishes a configuration of {@code routes} routes, then times {@code requests} requests. */
  private static double medianLatency(
      ControlPlaneServer cp, Gateway gateway, int upstreamPort, int routes, int requests)
      throws IOException {
    PublishResult published = cp.publish(config(routes, upstreamPort));
    CpRig.await(
        "the gateway to route with " + routes + " routes",
        Duration.ofSeconds(60),
        () ->
            gateway
                .routingTable()
                .map(RoutingTable::hash)
                .filter(published.hash()::equals)
                .isPresent());
    SplittableRandom random = new SplittableRandom(routes);
    List<Double> times = new ArrayList<>(requests);
    try (KeepAlive connection = new KeepAlive(gateway.address().getPort())) {
      for (int i = -requests / 5; i < requests; i++) { // the first fifth warms up
        int r = random.nextInt(routes);
        long t0 = System.nanoTime();
        int status = connection.get(path(r) + "/item", host(r));
        long t1 = System.nanoTime();
        if (status != 200) {
          throw new IllegalStateException("route " + r + " answered " + status + ", not 200");
        }
        if (i >= 0) {
          times.add(CpRig.millis(t1 - t0));
        }
      }
    }
    return CpRig.median(times);
  }

  /**
   * One HTTP/1.1 connection kept alive, written by hand: the JDK's clients refuse to set {@code
   * Host}, and the routes match on it.
   */
  static final class KeepAlive implements AutoCloseable {
    private final Socket socket;
    private final BufferedInputStream in;
    private final OutputStream out;

    KeepAlive(int port) throws IOException {
      socket = new Socket(InetAddress.getLoopbackAddress(), port);
      socket.setTcpNoDelay(true);
      socket.setSoTimeout(30_000);
      in = new BufferedInputStream(socket.getInputStream());
      out = socket.getOutputStream();
    }

    /** Sends one GET and reads the whole answer; returns its status. */
    int get(String path, String host) throws IOException {
      out.write(
          ("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String status = line();
      long length = -1;
      for (String header = line(); !header.isEmpty(); header = line()) {
        int colon = header.indexOf(':');
        if (colon > 0 && header.substring(0, colon).trim().equalsIgnoreCase("content-length")) {
          length = Long.parseLong(header.substring(colon + 1).trim());
        }
      }
      if (length < 0) {
        throw new IOException("no Content-Length in the answer to " + path + ": " + status);
      }
      in.skipNBytes(length);
      return Integer.parseInt(status.split(" ", 3)[1]);
    }

    private String line() throws IOException {
      StringBuilder b = new StringBuilder();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        if (c < 0) {
          throw new IOException("the gateway closed the connection");
        }
        if (c != '\r') {
          b.append((char) c);
        }
      }
      return b.toString();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  static String path(int route) {
    return "/svc" + (route % SERVICES) + "/r" + route;
  }

  static String host(int route) {
    return "h" + (route % 50) + ".example.com";
  }

  /** Services on the upstream, each route with its own path prefix and one of 50 hosts. */
  static ObjectNode config(int routes, int upstreamPort) {
    return config(routes, upstreamPort, null);
  }

  /** As {@link #config(int, int)}; every route tagged {@code variant} when it is not null. */
  static ObjectNode config(int routes, int upstreamPort, @Nullable String variant) {
    ObjectNode config = CpRig.MAPPER.createObjectNode();
    config.put("_format_version", "3.0");
    ArrayNode services = config.putArray("services");
    for (int s = 0; s < SERVICES; s++) {
      services.addObject().put("name", "svc" + s).put("url", "http://127.0.0.1:" + upstreamPort);
    }
    ArrayNode list = config.putArray("routes");
    for (int r = 0; r < routes; r++) {
      list.add(route(r, variant));
    }
    return config;
  }

  /** Route {@code r}: its own path prefix, one of 50 hosts, tagged {@code variant} if not null. */
  static ObjectNode route(int r, @Nullable String variant) {
    ObjectNode route = CpRig.MAPPER.createObjectNode();
    route.put("name", "r" + r).put("service", "svc" + (r % SERVICES));
    route.putArray("paths").add(path(r));
    route.putArray("hosts").add(host(r));
    if (variant != null) {
      route.putArray("tags").add("bench").add(variant);
    }
    return route;
  }
}

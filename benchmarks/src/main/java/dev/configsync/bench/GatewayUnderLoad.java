package dev.configsync.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.PublishResult;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The example gateway's request latency while its configuration changes (issue 17): the gateway's
 * own {@code main} ({@code GatewayMain}) in a child JVM started with {@link #GATEWAY_JVM_FLAGS},
 * the flags {@code examples/gateway/README.md} gives, dialing a control plane in this process over
 * mutual TLS; a 16 MB configuration of services and routes (no plugins); a steady {@value #RATE}
 * requests/s to random routes over one keep-alive connection, each timed from its send to its last
 * byte. Three phases of the same length, in one run: at rest; while one route (a random one; the
 * first ones with {@code BENCH_GATEWAY_CHANGES=first}) is changed every {@value
 * #CHANGE_EVERY_MILLIS} ms through {@code PUT /config/routes/{name}} (sent as {@code
 * reconfigure_delta}); while the whole configuration is published every {@value #PUSH_EVERY_MILLIS}
 * ms (every route's tags change, so a whole frame is sent). Rows: the p99 of each changing phase
 * against the p99 at rest; goals 1.2 x and 2 x.
 */
final class GatewayUnderLoad implements Measurement {
  /** The JVM flags the gateway's README gives for a configuration of about 16 MB. */
  static final List<String> README_JVM_FLAGS =
      List.of("-Xms1g", "-Xmx1g", "-XX:+UseZGC", "-XX:+AlwaysPreTouch");

  /**
   * The flags the child JVM gets: {@link #README_JVM_FLAGS}, or the environment variable {@code
   * BENCH_GATEWAY_JVM_FLAGS} (space-separated) to compare others.
   */
  static final List<String> GATEWAY_JVM_FLAGS = flags(System.getenv("BENCH_GATEWAY_JVM_FLAGS"));

  /**
   * The routes changed: random ones (a fixed seed), or, with {@code BENCH_GATEWAY_CHANGES=first},
   * the first ones in the collection, the worst case (every later route's bytes are hashed again).
   */
  static final boolean FIRST_ROUTES = "first".equals(System.getenv("BENCH_GATEWAY_CHANGES"));

  private static List<String> flags(@Nullable String override) {
    return override == null || override.isBlank()
        ? README_JVM_FLAGS
        : List.of(override.trim().split("\\s+"));
  }

  static final int RATE = 300;
  static final int CHANGE_EVERY_MILLIS = 200;
  static final int PUSH_EVERY_MILLIS = 5_000;
  private static final int BYTES_PER_ROUTE_ESTIMATE = 150;

  @Override
  public String name() {
    return "gatewayload";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    int bytes = mode == Mode.SMOKE ? 256 << 10 : 16 << 20;
    long phaseMillis = mode == Mode.SMOKE ? 2_000 : mode == Mode.QUICK ? 15_000 : 30_000;
    int routes = bytes / BYTES_PER_ROUTE_ESTIMATE;
    TestPki pki = TestPki.create();
    Path dir = Floors.tempDirectory("gatewayload");
    HttpServer upstream = GatewayLatency.startUpstream();
    int upstreamPort = upstream.getAddress().getPort();
    Process gateway = null;
    try (ControlPlaneServer cp = CpRig.startWithAdmin(pki, new InMemoryConfigStore(), 64L << 20)) {
      ObjectNode[] configs = {
        GatewayLatency.config(routes, upstreamPort, "a"),
        GatewayLatency.config(routes, upstreamPort, "b")
      };
      int jsonBytes = CpRig.MAPPER.writeValueAsBytes(configs[0]).length;
      int port = freePort();
      gateway = startGateway(pki, cp, dir, port);
      Process g = gateway;
      CpRig.await(
          "the gateway to connect (see " + dir.resolve("gateway.err") + ")",
          Duration.ofSeconds(60),
          () -> CpRig.connected(cp) == 1 || !g.isAlive());
      PublishResult first = cp.publish(configs[0]);
      CpRig.await(
          "the gateway to apply the first configuration",
          Duration.ofMinutes(2),
          () -> CpRig.nodesOn(cp, first.hash()) == 1 || !g.isAlive());
      if (!gateway.isAlive()) {
        throw new IllegalStateException("the gateway exited: see " + dir.resolve("gateway.err"));
      }
      Load load = new Load(port, routes);
      Thread loader = new Thread(load, "bench-gateway-load");
      loader.setDaemon(true);
      loader.start();
      try {
        load.phase = Phase.WARM_UP;
        Thread.sleep(Math.min(5_000, phaseMillis / 2));
        load.phase = Phase.REST;
        Thread.sleep(phaseMillis);
        // one route changed, again and again, through the admin API: sent as deltas
        load.phase = Phase.CHANGES;
        // Routes anywhere in the collection, as operators change them (or, to see the worst case,
        // the first ones): where a change lies matters, since the hash is fed again from the
        // change to the collection's end.
        SplittableRandom which = new SplittableRandom(29);
        int changes = 0;
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(phaseMillis);
        while (System.nanoTime() < end) {
          long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CHANGE_EVERY_MILLIS);
          int r = FIRST_ROUTES ? changes % routes : which.nextInt(routes);
          CpRig.putEntity(
              cp,
              "routes",
              "r" + r,
              CpRig.MAPPER.writeValueAsBytes(GatewayLatency.route(r, "c" + changes)));
          changes++;
          LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
        }
        // whole configurations, every route changed
        load.phase = Phase.PUSHES;
        int pushes = 0;
        end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(phaseMillis);
        while (System.nanoTime() < end) {
          long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PUSH_EVERY_MILLIS);
          cp.publish(configs[++pushes % 2]);
          LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
        }
        load.phase = Phase.DONE;
        loader.join(TimeUnit.SECONDS.toMillis(30));
        if (load.failure != null) {
          throw new IllegalStateException("a request failed", load.failure);
        }
        Stats rest = load.stats(Phase.REST);
        Stats during = load.stats(Phase.CHANGES);
        Stats pushed = load.stats(Phase.PUSHES);
        String common =
            String.format(
                Locale.ROOT,
                "example gateway (GatewayMain) in a child JVM with %s; %s JSON, %,d routes; %d"
                    + " requests/s, one keep-alive connection; at rest p50 %s p99 %s ms (%d"
                    + " requests); load average %s",
                String.join(" ", GATEWAY_JVM_FLAGS),
                CpRig.size(jsonBytes),
                routes,
                RATE,
                CpRig.fmt(rest.p50),
                CpRig.fmt(rest.p99),
                rest.count,
                SizingMeasurement.loadAverage());
        return List.of(
            Result.relative(
                "gateway p99 during one-entity changes",
                Workload.label(bytes)
                    + " config, "
                    + (FIRST_ROUTES ? "one of the first routes" : "a random route")
                    + " changed every "
                    + CHANGE_EVERY_MILLIS
                    + " ms",
                "the same gateway's p99 at rest",
                rest.p99,
                during.p99,
                "ms",
                1.2,
                String.format(
                    Locale.ROOT,
                    "%d changes; p50 %s, max %s ms (%d requests); %s",
                    changes,
                    CpRig.fmt(during.p50),
                    CpRig.fmt(during.max),
                    during.count,
                    common)),
            Result.relative(
                "gateway p99 during full pushes",
                Workload.label(bytes)
                    + " config pushed whole every "
                    + PUSH_EVERY_MILLIS / 1000
                    + " s",
                "the same gateway's p99 at rest",
                rest.p99,
                pushed.p99,
                "ms",
                2.0,
                String.format(
                    Locale.ROOT,
                    "%d pushes (the control plane's publish runs on the same 2 cores); p50 %s, max"
                        + " %s ms (%d requests); %s",
                    pushes,
                    CpRig.fmt(pushed.p50),
                    CpRig.fmt(pushed.max),
                    pushed.count,
                    common)));
      } finally {
        load.phase = Phase.DONE;
      }
    } finally {
      if (gateway != null) {
        gateway.destroy();
        if (!gateway.waitFor(30, TimeUnit.SECONDS)) {
          gateway.destroyForcibly().waitFor();
        }
      }
      upstream.stop(0);
      Floors.deleteQuietly(dir);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static Process startGateway(TestPki pki, ControlPlaneServer cp, Path dir, int port)
      throws IOException {
    Path files = pki.writeDataPlaneFiles(dir.resolve("pki"));
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(GATEWAY_JVM_FLAGS);
    command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add("dev.configsync.examples.gateway.GatewayMain");
    command.addAll(SizingMeasurement.dialArgs(cp, files));
    command.addAll(
        List.of("--cache-dir", dir.resolve("cache").toString(), "--listen", "127.0.0.1:" + port));
    return new ProcessBuilder(command)
        .redirectOutput(dir.resolve("gateway.out").toFile())
        .redirectError(dir.resolve("gateway.err").toFile())
        .start();
  }

  private enum Phase {
    WARM_UP,
    REST,
    CHANGES,
    PUSHES,
    DONE
  }

  private record Stats(double p50, double p99, double max, int count) {}

  /** Sends {@value #RATE} requests a second, one at a time, and times each by phase. */
  private static final class Load implements Runnable {
    volatile Phase phase = Phase.WARM_UP;
    volatile @Nullable Throwable failure;
    private final int port;
    private final int routes;
    private final java.util.Map<Phase, List<Double>> times = new java.util.EnumMap<>(Phase.class);

    Load(int port, int routes) {
      this.port = port;
      this.routes = routes;
      for (Phase p : Phase.values()) {
        times.put(p, Collections.synchronizedList(new ArrayList<>()));
      }
    }

    @Override
    public void run() {
      SplittableRandom random = new SplittableRandom(17);
      long period = 1_000_000_000L / RATE;
      long next = System.nanoTime();
      try (GatewayLatency.KeepAlive connection = new GatewayLatency.KeepAlive(port)) {
        while (true) {
          Phase p = phase;
          if (p == Phase.DONE) {
            return;
          }
          LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
          next = Math.max(next + period, System.nanoTime() - 10 * period);
          int r = random.nextInt(routes);
          long t0 = System.nanoTime();
          int status = connection.get(GatewayLatency.path(r) + "/item", GatewayLatency.host(r));
          long t1 = System.nanoTime();
          if (status != 200) {
            throw new IllegalStateException("route " + r + " answered " + status);
          }
          list(p).add(CpRig.millis(t1 - t0));
        }
      } catch (Throwable e) {
        failure = e;
      }
    }

    private List<Double> list(Phase p) {
      List<Double> list = times.get(p);
      if (list == null) {
        throw new IllegalStateException("no list for " + p);
      }
      return list;
    }

    Stats stats(Phase p) {
      List<Double> sorted = new ArrayList<>(list(p));
      if (sorted.isEmpty()) {
        throw new IllegalStateException("no requests in phase " + p);
      }
      Collections.sort(sorted);
      int n = sorted.size();
      return new Stats(
          sorted.get(n / 2),
          sorted.get(Math.max(0, (int) Math.ceil(n * 0.99) - 1)),
          sorted.get(n - 1),
          n);
    }
  }
}

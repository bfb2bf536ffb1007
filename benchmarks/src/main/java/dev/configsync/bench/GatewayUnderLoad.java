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
 * byte. Three measured phases of the same length, in one run: at rest (after {@value
 * #WARM_UP_MILLIS} ms of requests sent as fast as they are answered, which compile their path);
 * while one route (a random one; the first ones with {@code BENCH_GATEWAY_CHANGES=first}) is
 * changed every {@value #CHANGE_EVERY_MILLIS} ms through {@code PUT /config/routes/{name}} (sent as
 * {@code reconfigure_delta}), after two thirds of a phase of such changes that warm up the edit and
 * apply paths (their p99 is in the row's note); while the whole configuration is published every
 * {@value #PUSH_EVERY_MILLIS} ms (every route's tags change, so a whole frame is sent). Rows: the
 * p99 of each changing phase against the p99 at rest; goals 1.2 x and 2 x.
 */
final class GatewayUnderLoad implements Measurement {
  /** The JVM flags the gateway's README gives for a configuration of about 16 MB. */
  static final List<String> README_JVM_FLAGS =
      List.of("-Xms2g", "-Xmx2g", "-XX:+UseZGC", "-XX:+AlwaysPreTouch");

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

  /**
   * A file to write every request and every change to ({@code BENCH_GATEWAY_TRACE}), one line each:
   * phase or {@code PUT}, start in microseconds of {@code System.nanoTime()}, milliseconds taken.
   * To find what a slow request met, start the gateway with {@code -Xlog:gc,safepoint:file=...:
   * timenanos} in {@code BENCH_GATEWAY_JVM_FLAGS}.
   */
  static final @Nullable String TRACE = System.getenv("BENCH_GATEWAY_TRACE");

  static final int RATE = 300;

  /** How long requests are sent unpaced, to compile their path, before the rest phase. */
  static final int WARM_UP_MILLIS = 10_000;

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
    long phaseMillis = mode == Mode.SMOKE ? 1_000 : mode == Mode.QUICK ? 15_000 : 30_000;
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
        // Requests as fast as they are answered until their path is compiled: at 300 a second,
        // the rest phase itself would still be compiling it (its p99 went from 3.6 to 10.8 ms
        // from one second to the next).
        load.phase = Phase.WARM_UP;
        Thread.sleep(mode == Mode.SMOKE ? 500 : WARM_UP_MILLIS);
        load.phase = Phase.REST;
        Thread.sleep(phaseMillis);
        // One route changed, again and again, through the admin API: sent as deltas. The first
        // changes run the edit and apply paths before they are compiled (the first PUT took 1.2 s,
        // the next ones about 100 ms for 4 s): they warm up, as requests did before the rest
        // phase, and their p99 is reported in the note.
        Changes changes = new Changes(cp, routes, load);
        load.phase = Phase.CHANGES_WARM_UP;
        changes.run(phaseMillis * 2 / 3);
        load.phase = Phase.CHANGES;
        int measuredChanges = changes.run(phaseMillis);
        // whole configurations, every route changed
        load.phase = Phase.PUSHES;
        int pushes = 0;
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(phaseMillis);
        while (System.nanoTime() < end) {
          long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PUSH_EVERY_MILLIS);
          cp.publish(configs[++pushes % 2]);
          // not past the phase's end (smoke mode's phase is shorter than the interval)
          LockSupport.parkNanos(Math.max(0, Math.min(next, end) - System.nanoTime()));
        }
        load.phase = Phase.DONE;
        loader.join(TimeUnit.SECONDS.toMillis(30));
        load.writeTrace();
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
                    "%d changes after %d to warm up (p99 while warming up %s ms); p50 %s,"
                        + " max %s ms (%d requests); %s",
                    measuredChanges,
                    changes.count - measuredChanges,
                    CpRig.fmt(load.stats(Phase.CHANGES_WARM_UP).p99),
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
    CHANGES_WARM_UP,
    CHANGES,
    PUSHES,
    DONE
  }

  /**
   * Changes routes every {@value #CHANGE_EVERY_MILLIS} ms: random ones from a fixed seed, or the
   * first ones in order ({@link #FIRST_ROUTES}). Where a change lies matters: the hash is fed again
   * from the change to the collection's end.
   */
  private static final class Changes {
    private final ControlPlaneServer cp;
    private final int routes;
    private final Load load;
    private final SplittableRandom which = new SplittableRandom(29);
    int count;

    Changes(ControlPlaneServer cp, int routes, Load load) {
      this.cp = cp;
      this.routes = routes;
      this.load = load;
    }

    /** Changes routes for {@code millis}; returns how many it changed. */
    int run(long millis) throws IOException, InterruptedException {
      int before = count;
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
      while (System.nanoTime() < end) {
        long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CHANGE_EVERY_MILLIS);
        int r = FIRST_ROUTES ? count % routes : which.nextInt(routes);
        long t0 = System.nanoTime();
        CpRig.putEntity(
            cp,
            "routes",
            "r" + r,
            CpRig.MAPPER.writeValueAsBytes(GatewayLatency.route(r, "c" + count)));
        load.trace("PUT", t0, System.nanoTime() - t0);
        count++;
        LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
      }
      return count - before;
    }
  }

  private record Stats(double p50, double p99, double max, int count) {}

  /** Sends {@value #RATE} requests a second, one at a time, and times each by phase. */
  private static final class Load implements Runnable {
    volatile Phase phase = Phase.WARM_UP;
    volatile @Nullable Throwable failure;
    private final int port;
    private final int routes;
    private final java.util.Map<Phase, List<Double>> times = new java.util.EnumMap<>(Phase.class);
    private final List<String> trace = Collections.synchronizedList(new ArrayList<>());

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
          if (p == Phase.WARM_UP) {
            next = System.nanoTime(); // as fast as answered
          } else {
            LockSupport.parkNanos(Math.max(0, next - System.nanoTime()));
            next = Math.max(next + period, System.nanoTime() - 10 * period);
          }
          int r = random.nextInt(routes);
          long t0 = System.nanoTime();
          int status = connection.get(GatewayLatency.path(r) + "/item", GatewayLatency.host(r));
          long t1 = System.nanoTime();
          if (status != 200) {
            throw new IllegalStateException("route " + r + " answered " + status);
          }
          list(p).add(CpRig.millis(t1 - t0));
          trace(p.name(), t0, t1 - t0);
        }
      } catch (Throwable e) {
        failure = e;
      }
    }

    /**
     * With {@link #TRACE} set, remembers one event: what, its start ({@code System.nanoTime()}, in
     * microseconds: the clock the JVM's {@code -Xlog:...:timenanos} decoration uses, so that GC
     * logs of both JVMs line up) and its length in milliseconds.
     */
    void trace(String what, long startNanos, long nanos) {
      if (TRACE != null) {
        trace.add(what + " " + startNanos / 1000 + " " + CpRig.millis(nanos));
      }
    }

    void writeTrace() throws IOException {
      if (TRACE != null) {
        synchronized (trace) {
          java.nio.file.Files.write(Path.of(TRACE), trace);
        }
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
      return new Stats(sorted.get(n / 2), CpRig.percentile99(sorted), sorted.get(n - 1), n);
    }
  }
}

package dev.configsync.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.SyncStatus;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.jspecify.annotations.Nullable;

/**
 * The resilience demo: one control plane and two data planes on 127.0.0.1, over real mutual TLS,
 * with real caches on disk. It publishes, kills the control plane, restarts a data plane from its
 * cache, publishes while nothing can be reached, brings the control plane back, and checks every
 * claim it narrates.
 *
 * <pre>
 * mvn -B -q install -DskipTests &amp;&amp; java -jar examples/target/configsync-demo.jar [--keep]
 * </pre>
 *
 * <p>{@code --keep} keeps the temporary directory (certificates are in memory; the directory holds
 * each node's {@code config.json.gz} and {@code node.id}). {@code -Dconfigsync.demo.verbose=true}
 * shows configsync's INFO logs and stack traces. Exit code 0 when every check passed, 1 otherwise.
 */
public final class ResilienceDemo {
  /** Set to {@code true} to see the library's INFO logs and stack traces. */
  static final String VERBOSE_PROPERTY = "configsync.demo.verbose";

  // Short timings so that the demo takes seconds; the production defaults are 30 s, 45 s, 5-10 s.
  private static final Duration HEARTBEAT = Duration.ofSeconds(1);
  private static final Duration DEAD_AFTER = Duration.ofMillis(1500);
  private static final Duration RETRY_MIN = Duration.ofMillis(500);
  private static final Duration RETRY_MAX = Duration.ofSeconds(1);
  private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(5);

  /** The longest any one expectation is waited for before the demo reports it as failed. */
  private static final Duration WAIT = Duration.ofSeconds(10);

  private static final int STEPS = 8;
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * MockWebServer, under the test control plane, logs through java.util.logging. Held here because
   * java.util.logging keeps loggers only weakly, which would drop the level set on it.
   */
  private static final Logger MOCKWEBSERVER_LOG = Logger.getLogger("mockwebserver3");

  private final PrintStream out;
  private final Path workDir;
  private final Object signal = new Object();
  private final Map<String, String> labels = new LinkedHashMap<>();
  private final List<String> failures = new ArrayList<>();
  private final List<Node> nodes = new ArrayList<>();
  private int passed;
  private List<Integer> downMarks = List.of();
  private @Nullable TestControlPlane cp;

  private ResilienceDemo(PrintStream out, Path workDir) {
    this.out = out;
    this.workDir = workDir;
  }

  /** Runs the demo; exits 0 when every check passed, 1 when one failed, 2 on a usage error. */
  public static void main(String[] args) {
    boolean keep = false;
    for (String arg : args) {
      if (arg.equals("--keep")) {
        keep = true;
      } else if (arg.equals("--help") || arg.equals("-h")) {
        System.out.println(usage());
        return;
      } else {
        System.err.println("Unknown argument: " + arg + "\n" + usage());
        System.exit(2);
      }
    }
    if (Boolean.getBoolean(VERBOSE_PROPERTY)) {
      // Must happen before the first logger is created; slf4j-simple reads it once.
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
    }
    System.exit(run(System.out, keep));
  }

  private static String usage() {
    return "Usage: java [-D" + VERBOSE_PROPERTY + "=true] -jar configsync-demo.jar [--keep]";
  }

  /**
   * Runs the whole demo, narrating on {@code out}.
   *
   * @param keep whether to keep the temporary directory instead of deleting it
   * @return 0 when every check passed, 1 otherwise
   */
  static int run(PrintStream out, boolean keep) {
    boolean verbose = Boolean.getBoolean(VERBOSE_PROPERTY);
    if (!verbose) {
      MOCKWEBSERVER_LOG.setLevel(Level.SEVERE);
    }
    long started = System.nanoTime();
    Path dir;
    try {
      dir = Files.createTempDirectory("configsync-demo-");
    } catch (IOException e) {
      out.println("FAILED: cannot create a temporary directory: " + e);
      return 1;
    }
    ResilienceDemo demo = new ResilienceDemo(out, dir);
    try {
      demo.steps();
    } catch (StepFailed e) {
      out.println("  Stopping here: the next steps depend on this one.");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      demo.failed("the demo was interrupted");
    } catch (RuntimeException | IOException e) {
      demo.failed("unexpected error: " + describe(e));
      if (verbose) {
        e.printStackTrace(out);
      }
    } finally {
      demo.stopEverything();
    }
    out.println();
    if (keep) {
      out.println("Kept " + dir + " (--keep).");
    } else {
      deleteRecursively(dir, out);
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    if (demo.failures.isEmpty()) {
      out.printf(Locale.ROOT, "All %d checks passed in %.1f s.%n", demo.passed, seconds);
      return 0;
    }
    out.printf(
        Locale.ROOT,
        "FAILED after %.1f s: %d check(s) passed, %d did not:%n",
        seconds,
        demo.passed,
        demo.failures.size());
    for (String failure : demo.failures) {
      out.println("  - " + failure);
    }
    return 1;
  }

  // ---- the story ------------------------------------------------------------------------------

  private void steps() throws IOException, InterruptedException {
    out.println("configsync resilience demo: one control plane and two data planes on 127.0.0.1,");
    out.println("over mutual TLS, each data plane with its own cache on disk.");
    out.println("Working directory: " + workDir);
    out.println("  (deleted at the end; run with --keep to keep it)");
    out.println(
        "Timings are shortened so that this takes seconds: heartbeat "
            + seconds(HEARTBEAT)
            + ", connection dead after "
            + seconds(DEAD_AFTER));
    out.println(
        "of silence, reconnect after "
            + seconds(RETRY_MIN)
            + " to "
            + seconds(RETRY_MAX)
            + " (production defaults: 30 s, 45 s, 5 to 10 s).");

    TestControlPlane controlPlane = stepStart();
    stepFirstConfiguration(controlPlane);
    stepSecondConfiguration(controlPlane);
    stepStopControlPlane(controlPlane);
    stepRestartFromCache();
    stepPublishWhileDown(controlPlane);
    stepControlPlaneBack(controlPlane);
    stepShutdown(controlPlane);
  }

  private TestControlPlane stepStart() throws IOException, InterruptedException {
    header(1, "Starting a control plane and two data planes");
    TestPki pki = TestPki.create();
    TestControlPlane controlPlane = TestControlPlane.start(pki);
    cp = controlPlane;
    say(
        "Control plane listening on "
            + controlPlane.uri()
            + " (certificates from a throwaway CA made just now).");
    say("Starting dp-1 and dp-2 on empty cache directories (first boot). Each starts EMPTY,");
    say("and configsync logs a WARN saying so: expected here.");
    for (String name : List.of("dp-1", "dp-2")) {
      Node node = new Node(name, workDir.resolve(name), pki.dataPlaneTls(), controlPlane.uri());
      nodes.add(node);
      node.start();
    }
    for (Node node : nodes) {
      await(
          node.name + " is connected to the control plane",
          () ->
              node.client().status().state() == SyncState.CONNECTED
                  && controlPlane.connectedNodes().stream()
                      .anyMatch(n -> n.nodeId().equals(node.nodeId().toString())));
      say(
          node.name
              + " connected: node id "
              + node.nodeId()
              + ", its own client certificate, cache in "
              + workDir.relativize(node.cacheDir)
              + "/");
    }
    return controlPlane;
  }

  private void stepFirstConfiguration(TestControlPlane controlPlane)
      throws IOException, InterruptedException {
    header(2, "Publishing configuration v1");
    String v1 = publish(controlPlane, "v1", List.of("orders"), false);
    for (Node node : nodes) {
      Applied applied = awaitApplied(node, v1, 0);
      check(
          applied.source == SnapshotSource.CONTROL_PLANE,
          node.name + " applied " + label(v1) + " from " + applied.source,
          "source CONTROL_PLANE",
          String.valueOf(applied.source));
      say("  " + node.name + " serves services " + serviceNames(node.client()));
    }
    for (Node node : nodes) {
      Path file = node.cacheDir.resolve("config.json.gz");
      long size = Files.size(file);
      String cached = cachedConfigHash(file);
      check(
          cached.equals(v1),
          node.name
              + " cached it: "
              + workDir.relativize(file)
              + ", "
              + size
              + " bytes; zcat shows \"config_hash\":\""
              + cached
              + "\" = "
              + label(cached),
          "config_hash " + v1,
          cached);
    }
  }

  private void stepSecondConfiguration(TestControlPlane controlPlane)
      throws IOException, InterruptedException {
    header(3, "Publishing v2 while both nodes are connected");
    List<Integer> marks = marks();
    long publishedAt = System.nanoTime();
    String v2 = publish(controlPlane, "v2", List.of("orders", "payments"), false);
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      Applied applied = awaitApplied(node, v2, marks.get(i));
      say(
          node.name
              + " applied "
              + label(v2)
              + String.format(
                  Locale.ROOT,
                  " %.1f ms after the publish (pushed at once, not polled)",
                  (applied.nanos - publishedAt) / 1e6));
    }
  }

  private void stepStopControlPlane(TestControlPlane controlPlane) throws InterruptedException {
    header(4, "Killing the control plane");
    String v2 = controlPlane.latestHash().orElseThrow();
    List<Integer> marks = eventMarks();
    downMarks = marks;
    long stoppedAt = System.nanoTime();
    controlPlane.stop();
    say("Control plane stopped: its listener is closed and every connection dropped.");
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      int mark = marks.get(i);
      await(
          node.name + " notices that the control plane is gone",
          () -> node.firstAfter(mark, SyncEvent.Disconnected.class).isPresent());
      Seen seen = node.firstAfter(mark, SyncEvent.Disconnected.class).orElseThrow();
      SyncEvent.Disconnected lost = (SyncEvent.Disconnected) seen.event;
      say(
          node.name
              + " noticed after "
              + millis(seen.nanos - stoppedAt)
              + ": \""
              + lost.reason()
              + "\"");
      String serving = node.client().status().hash();
      check(
          v2.equals(serving),
          "  It keeps serving "
              + label(serving)
              + "; next connection attempt in "
              + lost.retryIn().toMillis()
              + " ms.",
          "still serving " + label(v2),
          label(serving));
    }
    say(
        "(A control plane that hangs instead of closing is caught by the heartbeat: no frame for "
            + seconds(DEAD_AFTER)
            + " -> disconnect.)");
  }

  private void stepRestartFromCache() throws IOException, InterruptedException {
    header(5, "Restarting dp-2 while the control plane is down");
    Node node = nodes.get(1);
    UUID before = node.nodeId();
    String hash = Objects.requireNonNull(node.client().status().hash(), "dp-2 runs nothing");
    node.client().close();
    say(
        node.name
            + " closed. Starting a new client on the same cache directory, as a restart would.");
    long startAt = System.nanoTime();
    node.start();
    long startedIn = System.nanoTime() - startAt;
    Optional<ConfigSnapshot> current = node.client().current();
    SyncStatus status = node.client().status();
    check(
        current.isPresent()
            && current.get().hash().equals(hash)
            && current.get().source() == SnapshotSource.CACHE,
        node.name
            + " serves "
            + label(hash)
            + " from "
            + current.map(ConfigSnapshot::source).orElse(null)
            + " as soon as start() returns ("
            + millis(startedIn)
            + "), with no control plane to talk to",
        label(hash) + " from CACHE",
        current.map(s -> label(s.hash()) + " from " + s.source()).orElse("nothing"));
    check(
        status.nodeId().equals(before),
        "  Same node id as before the restart: " + status.nodeId(),
        "node id " + before,
        String.valueOf(status.nodeId()));
  }

  private void stepPublishWhileDown(TestControlPlane controlPlane) throws InterruptedException {
    header(6, "Publishing v3, v4 and v5 while the control plane is down");
    String v2 = controlPlane.latestHash().orElseThrow();
    await(
        "the stopped control plane has no connected nodes",
        () -> controlPlane.connectedNodes().isEmpty());
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      int mark = downMarks.get(i);
      // The first disconnect is the one of step 4; any later one is a refused reconnect attempt.
      await(
          node.name + " tries to reconnect and is refused",
          () -> node.countAfter(mark, SyncEvent.Disconnected.class) >= 2);
      SyncEvent.Disconnected refused =
          (SyncEvent.Disconnected) node.lastAfter(mark, SyncEvent.Disconnected.class).event;
      String serving = node.client().status().hash();
      check(
          v2.equals(serving),
          node.name
              + " keeps trying (\""
              + refused.reason()
              + "\") and keeps serving "
              + label(serving),
          "still serving " + label(v2),
          label(serving));
    }
    String v3 = publish(controlPlane, "v3", List.of("orders", "payments", "inventory"), false);
    String v4 = publish(controlPlane, "v4", List.of("orders", "payments", "inventory"), true);
    String v5 =
        publish(controlPlane, "v5", List.of("orders", "payments", "inventory", "shipping"), true);
    check(
        controlPlane.latestHash().equals(Optional.of(v5)),
        "The control plane keeps only the latest, "
            + label(v5)
            + "; "
            + label(v3)
            + " and "
            + label(v4)
            + " are gone",
        "latest " + label(v5),
        controlPlane.latestHash().map(this::label).orElse("none"));
    for (Node node : nodes) {
      String serving = node.client().status().hash();
      check(
          !controlPlane.isRunning() && v2.equals(serving),
          node.name + " cannot get them (nothing listens) and still runs " + label(serving),
          label(v2) + " with the control plane down",
          label(serving) + (controlPlane.isRunning() ? " with the control plane running" : ""));
    }
  }

  private void stepControlPlaneBack(TestControlPlane controlPlane) throws InterruptedException {
    header(7, "Bringing the control plane back on the same port, " + controlPlane.port());
    String v5 = controlPlane.latestHash().orElseThrow();
    List<Integer> marks = marks();
    List<Integer> eventMarks = eventMarks();
    long restartedAt = System.nanoTime();
    controlPlane.restart();
    say("Control plane listening again on " + controlPlane.uri() + ".");
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      String id = node.nodeId().toString();
      int mark = eventMarks.get(i);
      Applied applied = awaitApplied(node, v5, marks.get(i));
      await(
          node.name + " reports " + label(v5) + " in its heartbeat",
          () -> controlPlane.lastReportedHash(id).equals(Optional.of(v5)));
      Optional<Seen> connected = node.firstAfter(mark, SyncEvent.Connected.class);
      say(
          node.name
              + " reconnected "
              + connected.map(c -> millis(c.nanos - restartedAt)).orElse("?")
              + " after the restart and applied "
              + label(v5)
              + " "
              + millis(applied.nanos - restartedAt)
              + " after it; serves "
              + serviceNames(node.client()));
    }
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      String id = node.nodeId().toString();
      List<String> received = node.hashesSince(marks.get(i));
      check(
          received.equals(List.of(v5)),
          node.name
              + " received exactly one configuration after the restart: only v5 ("
              + v5.substring(0, 8)
              + "), never v3 or v4",
          "only " + label(v5),
          received.stream().map(this::label).collect(Collectors.joining(", ")));
      int frames =
          controlPlane.connectedNodes().stream()
              .filter(n -> n.nodeId().equals(id))
              .mapToInt(TestControlPlane.NodeInfo::configFramesSent)
              .findFirst()
              .orElse(-1);
      check(
          frames == 1,
          "  The control plane's own count: "
              + frames
              + " configuration frame sent to "
              + node.name
              + " on this connection",
          "1 configuration frame",
          String.valueOf(frames));
      check(
          controlPlane.lastReportedHash(id).equals(Optional.of(v5)),
          "  " + node.name + "'s heartbeat tells the control plane it runs " + label(v5),
          label(v5),
          controlPlane.lastReportedHash(id).map(this::label).orElse("nothing"));
    }
  }

  private void stepShutdown(TestControlPlane controlPlane) {
    header(8, "Shutting down");
    List<SyncStatus> last = new ArrayList<>();
    for (Node node : nodes) {
      last.add(node.client().status());
      node.client().close();
    }
    controlPlane.close();
    for (Node node : nodes) {
      check(
          node.events.stream().anyMatch(s -> s.event instanceof SyncEvent.Stopped),
          node.name + " stopped cleanly",
          "a Stopped event",
          "none");
    }
    check(!controlPlane.isRunning(), "Control plane stopped", "not running", "running");
    out.println();
    String format = "  %-5s %-36s  %-13s  %-13s  %7s  %10s%n";
    out.printf(Locale.ROOT, format, "node", "node id", "hash", "source", "applies", "reconnects");
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      SyncStatus status = last.get(i);
      out.printf(
          Locale.ROOT,
          format,
          node.name,
          status.nodeId(),
          label(status.hash()),
          status.source(),
          node.applied.size(),
          node.connections() - 1);
    }
    out.println("  (dp-2's counts cover both of its runs.)");
    out.println();
    List<List<String>> expected =
        List.of(List.of("v1", "v2", "v5"), List.of("v1", "v2", "v2 from its cache", "v5"));
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      List<String> history =
          node.applied.stream()
              .map(
                  a ->
                      labels.getOrDefault(a.hash, "unknown")
                          + (a.source == SnapshotSource.CACHE ? " from its cache" : ""))
              .collect(Collectors.toList());
      check(
          history.equals(expected.get(i)),
          node.name + " ran " + String.join(", then ", history) + ": never v3 or v4",
          String.join(", ", expected.get(i)),
          String.join(", ", history));
    }
  }

  // ---- publishing -----------------------------------------------------------------------------

  /** Publishes a small Kong-style declarative configuration and narrates it. */
  private String publish(
      TestControlPlane controlPlane, String version, List<String> services, boolean rateLimit) {
    ObjectNode config = JSON.createObjectNode();
    config.put("_format_version", "3.0");
    ArrayNode serviceArray = config.putArray("services");
    ArrayNode routeArray = config.putArray("routes");
    for (String name : services) {
      serviceArray.addObject().put("name", name).put("url", "http://" + name + ".internal:8080");
      ObjectNode route = routeArray.addObject();
      route.put("name", name);
      route.putObject("service").put("name", name);
      route.putArray("paths").add("/" + name);
    }
    if (rateLimit) {
      ObjectNode plugin = config.putArray("plugins").addObject();
      plugin.put("name", "rate-limiting");
      plugin.putObject("config").put("minute", 600).put("policy", "local");
    }
    String hash;
    try {
      hash = controlPlane.publish(JSON.writeValueAsString(config));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    labels.put(hash, version);
    say(
        "Published "
            + label(hash)
            + ": services "
            + services
            + ", a route per service"
            + (rateLimit ? ", rate-limiting plugin" : ""));
    return hash;
  }

  private static List<String> serviceNames(ConfigSyncClient client) {
    List<String> names = new ArrayList<>();
    client
        .current()
        .ifPresent(
            s -> {
              for (JsonNode service : s.config().path("services")) {
                names.add(service.path("name").asText());
              }
            });
    return names;
  }

  /** The {@code config_hash} inside a cached payload, as {@code zcat config.json.gz} shows it. */
  private static String cachedConfigHash(Path file) throws IOException {
    byte[] gz = Files.readAllBytes(file);
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      return JSON.readTree(in).path("config_hash").asText("(none)");
    }
  }

  // ---- the data planes ------------------------------------------------------------------------

  /** Something a node's listener saw, with when (System.nanoTime). */
  private record Seen(SyncEvent event, long nanos) {}

  /** A configuration a node applied, with when (System.nanoTime). */
  private record Applied(String hash, SnapshotSource source, long nanos) {}

  /** One data plane: a name, a cache directory, and a client (replaced when it restarts). */
  private final class Node {
    final String name;
    final Path cacheDir;
    final TlsConfig tls;
    final URI controlPlane;
    final List<Applied> applied = new CopyOnWriteArrayList<>();
    final List<Seen> events = new CopyOnWriteArrayList<>();
    private @Nullable ConfigSyncClient client;

    Node(String name, Path cacheDir, TlsConfig tls, URI controlPlane) {
      this.name = name;
      this.cacheDir = cacheDir;
      this.tls = tls;
      this.controlPlane = controlPlane;
    }

    /** Builds and starts a client on this node's cache directory. */
    void start() throws IOException {
      ConfigSyncClient c =
          ConfigSyncClient.builder()
              .controlPlane(controlPlane)
              .transport(OkHttpTransport.create(tls))
              .snapshotStore(FileSnapshotStore.open(cacheDir))
              .nodeHostname(name)
              .heartbeatInterval(HEARTBEAT)
              .deadAfter(DEAD_AFTER)
              .reconnectDelay(RETRY_MIN, RETRY_MAX)
              .handshakeTimeout(HANDSHAKE_TIMEOUT)
              .label("demo", name)
              .onSnapshot(
                  s -> {
                    applied.add(new Applied(s.hash(), s.source(), System.nanoTime()));
                    wake();
                  })
              .onEvent(
                  e -> {
                    events.add(new Seen(e, System.nanoTime()));
                    wake();
                  })
              .build();
      client = c;
      c.start();
    }

    ConfigSyncClient client() {
      return Objects.requireNonNull(client, "not started");
    }

    UUID nodeId() {
      return client().status().nodeId();
    }

    Optional<Seen> firstAfter(int mark, Class<? extends SyncEvent> type) {
      return events.subList(mark, events.size()).stream()
          .filter(s -> type.isInstance(s.event))
          .findFirst();
    }

    List<String> hashesSince(int mark) {
      return applied.subList(mark, applied.size()).stream()
          .map(Applied::hash)
          .collect(Collectors.toList());
    }

    long countAfter(int mark, Class<? extends SyncEvent> type) {
      return events.subList(mark, events.size()).stream()
          .filter(s -> type.isInstance(s.event))
          .count();
    }

    Seen lastAfter(int mark, Class<? extends SyncEvent> type) {
      List<Seen> seen = events.subList(mark, events.size());
      for (int i = seen.size() - 1; i >= 0; i--) {
        if (type.isInstance(seen.get(i).event)) {
          return seen.get(i);
        }
      }
      throw new IllegalStateException("no " + type.getSimpleName() + " event");
    }

    long connections() {
      return events.stream().filter(s -> s.event instanceof SyncEvent.Connected).count();
    }

    void closeQuietly() {
      ConfigSyncClient c = client;
      if (c != null) {
        c.close();
      }
    }
  }

  private List<Integer> marks() {
    return nodes.stream().map(n -> n.applied.size()).collect(Collectors.toList());
  }

  private List<Integer> eventMarks() {
    return nodes.stream().map(n -> n.events.size()).collect(Collectors.toList());
  }

  private Applied awaitApplied(Node node, String hash, int mark) throws InterruptedException {
    await(node.name + " applies " + label(hash), () -> node.hashesSince(mark).contains(hash));
    return node.applied.subList(mark, node.applied.size()).stream()
        .filter(a -> a.hash.equals(hash))
        .findFirst()
        .orElseThrow();
  }

  // ---- waiting, checking, narrating -----------------------------------------------------------

  private void wake() {
    synchronized (signal) {
      signal.notifyAll();
    }
  }

  /**
   * Waits until {@code condition} holds: re-checked whenever a node's listener sees something, and
   * every 20 ms for what no listener reports (the control plane's view). Fails the demo after
   * {@link #WAIT}.
   */
  private void await(String expectation, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    synchronized (signal) {
      while (!condition.getAsBoolean()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          failed("expected " + expectation + " within " + seconds(WAIT) + "; it did not happen");
          throw new StepFailed();
        }
        signal.wait(Math.max(1, Math.min(20, left / 1_000_000)));
      }
    }
  }

  /** Says {@code claim} when {@code ok}; otherwise says FAILED with what was expected. */
  private void check(boolean ok, String claim, String expected, String actual) {
    if (ok) {
      passed++;
      say(claim);
    } else {
      failed(claim.strip() + " -- expected " + expected + ", got " + actual);
    }
  }

  private void failed(String what) {
    failures.add(what);
    out.println("  FAILED: " + what);
  }

  private void header(int step, String title) {
    out.println();
    out.println("[" + step + "/" + STEPS + "] " + title);
  }

  private void say(String line) {
    out.println("  " + line);
  }

  /**
   * A hash as {@code 9f3c1a2b (v2)}: its first 8 characters and the version it was published as.
   */
  private String label(@Nullable String hash) {
    if (hash == null) {
      return "nothing";
    }
    return hash.substring(0, Math.min(8, hash.length()))
        + " ("
        + labels.getOrDefault(hash, "unknown")
        + ")";
  }

  private static String millis(long nanos) {
    return nanos < 10_000_000
        ? String.format(Locale.ROOT, "%.1f ms", nanos / 1e6)
        : (nanos / 1_000_000) + " ms";
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0
        ? d.toSeconds() + " s"
        : String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }

  private static String describe(Throwable e) {
    StringBuilder text = new StringBuilder(e.toString());
    for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
      text.append(" (caused by ").append(cause).append(')');
    }
    return text.toString();
  }

  /** Closes whatever still runs; safe to call twice. */
  private void stopEverything() {
    for (Node node : nodes) {
      try {
        node.closeQuietly();
      } catch (RuntimeException e) {
        out.println("  (closing " + node.name + " failed: " + describe(e) + ")");
      }
    }
    TestControlPlane controlPlane = cp;
    if (controlPlane != null) {
      controlPlane.close();
    }
  }

  private static void deleteRecursively(Path dir, PrintStream out) {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
        Files.delete(p);
      }
      out.println("Deleted " + dir + ".");
    } catch (IOException e) {
      out.println("Could not delete " + dir + ": " + e);
    }
  }

  /** Thrown after a failed wait, to skip the steps that depend on it. */
  private static final class StepFailed extends RuntimeException {
    StepFailed() {
      super(null, null, false, false);
    }
  }
}

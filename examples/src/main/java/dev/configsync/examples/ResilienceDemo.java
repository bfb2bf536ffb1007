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
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.DataPlaneSyncStatus;
import dev.configsync.cp.FileConfigStore;
import dev.configsync.cp.PublishResult;
import dev.configsync.cp.PublishedConfig;
import dev.configsync.cp.ServerTls;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.testkit.TestPki;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
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
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.jspecify.annotations.Nullable;

/**
 * The resilience demo: a control plane ({@link ControlPlaneServer}, with its store on disk and its
 * admin HTTP API) and two data planes on 127.0.0.1, over real mutual TLS, with real caches on disk.
 * It publishes (through the Java API and through the admin API, as an operator would), kills the
 * control plane, restarts a data plane from its cache, publishes while the nodes cannot reach any
 * control plane, brings the control plane back on its store, and checks every claim it narrates.
 *
 * <pre>
 * mvn -B -q install -DskipTests &amp;&amp; java -jar examples/target/configsync-demo.jar [--keep]
 * </pre>
 *
 * <p>{@code --keep} keeps the temporary directory (certificates are in memory; the directory holds
 * each node's {@code config.json.gz} and {@code node.id}, and the control plane's store). {@code
 * -Dconfigsync.demo.verbose=true} shows configsync's INFO logs and stack traces. Exit code 0 when
 * every check passed, 1 otherwise.
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

  private final PrintStream out;
  private final Path workDir;
  private final Path storeDir;
  private final Object signal = new Object();
  private final Map<String, String> labels = new LinkedHashMap<>();
  private final List<String> failures = new ArrayList<>();
  private final List<Node> nodes = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();
  private int passed;
  private List<Integer> downMarks = List.of();
  private String servedDuringOutage = "";
  private @Nullable ServerTls serverTls;
  private @Nullable ControlPlaneServer cp;
  private @Nullable ControlPlaneServer standIn;
  private int port;
  private int adminPort;

  private ResilienceDemo(PrintStream out, Path workDir) {
    this.out = out;
    this.workDir = workDir;
    this.storeDir = workDir.resolve("cp-store");
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
    out.println("configsync resilience demo: a control plane and two data planes on 127.0.0.1,");
    out.println("over mutual TLS, each data plane with its own cache on disk, the control plane");
    out.println("with its configuration store on disk and its admin HTTP API.");
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

    stepStart();
    stepFirstConfiguration();
    stepSecondConfiguration();
    stepStopControlPlane();
    stepRestartFromCache();
    stepPublishWhileDown();
    stepControlPlaneBack();
    stepShutdown();
  }

  /** A control plane on {@code listenPort} (0: any) sharing {@link #storeDir}, admin API on. */
  private ControlPlaneServer startControlPlane(int listenPort, int adminListenPort)
      throws IOException {
    return ControlPlaneServer.builder()
        .tls(Objects.requireNonNull(serverTls, "serverTls"))
        .listen("127.0.0.1", listenPort)
        .admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), adminListenPort))
        .configStore(FileConfigStore.open(storeDir, ConfigSyncClient.DEFAULT_MAX_PAYLOAD_BYTES))
        .heartbeatInterval(HEARTBEAT)
        .deadAfter(DEAD_AFTER)
        .handshakeTimeout(HANDSHAKE_TIMEOUT)
        .start();
  }

  private ControlPlaneServer controlPlane() {
    return Objects.requireNonNull(cp, "no control plane");
  }

  private URI controlPlaneUri() {
    return URI.create("wss://localhost:" + port);
  }

  /** What the control plane knows of {@code node}, if it lists it. */
  private Optional<DataPlaneInfo> seenBy(ControlPlaneServer server, Node node) {
    String id = node.nodeId().toString();
    return server.dataPlanes().stream().filter(n -> n.id().equals(id)).findFirst();
  }

  private void stepStart() throws IOException, InterruptedException {
    header(1, "Starting a control plane and two data planes");
    TestPki pki = TestPki.create();
    serverTls =
        ServerTls.pkiFromPem(
            pki.controlPlaneCertificate().certificatePem(),
            pki.controlPlaneCertificate().privateKeyPkcs8Pem(),
            pki.ca().certificatePem());
    ControlPlaneServer controlPlane = startControlPlane(0, 0);
    cp = controlPlane;
    port = controlPlane.address().getPort();
    adminPort = controlPlane.adminAddress().orElseThrow().getPort();
    say(
        "Control plane listening on "
            + controlPlaneUri()
            + " (certificates from a throwaway CA made just now),");
    say(
        "admin API on http://127.0.0.1:"
            + adminPort
            + ", configuration stored in "
            + workDir.relativize(storeDir)
            + "/.");
    say("Starting dp-1 and dp-2 on empty cache directories (first boot), each declaring the");
    say("plugins it can run (rate-limiting 3.9.0). Each starts EMPTY,");
    say("and configsync logs a WARN saying so: expected here.");
    for (String name : List.of("dp-1", "dp-2")) {
      Node node = new Node(name, workDir.resolve(name), pki.dataPlaneTls(), controlPlaneUri());
      nodes.add(node);
      node.start();
    }
    for (Node node : nodes) {
      await(
          node.name + " is connected to the control plane",
          () ->
              node.client().status().state() == SyncState.CONNECTED
                  && seenBy(controlPlane, node).map(DataPlaneInfo::connected).orElse(false));
      say(
          node.name
              + " connected: node id "
              + node.nodeId()
              + ", its own client certificate, cache in "
              + workDir.relativize(node.cacheDir)
              + "/");
    }
  }

  private void stepFirstConfiguration() throws IOException, InterruptedException {
    header(2, "Publishing configuration v1 through the Java API");
    String v1 = publish(controlPlane(), "v1", List.of("orders"), false);
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

  private void stepSecondConfiguration() throws IOException, InterruptedException {
    header(3, "Publishing v2 as YAML through the admin API while both nodes are connected");
    List<Integer> marks = marks();
    List<String> services = List.of("orders", "payments");
    String yaml = yaml(services);
    say("PUT http://127.0.0.1:" + adminPort + "/config with Content-Type: application/yaml, as");
    say("  curl -X PUT ... -H 'Content-Type: application/yaml' --data-binary @kong.yml does:");
    yaml.lines().forEach(line -> say("    | " + line));
    long publishedAt = System.nanoTime();
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/config"))
                .timeout(WAIT)
                .header("Content-Type", "application/yaml")
                .PUT(HttpRequest.BodyPublishers.ofString(yaml))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    JsonNode answer = JSON.readTree(response.body());
    String v2 = answer.path("hash").asText("");
    labels.put(v2, "v2");
    check(
        response.statusCode() == 200 && answer.path("changed").asBoolean(false),
        "The admin API answered "
            + response.statusCode()
            + ": "
            + label(v2)
            + ", changed, "
            + answer.path("payload_bytes").asInt()
            + " bytes compressed, sent to "
            + answer.path("connected_data_planes").asInt()
            + " connected data planes",
        "200 with \"changed\":true",
        response.statusCode() + " " + response.body());
    if (response.statusCode() != 200) {
      throw new StepFailed();
    }
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      Applied applied = awaitApplied(node, v2, marks.get(i));
      say(
          node.name
              + " applied "
              + label(v2)
              + String.format(
                  Locale.ROOT,
                  " %.1f ms after the request was sent (pushed at once, not polled)",
                  (applied.nanos - publishedAt) / 1e6));
    }
  }

  private void stepStopControlPlane() throws InterruptedException {
    header(4, "Killing the control plane");
    String v2 = controlPlane().currentConfig().orElseThrow().hash();
    servedDuringOutage = v2;
    List<Integer> marks = eventMarks();
    downMarks = marks;
    long stoppedAt = System.nanoTime();
    controlPlane().close();
    say("Control plane stopped: its listener is closed and every connection dropped (it logs");
    say("a WARN for each node it disconnects: expected here).");
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

  private void stepPublishWhileDown() throws IOException, InterruptedException {
    header(6, "Publishing v3, v4 and v5 while the control plane is down");
    String v2 = servedDuringOutage;
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      int mark = downMarks.get(i);
      await(
          node.name + " fails to reconnect at least once",
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
    ControlPlaneServer other = startControlPlane(0, 0);
    standIn = other;
    say(
        "Nothing listens on port "
            + port
            + ". A second control plane process, on port "
            + other.address().getPort()
            + " that no node knows, shares");
    say(
        "the store directory "
            + workDir.relativize(storeDir)
            + "/ and takes the publishes, as an operator would while the first is repaired.");
    String v3 = publish(other, "v3", List.of("orders", "payments", "inventory"), false);
    String v4 = publish(other, "v4", List.of("orders", "payments", "inventory"), true);
    String v5 = publish(other, "v5", List.of("orders", "payments", "inventory", "shipping"), true);
    List<Integer> afterPublish = eventMarks();
    other.close();
    say("The second control plane stopped.");
    Path stored = storeDir.resolve("config.json.gz");
    String inStore = cachedConfigHash(stored);
    check(
        inStore.equals(v5),
        "The store keeps only the latest: "
            + workDir.relativize(stored)
            + " holds "
            + label(inStore)
            + "; "
            + label(v3)
            + " and "
            + label(v4)
            + " are gone",
        "latest " + label(v5),
        label(inStore));
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      int mark = afterPublish.get(i);
      await(
          node.name + " tries its control plane again after the publishes",
          () -> node.firstAfter(mark, SyncEvent.Disconnected.class).isPresent());
      String serving = node.client().status().hash();
      check(
          v2.equals(serving),
          node.name
              + " tried again after v5 was published, cannot get it (nothing listens on its"
              + " control plane's port), and still runs "
              + label(serving),
          label(v2),
          label(serving));
    }
  }

  private void stepControlPlaneBack() throws IOException, InterruptedException {
    header(7, "Bringing the control plane back on the same port, " + port + ", and the same store");
    Path stored = storeDir.resolve("config.json.gz");
    String v5 = cachedConfigHash(stored);
    List<Integer> marks = marks();
    List<Integer> eventMarks = eventMarks();
    List<Long> appliedCounts =
        nodes.stream().map(n -> n.client().status().applied()).collect(Collectors.toList());
    long restartedAt = System.nanoTime();
    ControlPlaneServer controlPlane = startControlPlane(port, adminPort);
    cp = controlPlane;
    Optional<PublishedConfig> loaded = controlPlane.currentConfig();
    check(
        loaded.map(PublishedConfig::hash).equals(Optional.of(v5)),
        "Control plane listening again on "
            + controlPlaneUri()
            + "; it loaded "
            + loaded.map(c -> label(c.hash())).orElse("nothing")
            + " from its store, published at "
            + loaded.map(c -> c.publishedAt().toString()).orElse("?"),
        label(v5) + " from the store",
        loaded.map(c -> label(c.hash())).orElse("nothing"));
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      int mark = eventMarks.get(i);
      Applied applied = awaitApplied(node, v5, marks.get(i));
      await(
          node.name + " reports " + label(v5) + " in its heartbeat",
          () ->
              seenBy(controlPlane, node)
                  .map(n -> n.connected() && n.configHash().equals(v5))
                  .orElse(false));
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
      List<String> received = node.hashesSince(marks.get(i));
      check(
          received.equals(List.of(v5)),
          node.name
              + " received exactly one configuration after the restart: only v5 ("
              + v5.substring(0, 8)
              + "), never v3 or v4",
          "only " + label(v5),
          received.stream().map(this::label).collect(Collectors.joining(", ")));
      long before = appliedCounts.get(i);
      long after = node.client().status().applied();
      check(
          after - before == 1,
          "  The node's own count (status().applied()): "
              + before
              + " -> "
              + after
              + ", one configuration applied since the control plane came back",
          "one more",
          before + " -> " + after);
      Optional<DataPlaneInfo> info = seenBy(controlPlane, node);
      check(
          info.map(n -> n.configHash().equals(v5) && n.syncStatus() == DataPlaneSyncStatus.NORMAL)
              .orElse(false),
          "  "
              + node.name
              + "'s heartbeat tells the control plane it runs "
              + label(v5)
              + " (sync status "
              + info.map(n -> n.syncStatus().wireName()).orElse("?")
              + ")",
          label(v5) + ", normal",
          info.map(n -> label(n.configHash()) + ", " + n.syncStatus().wireName())
              .orElse("not listed"));
    }
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + adminPort + "/clustering/data-planes"))
                .timeout(WAIT)
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
    List<String> rows = new ArrayList<>();
    for (JsonNode n : JSON.readTree(response.body()).path("data")) {
      rows.add(
          n.path("hostname").asText()
              + (n.path("connected").asBoolean() ? " connected" : " disconnected")
              + " on "
              + label(n.path("config_hash").asText())
              + ", "
              + n.path("sync_status").asText());
    }
    Collections.sort(rows);
    List<String> expected =
        nodes.stream()
            .map(n -> n.name + " connected on " + label(v5) + ", normal")
            .sorted()
            .collect(Collectors.toList());
    check(
        response.statusCode() == 200 && rows.equals(expected),
        "GET http://127.0.0.1:" + adminPort + "/clustering/data-planes: " + String.join("; ", rows),
        String.join("; ", expected),
        response.statusCode() + " " + String.join("; ", rows));
  }

  private void stepShutdown() {
    header(8, "Shutting down");
    List<SyncStatus> last = new ArrayList<>();
    for (Node node : nodes) {
      last.add(node.client().status());
      node.client().close();
    }
    controlPlane().close();
    for (Node node : nodes) {
      check(
          node.events.stream().anyMatch(s -> s.event instanceof SyncEvent.Stopped),
          node.name + " stopped cleanly",
          "a Stopped event",
          "none");
    }
    String portState;
    try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      portState = probe.isBound() ? "free" : "not bound";
    } catch (IOException e) {
      portState = "still taken (" + e.getMessage() + ")";
    }
    check(
        portState.equals("free"),
        "Control plane stopped: port " + port + " is free again",
        "free",
        portState);
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

  /** Publishes a small Kong-style declarative configuration with the Java API and narrates it. */
  private String publish(
      ControlPlaneServer controlPlane, String version, List<String> services, boolean rateLimit) {
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
    PublishResult result = controlPlane.publish(config);
    String hash = result.hash();
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

  /** The same shape of configuration as {@link #publish}, as a declarative YAML file. */
  private static String yaml(List<String> services) {
    StringBuilder y = new StringBuilder("_format_version: \"3.0\"\nservices:\n");
    for (String name : services) {
      y.append("  - name: ").append(name).append('\n');
      y.append("    url: http://").append(name).append(".internal:8080\n");
    }
    y.append("routes:\n");
    for (String name : services) {
      y.append("  - name: ").append(name).append('\n');
      y.append("    service: {name: ").append(name).append("}\n");
      y.append("    paths: [/").append(name).append("]\n");
    }
    return y.toString();
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

  /**
   * The {@code config_hash} inside a stored payload (a node's cache or the control plane's store),
   * as {@code zcat config.json.gz} shows it.
   */
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
              // The control plane sends a configuration only to nodes that declare every plugin
              // it uses (v4 and v5 use rate-limiting).
              .capability("rate-limiting", "3.9.0")
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
      return since(events, mark).stream().filter(s -> type.isInstance(s.event)).findFirst();
    }

    List<String> hashesSince(int mark) {
      return since(applied, mark).stream().map(Applied::hash).collect(Collectors.toList());
    }

    long countAfter(int mark, Class<? extends SyncEvent> type) {
      return since(events, mark).stream().filter(s -> type.isInstance(s.event)).count();
    }

    Seen lastAfter(int mark, Class<? extends SyncEvent> type) {
      List<Seen> seen = since(events, mark);
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

  /**
   * What {@code list} (filled by a listener thread) holds from {@code mark} on, as of now: a copy,
   * since a sub-list of a {@code CopyOnWriteArrayList} throws {@code
   * ConcurrentModificationException} once the listener adds to it (the demo failed so in CI).
   */
  private static <T> List<T> since(List<T> list, int mark) {
    List<T> now = List.copyOf(list);
    return now.subList(Math.min(mark, now.size()), now.size());
  }

  private Applied awaitApplied(Node node, String hash, int mark) throws InterruptedException {
    await(node.name + " applies " + label(hash), () -> node.hashesSince(mark).contains(hash));
    return since(node.applied, mark).stream()
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
    for (ControlPlaneServer server : new ControlPlaneServer[] {standIn, cp}) {
      if (server != null) {
        server.close();
      }
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

package dev.configsync.examples;

import static dev.configsync.examples.DemoConfigs.JSON;
import static dev.configsync.examples.DemoConfigs.cachedConfigHash;
import static dev.configsync.examples.DemoConfigs.config;
import static dev.configsync.examples.DemoConfigs.serviceNames;
import static dev.configsync.examples.DemoConfigs.yaml;
import static dev.configsync.examples.DemoNarrator.describe;
import static dev.configsync.examples.DemoNarrator.millis;
import static dev.configsync.examples.DemoNarrator.seconds;
import static dev.configsync.examples.DemoTimings.DEAD_AFTER;
import static dev.configsync.examples.DemoTimings.HANDSHAKE_TIMEOUT;
import static dev.configsync.examples.DemoTimings.HEARTBEAT;
import static dev.configsync.examples.DemoTimings.RETRY_MAX;
import static dev.configsync.examples.DemoTimings.RETRY_MIN;
import static dev.configsync.examples.DemoTimings.WAIT;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.SyncStatus;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.DataPlaneSyncStatus;
import dev.configsync.cp.FileConfigStore;
import dev.configsync.cp.PublishResult;
import dev.configsync.cp.PublishedConfig;
import dev.configsync.cp.ServerTls;
import dev.configsync.examples.DemoNarrator.StepFailed;
import dev.configsync.examples.DemoNode.Applied;
import dev.configsync.examples.DemoNode.Seen;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The resilience demo's story, step by step: what it starts, publishes, kills and restarts, and
 * every claim it checks and narrates through a {@link DemoNarrator}. {@link ResilienceDemo} runs
 * it.
 *
 * <p>Runs on the thread that calls {@link #tell}; the nodes' listener threads only record what they
 * see (see {@link DemoNode}).
 */
final class DemoStory {
  private static final int STEPS = 8;

  private final PrintStream out;
  private final Path workDir;
  private final Path storeDir;
  private final DemoNarrator narrator;
  private final List<DemoNode> nodes = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(WAIT).build();
  private List<Integer> downMarks = List.of();
  private String servedDuringOutage = "";
  private @Nullable ServerTls serverTls;
  private @Nullable ControlPlaneServer cp;
  private @Nullable ControlPlaneServer standIn;
  private int port;
  private int adminPort;

  DemoStory(PrintStream out, Path workDir) {
    this.out = out;
    this.workDir = workDir;
    this.storeDir = workDir.resolve("cp-store");
    this.narrator = new DemoNarrator(out, STEPS);
  }

  DemoNarrator narrator() {
    return narrator;
  }

  // ---- the story ------------------------------------------------------------------------------

  /** Tells the whole story; {@link StepFailed} when a step failed that the next ones need. */
  void tell() throws IOException, InterruptedException {
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
  private Optional<DataPlaneInfo> seenBy(ControlPlaneServer server, DemoNode node) {
    String id = node.nodeId().toString();
    return server.dataPlanes().stream().filter(n -> n.id().equals(id)).findFirst();
  }

  private void stepStart() throws IOException, InterruptedException {
    narrator.header(1, "Starting a control plane and two data planes");
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
    narrator.say(
        "Control plane listening on "
            + controlPlaneUri()
            + " (certificates from a throwaway CA made just now),");
    narrator.say(
        "admin API on http://127.0.0.1:"
            + adminPort
            + ", configuration stored in "
            + workDir.relativize(storeDir)
            + "/.");
    narrator.say(
        "Starting dp-1 and dp-2 on empty cache directories (first boot), each declaring the");
    narrator.say("plugins it can run (rate-limiting 3.9.0). Each starts EMPTY,");
    narrator.say("and configsync logs a WARN saying so: expected here.");
    for (String name : List.of("dp-1", "dp-2")) {
      DemoNode node =
          new DemoNode(
              name, workDir.resolve(name), pki.dataPlaneTls(), controlPlaneUri(), narrator::wake);
      nodes.add(node);
      node.start();
    }
    for (DemoNode node : nodes) {
      narrator.await(
          node.name + " is connected to the control plane",
          () ->
              node.client().status().state() == SyncState.CONNECTED
                  && seenBy(controlPlane, node).map(DataPlaneInfo::connected).orElse(false));
      narrator.say(
          node.name
              + " connected: node id "
              + node.nodeId()
              + ", its own client certificate, cache in "
              + workDir.relativize(node.cacheDir)
              + "/");
    }
  }

  private void stepFirstConfiguration() throws IOException, InterruptedException {
    narrator.header(2, "Publishing configuration v1 through the Java API");
    String v1 = publish(controlPlane(), "v1", List.of("orders"), false);
    for (DemoNode node : nodes) {
      Applied applied = awaitApplied(node, v1, 0);
      narrator.check(
          applied.source() == SnapshotSource.CONTROL_PLANE,
          node.name + " applied " + narrator.label(v1) + " from " + applied.source(),
          "source CONTROL_PLANE",
          String.valueOf(applied.source()));
      narrator.say("  " + node.name + " serves services " + serviceNames(node.client()));
    }
    for (DemoNode node : nodes) {
      Path file = node.cacheDir.resolve("config.json.gz");
      long size = Files.size(file);
      String cached = cachedConfigHash(file);
      narrator.check(
          cached.equals(v1),
          node.name
              + " cached it: "
              + workDir.relativize(file)
              + ", "
              + size
              + " bytes; zcat shows \"config_hash\":\""
              + cached
              + "\" = "
              + narrator.label(cached),
          "config_hash " + v1,
          cached);
    }
  }

  private void stepSecondConfiguration() throws IOException, InterruptedException {
    narrator.header(
        3, "Publishing v2 as YAML through the admin API while both nodes are connected");
    List<Integer> marks = marks();
    List<String> services = List.of("orders", "payments");
    String yaml = yaml(services);
    narrator.say(
        "PUT http://127.0.0.1:" + adminPort + "/config with Content-Type: application/yaml, as");
    narrator.say(
        "  curl -X PUT ... -H 'Content-Type: application/yaml' --data-binary @kong.yml does:");
    yaml.lines().forEach(line -> narrator.say("    | " + line));
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
    narrator.name(v2, "v2");
    narrator.check(
        response.statusCode() == 200 && answer.path("changed").asBoolean(false),
        "The admin API answered "
            + response.statusCode()
            + ": "
            + narrator.label(v2)
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
      DemoNode node = nodes.get(i);
      Applied applied = awaitApplied(node, v2, marks.get(i));
      narrator.say(
          node.name
              + " applied "
              + narrator.label(v2)
              + String.format(
                  Locale.ROOT,
                  " %.1f ms after the request was sent (pushed at once, not polled)",
                  (applied.nanos() - publishedAt) / 1e6));
    }
  }

  private void stepStopControlPlane() throws InterruptedException {
    narrator.header(4, "Killing the control plane");
    String v2 = controlPlane().currentConfig().orElseThrow().hash();
    servedDuringOutage = v2;
    List<Integer> marks = eventMarks();
    downMarks = marks;
    long stoppedAt = System.nanoTime();
    controlPlane().close();
    narrator.say(
        "Control plane stopped: its listener is closed and every connection dropped (it logs");
    narrator.say("a WARN for each node it disconnects: expected here).");
    for (int i = 0; i < nodes.size(); i++) {
      DemoNode node = nodes.get(i);
      int mark = marks.get(i);
      narrator.await(
          node.name + " notices that the control plane is gone",
          () -> node.firstAfter(mark, SyncEvent.Disconnected.class).isPresent());
      Seen seen = node.firstAfter(mark, SyncEvent.Disconnected.class).orElseThrow();
      SyncEvent.Disconnected lost = (SyncEvent.Disconnected) seen.event();
      narrator.say(
          node.name
              + " noticed after "
              + millis(seen.nanos() - stoppedAt)
              + ": \""
              + lost.reason()
              + "\"");
      String serving = node.client().status().hash();
      narrator.check(
          v2.equals(serving),
          "  It keeps serving "
              + narrator.label(serving)
              + "; next connection attempt in "
              + lost.retryIn().toMillis()
              + " ms.",
          "still serving " + narrator.label(v2),
          narrator.label(serving));
    }
    narrator.say(
        "(A control plane that hangs instead of closing is caught by the heartbeat: no frame for "
            + seconds(DEAD_AFTER)
            + " -> disconnect.)");
  }

  private void stepRestartFromCache() throws IOException, InterruptedException {
    narrator.header(5, "Restarting dp-2 while the control plane is down");
    DemoNode node = nodes.get(1);
    UUID before = node.nodeId();
    String hash = Objects.requireNonNull(node.client().status().hash(), "dp-2 runs nothing");
    node.client().close();
    narrator.say(
        node.name
            + " closed. Starting a new client on the same cache directory, as a restart would.");
    long startAt = System.nanoTime();
    node.start();
    long startedIn = System.nanoTime() - startAt;
    Optional<ConfigSnapshot> current = node.client().current();
    SyncStatus status = node.client().status();
    narrator.check(
        current.isPresent()
            && current.get().hash().equals(hash)
            && current.get().source() == SnapshotSource.CACHE,
        node.name
            + " serves "
            + narrator.label(hash)
            + " from "
            + current.map(ConfigSnapshot::source).orElse(null)
            + " as soon as start() returns ("
            + millis(startedIn)
            + "), with no control plane to talk to",
        narrator.label(hash) + " from CACHE",
        current.map(s -> narrator.label(s.hash()) + " from " + s.source()).orElse("nothing"));
    narrator.check(
        status.nodeId().equals(before),
        "  Same node id as before the restart: " + status.nodeId(),
        "node id " + before,
        String.valueOf(status.nodeId()));
  }

  private void stepPublishWhileDown() throws IOException, InterruptedException {
    narrator.header(6, "Publishing v3, v4 and v5 while the control plane is down");
    String v2 = servedDuringOutage;
    for (int i = 0; i < nodes.size(); i++) {
      DemoNode node = nodes.get(i);
      int mark = downMarks.get(i);
      narrator.await(
          node.name + " fails to reconnect at least once",
          () -> node.countAfter(mark, SyncEvent.Disconnected.class) >= 2);
      SyncEvent.Disconnected refused =
          (SyncEvent.Disconnected) node.lastAfter(mark, SyncEvent.Disconnected.class).event();
      String serving = node.client().status().hash();
      narrator.check(
          v2.equals(serving),
          node.name
              + " keeps trying (\""
              + refused.reason()
              + "\") and keeps serving "
              + narrator.label(serving),
          "still serving " + narrator.label(v2),
          narrator.label(serving));
    }
    ControlPlaneServer other = startControlPlane(0, 0);
    standIn = other;
    narrator.say(
        "Nothing listens on port "
            + port
            + ". A second control plane process, on port "
            + other.address().getPort()
            + " that no node knows, shares");
    narrator.say(
        "the store directory "
            + workDir.relativize(storeDir)
            + "/ and takes the publishes, as an operator would while the first is repaired.");
    String v3 = publish(other, "v3", List.of("orders", "payments", "inventory"), false);
    String v4 = publish(other, "v4", List.of("orders", "payments", "inventory"), true);
    String v5 = publish(other, "v5", List.of("orders", "payments", "inventory", "shipping"), true);
    List<Integer> afterPublish = eventMarks();
    other.close();
    narrator.say("The second control plane stopped.");
    Path stored = storeDir.resolve("config.json.gz");
    String inStore = cachedConfigHash(stored);
    narrator.check(
        inStore.equals(v5),
        "The store keeps only the latest: "
            + workDir.relativize(stored)
            + " holds "
            + narrator.label(inStore)
            + "; "
            + narrator.label(v3)
            + " and "
            + narrator.label(v4)
            + " are gone",
        "latest " + narrator.label(v5),
        narrator.label(inStore));
    for (int i = 0; i < nodes.size(); i++) {
      DemoNode node = nodes.get(i);
      int mark = afterPublish.get(i);
      narrator.await(
          node.name + " tries its control plane again after the publishes",
          () -> node.firstAfter(mark, SyncEvent.Disconnected.class).isPresent());
      String serving = node.client().status().hash();
      narrator.check(
          v2.equals(serving),
          node.name
              + " tried again after v5 was published, cannot get it (nothing listens on its"
              + " control plane's port), and still runs "
              + narrator.label(serving),
          narrator.label(v2),
          narrator.label(serving));
    }
  }

  private void stepControlPlaneBack() throws IOException, InterruptedException {
    narrator.header(
        7, "Bringing the control plane back on the same port, " + port + ", and the same store");
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
    narrator.check(
        loaded.map(PublishedConfig::hash).equals(Optional.of(v5)),
        "Control plane listening again on "
            + controlPlaneUri()
            + "; it loaded "
            + loaded.map(c -> narrator.label(c.hash())).orElse("nothing")
            + " from its store, published at "
            + loaded.map(c -> c.publishedAt().toString()).orElse("?"),
        narrator.label(v5) + " from the store",
        loaded.map(c -> narrator.label(c.hash())).orElse("nothing"));
    for (int i = 0; i < nodes.size(); i++) {
      DemoNode node = nodes.get(i);
      int mark = eventMarks.get(i);
      Applied applied = awaitApplied(node, v5, marks.get(i));
      narrator.await(
          node.name + " reports " + narrator.label(v5) + " in its heartbeat",
          () ->
              seenBy(controlPlane, node)
                  .map(n -> n.connected() && n.configHash().equals(v5))
                  .orElse(false));
      Optional<Seen> connected = node.firstAfter(mark, SyncEvent.Connected.class);
      narrator.say(
          node.name
              + " reconnected "
              + connected.map(c -> millis(c.nanos() - restartedAt)).orElse("?")
              + " after the restart and applied "
              + narrator.label(v5)
              + " "
              + millis(applied.nanos() - restartedAt)
              + " after it; serves "
              + serviceNames(node.client()));
    }
    for (int i = 0; i < nodes.size(); i++) {
      DemoNode node = nodes.get(i);
      List<String> received = node.hashesSince(marks.get(i));
      narrator.check(
          received.equals(List.of(v5)),
          node.name
              + " received exactly one configuration after the restart: only v5 ("
              + v5.substring(0, 8)
              + "), never v3 or v4",
          "only " + narrator.label(v5),
          received.stream().map(narrator::label).collect(Collectors.joining(", ")));
      long before = appliedCounts.get(i);
      long after = node.client().status().applied();
      narrator.check(
          after - before == 1,
          "  The node's own count (status().applied()): "
              + before
              + " -> "
              + after
              + ", one configuration applied since the control plane came back",
          "one more",
          before + " -> " + after);
      Optional<DataPlaneInfo> info = seenBy(controlPlane, node);
      narrator.check(
          info.map(n -> n.configHash().equals(v5) && n.syncStatus() == DataPlaneSyncStatus.NORMAL)
              .orElse(false),
          "  "
              + node.name
              + "'s heartbeat tells the control plane it runs "
              + narrator.label(v5)
              + " (sync status "
              + info.map(n -> n.syncStatus().wireName()).orElse("?")
              + ")",
          narrator.label(v5) + ", normal",
          info.map(n -> narrator.label(n.configHash()) + ", " + n.syncStatus().wireName())
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
              + narrator.label(n.path("config_hash").asText())
              + ", "
              + n.path("sync_status").asText());
    }
    Collections.sort(rows);
    List<String> expected =
        nodes.stream()
            .map(n -> n.name + " connected on " + narrator.label(v5) + ", normal")
            .sorted()
            .collect(Collectors.toList());
    narrator.check(
        response.statusCode() == 200 && rows.equals(expected),
        "GET http://127.0.0.1:" + adminPort + "/clustering/data-planes: " + String.join("; ", rows),
        String.join("; ", expected),
        response.statusCode() + " " + String.join("; ", rows));
  }

  private void stepShutdown() {
    narrator.header(8, "Shutting down");
    List<SyncStatus> last = new ArrayList<>();
    for (DemoNode node : nodes) {
      last.add(node.client().status());
      node.client().close();
    }
    controlPlane().close();
    for (DemoNode node : nodes) {
      narrator.check(
          node.events.stream().anyMatch(s -> s.event() instanceof SyncEvent.Stopped),
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
    narrator.check(
        portState.equals("free"),
        "Control plane stopped: port " + port + " is free again",
        "free",
        portState);
    out.println();
    String format = "  %-5s %-36s  %-13s  %-13s  %7s  %10s%n";
    out.printf(Locale.ROOT, format, "node", "node id", "hash", "source", "applies", "reconnects");
    for (int i = 0; i < nodes.size(); i++) {
      DemoNode node = nodes.get(i);
      SyncStatus status = last.get(i);
      out.printf(
          Locale.ROOT,
          format,
          node.name,
          status.nodeId(),
          narrator.label(status.hash()),
          status.source(),
          node.applied.size(),
          node.connections() - 1);
    }
    out.println("  (dp-2's counts cover both of its runs.)");
    out.println();
    List<List<String>> expected =
        List.of(List.of("v1", "v2", "v5"), List.of("v1", "v2", "v2 from its cache", "v5"));
    for (int i = 0; i < nodes.size(); i++) {
      DemoNode node = nodes.get(i);
      List<String> history =
          node.applied.stream()
              .map(
                  a ->
                      narrator.version(a.hash())
                          + (a.source() == SnapshotSource.CACHE ? " from its cache" : ""))
              .collect(Collectors.toList());
      narrator.check(
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
    PublishResult result = controlPlane.publish(config(services, rateLimit));
    String hash = result.hash();
    narrator.name(hash, version);
    narrator.say(
        "Published "
            + narrator.label(hash)
            + ": services "
            + services
            + ", a route per service"
            + (rateLimit ? ", rate-limiting plugin" : ""));
    return hash;
  }

  // ---- the data planes ------------------------------------------------------------------------

  private List<Integer> marks() {
    return nodes.stream().map(n -> n.applied.size()).collect(Collectors.toList());
  }

  private List<Integer> eventMarks() {
    return nodes.stream().map(n -> n.events.size()).collect(Collectors.toList());
  }

  private Applied awaitApplied(DemoNode node, String hash, int mark) throws InterruptedException {
    narrator.await(
        node.name + " applies " + narrator.label(hash),
        () -> node.hashesSince(mark).contains(hash));
    return node.appliedSince(mark, hash).orElseThrow();
  }

  // ---- waiting, checking, narrating -----------------------------------------------------------

  /** Closes whatever still runs; safe to call twice. */
  void stopEverything() {
    for (DemoNode node : nodes) {
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
}

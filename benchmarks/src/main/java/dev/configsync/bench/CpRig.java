package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.cp.ConfigStore;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.ServerTls;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/** What the control-plane measurements share: TLS material, servers, waiting and statistics. */
final class CpRig {
  static final ObjectMapper MAPPER = new ObjectMapper();

  /**
   * The plugins {@link ConfigGenerator} uses: every node declares them, or the control plane
   * withholds the configuration (plugin_set_incompatible).
   */
  static final java.util.Map<String, String> PLUGINS =
      java.util.Map.of(
          "rate-limiting", "0.1.0",
          "key-auth", "0.1.0",
          "cors", "0.1.0",
          "request-transformer", "0.1.0",
          "proxy-cache", "0.1.0",
          "acl", "0.1.0");

  /** A client builder that declares {@link #PLUGINS}. */
  static dev.configsync.ConfigSyncClient.Builder declarePlugins(
      dev.configsync.ConfigSyncClient.Builder builder) {
    PLUGINS.forEach(builder::capability);
    return builder;
  }

  private CpRig() {}

  /** The control plane's TLS from a throwaway PKI (the same CA signs the data planes). */
  static ServerTls serverTls(TestPki pki) {
    return ServerTls.pkiFromPem(
        pki.controlPlaneCertificate().certificatePem(),
        pki.controlPlaneCertificate().privateKeyPkcs8Pem(),
        pki.ca().certificatePem());
  }

  /** A control plane on 127.0.0.1 ({@code port} 0: any free port), no admin API. */
  static ControlPlaneServer startControlPlane(
      TestPki pki, int port, ConfigStore store, long maxPayloadBytes) throws IOException {
    return ControlPlaneServer.builder()
        .tls(serverTls(pki))
        .listen(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port))
        .configStore(store)
        .maxPayloadBytes(maxPayloadBytes)
        .tlsReloadInterval(Duration.ZERO)
        .start();
  }

  /**
   * A control plane on 127.0.0.1 ({@code port} 0: any free port) with its admin API on another free
   * loopback port (no token: loopback only).
   */
  static ControlPlaneServer startWithAdmin(TestPki pki, ConfigStore store, long maxPayloadBytes)
      throws IOException {
    return ControlPlaneServer.builder()
        .tls(serverTls(pki))
        .listen(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))
        .admin(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))
        .configStore(store)
        .maxPayloadBytes(maxPayloadBytes)
        .tlsReloadInterval(Duration.ZERO)
        .start();
  }

  private static final java.net.http.HttpClient ADMIN =
      java.net.http.HttpClient.newBuilder()
          .version(java.net.http.HttpClient.Version.HTTP_1_1)
          .build();

  /**
   * {@code PUT /config/{collection}/{key}} on {@code cp}'s admin API with {@code entity} as the
   * body; returns the hash the control plane answers with.
   *
   * @throws IllegalStateException when the answer is not 200
   */
  static String putEntity(ControlPlaneServer cp, String collection, String key, byte[] entity)
      throws IOException, InterruptedException {
    InetSocketAddress admin =
        cp.adminAddress().orElseThrow(() -> new IllegalStateException("no admin API"));
    java.net.http.HttpResponse<String> answer =
        ADMIN.send(
            java.net.http.HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:"
                            + admin.getPort()
                            + "/config/"
                            + collection
                            + "/"
                            + java.net.URLEncoder.encode(
                                key, java.nio.charset.StandardCharsets.UTF_8)))
                .header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofByteArray(entity))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    if (answer.statusCode() != 200) {
      throw new IllegalStateException(
          "PUT /config/"
              + collection
              + "/"
              + key
              + " answered "
              + answer.statusCode()
              + ": "
              + answer.body());
    }
    return MAPPER.readTree(answer.body()).path("hash").asText();
  }

  /** The data plane URI of {@code cp}. */
  static URI uri(ControlPlaneServer cp) {
    return URI.create("wss://127.0.0.1:" + cp.address().getPort());
  }

  /** A configuration of about {@code bytes} bytes of JSON, as an embedder's (mutable) tree. */
  static JsonNode config(long seed, int bytes) {
    try {
      return MAPPER.readTree(ConfigGenerator.generate(seed, bytes));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits (polling every millisecond) until {@code condition} holds; fails after {@code max}. */
  static void await(String what, Duration max, BooleanSupplier condition) {
    long deadline = System.nanoTime() + max.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out after " + max + " waiting for " + what);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  /** How many nodes the control plane lists as connected and reporting {@code hash}. */
  static int nodesOn(ControlPlaneServer cp, String hash) {
    int n = 0;
    for (DataPlaneInfo node : cp.dataPlanes()) {
      if (node.connected() && node.configHash().equals(hash)) {
        n++;
      }
    }
    return n;
  }

  /** How many nodes the control plane lists as connected. */
  static int connected(ControlPlaneServer cp) {
    int n = 0;
    for (DataPlaneInfo node : cp.dataPlanes()) {
      if (node.connected()) {
        n++;
      }
    }
    return n;
  }

  /** The 99th percentile of {@code values} by nearest rank (of 100 values, the 99th smallest). */
  static double percentile99(List<Double> values) {
    if (values.isEmpty()) {
      throw new IllegalArgumentException("no values");
    }
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(Math.max(0, (int) Math.ceil(sorted.size() * 0.99) - 1));
  }

  static double median(List<Double> values) {
    if (values.isEmpty()) {
      throw new IllegalArgumentException("no values");
    }
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  static double millis(long nanos) {
    return nanos / 1e6;
  }

  static String fmt(double v) {
    return Math.abs(v) >= 100
        ? String.format(Locale.ROOT, "%.0f", v)
        : String.format(Locale.ROOT, "%.3g", v);
  }

  static String size(long bytes) {
    if (bytes >= 1 << 20) {
      return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
    return String.format(Locale.ROOT, "%.0f KiB", bytes / 1024.0);
  }

  /**
   * A {@link dev.configsync.cp.FileConfigStore} in a new temporary directory: what {@code
   * configsync-cp --store} runs, durable writes included.
   */
  static dev.configsync.cp.FileConfigStore fileStore(String name, long maxPayloadBytes)
      throws IOException {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("configsync-bench-" + name);
    // deleteOnExit would leave it: it deletes only empty directories, and the store writes files.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> Floors.deleteQuietly(dir)));
    return dev.configsync.cp.FileConfigStore.open(dir, maxPayloadBytes);
  }

  /** The configuration size as the table names it: "1 MB", "16 MB", "64 KB". */
  static String workload(int bytes) {
    return bytes >= 1 << 20 ? (bytes >> 20) + " MB" : (bytes >> 10) + " KB";
  }

  /**
   * An in-memory store that keeps the last frame the control plane saved and counts saves: the
   * control plane saves exactly the bytes it sends, once per publish.
   */
  static final class CapturingStore implements ConfigStore {
    private final InMemoryConfigStore delegate = new InMemoryConfigStore();
    private final AtomicInteger saves = new AtomicInteger();
    private volatile byte @Nullable [] last;

    @Override
    public Optional<byte[]> load() {
      return delegate.load();
    }

    @Override
    public void save(byte[] payload, String hash) {
      saves.incrementAndGet();
      last = payload; // not copied: the control plane never modifies a published frame
      delegate.save(payload, hash);
    }

    @Override
    public String describe() {
      return "in memory (benchmark)";
    }

    int saves() {
      return saves.get();
    }

    byte[] last() {
      byte[] b = last;
      if (b == null) {
        throw new IllegalStateException("nothing saved yet");
      }
      return b;
    }
  }
}

package dev.configsync.cp.etcd;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.cp.etcd.EtcdGateway.Call;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real etcd cluster of separate {@code etcd} processes (Debian's {@code etcd-server}) on free
 * 127.0.0.1 ports, with data in a temporary directory (on {@code /dev/shm} when there is one, so
 * that etcd's fsyncs cost little on a loaded machine). Members can be killed and restarted.
 *
 * <p>Public, and shipped in this module's test jar, for the tests of {@code control-plane-cli},
 * which run {@code configsync-cp} replicas against a real cluster. Not part of any API.
 */
public final class EtcdCluster implements AutoCloseable {
  static final Path BINARY =
      Path.of(System.getenv().getOrDefault("CONFIGSYNC_ETCD_BINARY", "/usr/bin/etcd"));

  /**
   * Skips the calling test class when etcd is not installed, with a message saying how to install
   * it; fails instead when the environment variable {@code CI} is set, so CI cannot pass without
   * running these tests.
   */
  public static void requireEtcd() {
    if (Files.isExecutable(BINARY)) {
      return;
    }
    String message =
        "etcd is not installed at "
            + BINARY
            + ": install Debian's etcd-server (apt-get install etcd-server; .ci/run does) or set"
            + " CONFIGSYNC_ETCD_BINARY; the high-availability tests need a real etcd cluster";
    if (System.getenv("CI") != null) {
      Assertions.fail(message + " (CI is set, so this is a failure, not a skip)");
    }
    Assumptions.abort(message);
  }

  private final class Member {
    final String name;
    final int clientPort;
    final int peerPort;
    final Path dataDir;
    Process process;

    Member(String name, int clientPort, int peerPort) {
      this.name = name;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
      this.dataDir = root.resolve(name);
    }

    URI clientUrl() {
      return URI.create((tls == null ? "http" : "https") + "://127.0.0.1:" + clientPort);
    }

    void start(boolean existing) throws IOException {
      List<String> cmd =
          List.of(
              BINARY.toString(),
              "--name",
              name,
              "--data-dir",
              dataDir.toString(),
              "--listen-client-urls",
              clientUrl().toString(),
              "--advertise-client-urls",
              clientUrl().toString(),
              "--listen-peer-urls",
              "http://127.0.0.1:" + peerPort,
              "--initial-advertise-peer-urls",
              "http://127.0.0.1:" + peerPort,
              "--initial-cluster",
              initialCluster,
              "--initial-cluster-state",
              existing ? "existing" : "new",
              "--initial-cluster-token",
              token,
              "--log-level",
              "warn");
      if (tls != null) {
        cmd = new ArrayList<>(cmd);
        cmd.addAll(
            List.of(
                "--cert-file",
                tls.cert().toString(),
                "--key-file",
                tls.key().toString(),
                "--trusted-ca-file",
                tls.ca().toString(),
                "--client-cert-auth"));
      }
      process =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(
                  ProcessBuilder.Redirect.appendTo(root.resolve(name + ".log").toFile()))
              .start();
    }
  }

  private final Path root;
  private final List<Member> members = new ArrayList<>();
  private final String initialCluster;
  private final String token;
  private final EtcdGateway admin;
  private final @Nullable ServerTls tls;
  private final @Nullable SSLSocketFactory clientTls;

  /**
   * etcd's TLS on its client URLs ({@code --cert-file}, {@code --key-file}, {@code
   * --trusted-ca-file}, {@code --client-cert-auth}); peers stay on plain HTTP.
   */
  public record ServerTls(Path cert, Path key, Path ca) {}

  private EtcdCluster(int size) throws IOException {
    this(size, null, null);
  }

  private EtcdCluster(int size, @Nullable ServerTls tls, @Nullable SSLContext clientTls)
      throws IOException {
    this.tls = tls;
    this.clientTls = clientTls == null ? null : clientTls.getSocketFactory();
    Path shm = Path.of("/dev/shm");
    root =
        Files.isDirectory(shm) && Files.isWritable(shm)
            ? Files.createTempDirectory(shm, "configsync-etcd-")
            : Files.createTempDirectory("configsync-etcd-");
    List<String> peers = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      Member m = new Member("m" + i, freePort(), freePort());
      members.add(m);
      peers.add(m.name + "=http://127.0.0.1:" + m.peerPort);
    }
    initialCluster = String.join(",", peers);
    token = root.getFileName().toString();
    admin = new EtcdGateway(endpoints(), Duration.ofSeconds(5), this.clientTls);
  }

  /** Starts a cluster of {@code size} members and waits until every member is healthy. */
  public static EtcdCluster start(int size) throws IOException {
    requireEtcd();
    return start(new EtcdCluster(size));
  }

  /**
   * Starts a cluster whose client URLs take only TLS clients with a certificate from {@code
   * tls.ca()}; {@code client} is this fixture's own client TLS.
   */
  public static EtcdCluster startTls(int size, ServerTls tls, SSLContext client)
      throws IOException {
    requireEtcd();
    return start(new EtcdCluster(size, tls, client));
  }

  private static EtcdCluster start(EtcdCluster cluster) throws IOException {
    int size = cluster.members.size();
    try {
      for (Member m : cluster.members) {
        m.start(false);
      }
      for (int i = 0; i < size; i++) {
        cluster.awaitHealthy(i);
      }
      return cluster;
    } catch (RuntimeException | IOException e) {
      cluster.close();
      throw e;
    }
  }

  public List<URI> endpoints() {
    return members.stream().map(Member::clientUrl).toList();
  }

  public URI endpoint(int i) {
    return members.get(i).clientUrl();
  }

  int size() {
    return members.size();
  }

  /** Kills member {@code i} (SIGKILL) and waits until it is gone. */
  public void kill(int i) throws InterruptedException {
    Process p = members.get(i).process;
    p.destroyForcibly();
    p.waitFor();
  }

  /** Starts member {@code i} again on its data and waits until it is healthy. */
  public void restart(int i) throws IOException {
    members.get(i).start(true);
    awaitHealthy(i);
  }

  private void awaitHealthy(int i) {
    EtcdGateway one = new EtcdGateway(List.of(endpoint(i)), Duration.ofSeconds(2), clientTls);
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () ->
                one.call("/v3/kv/range", range("/health-probe"), Call.IDEMPOTENT)
                    .path("header")
                    .has("revision"));
  }

  /** The index of the member that leads the cluster now. */
  int leader() throws IOException {
    for (int i = 0; i < members.size(); i++) {
      if (!members.get(i).process.isAlive()) {
        continue;
      }
      EtcdGateway one = new EtcdGateway(List.of(endpoint(i)), Duration.ofSeconds(2), clientTls);
      JsonNode status =
          one.call("/v3/maintenance/status", EtcdGateway.JSON.createObjectNode(), Call.IDEMPOTENT);
      if (status.path("leader").asText().equals(status.path("header").path("member_id").asText())) {
        return i;
      }
    }
    throw new IOException("no member leads the cluster");
  }

  /** Compacts (physically) every revision before the current one. */
  long compact() throws IOException {
    long revision =
        admin
            .call("/v3/kv/range", range("/compaction-probe"), Call.IDEMPOTENT)
            .path("header")
            .path("revision")
            .asLong();
    ObjectNode request = EtcdGateway.JSON.createObjectNode();
    request.put("revision", Long.toString(revision)).put("physical", true);
    admin.call("/v3/kv/compaction", request, Call.IDEMPOTENT);
    return revision;
  }

  /** Every key under {@code prefix}, with its value as text. */
  public List<String> keys(String prefix) throws IOException {
    ObjectNode request = EtcdGateway.JSON.createObjectNode();
    request.put("key", EtcdGateway.b64(prefix)).put("range_end", EtcdGateway.prefixEnd(prefix));
    request.put("keys_only", true);
    List<String> keys = new ArrayList<>();
    for (JsonNode kv : admin.call("/v3/kv/range", request, Call.IDEMPOTENT).path("kvs")) {
      keys.add(EtcdGateway.text(kv.path("key")));
    }
    return keys;
  }

  /** The number of times {@code key} was written (etcd's version), 0 when absent. */
  public long version(String key) throws IOException {
    return admin
        .call("/v3/kv/range", range(key), Call.IDEMPOTENT)
        .path("kvs")
        .path(0)
        .path("version")
        .asLong(0);
  }

  /**
   * Every value {@code key} held, newest first, each with the revision that wrote it, read from
   * etcd's own multi-version store (a range at each older revision), as far back as etcd keeps them
   * (stops at a compacted revision or at the key's creation).
   */
  List<Map.Entry<Long, String>> history(String key) throws IOException {
    List<Map.Entry<Long, String>> values = new ArrayList<>();
    long at = 0; // 0: the current revision
    while (true) {
      ObjectNode request = range(key);
      if (at > 0) {
        request.put("revision", Long.toString(at));
      }
      JsonNode kv;
      try {
        kv = admin.call("/v3/kv/range", request, Call.IDEMPOTENT).path("kvs").path(0);
      } catch (EtcdGateway.EtcdException e) {
        if (String.valueOf(e.getMessage()).contains("compacted")) {
          return values;
        }
        throw e;
      }
      if (kv.isMissingNode()) {
        return values;
      }
      long written = kv.path("mod_revision").asLong();
      values.add(Map.entry(written, EtcdGateway.text(kv.path("value"))));
      at = written - 1;
      if (at <= 0) {
        return values;
      }
    }
  }

  EtcdGateway gateway() {
    return admin;
  }

  private static ObjectNode range(String key) {
    return EtcdGateway.JSON.createObjectNode().put("key", EtcdGateway.b64(key));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    for (Member m : members) {
      if (m.process != null) {
        m.process.destroyForcibly();
        try {
          m.process.waitFor();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

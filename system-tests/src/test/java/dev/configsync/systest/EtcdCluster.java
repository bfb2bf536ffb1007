package dev.configsync.systest;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real etcd cluster of separate {@code etcd} processes (Debian's {@code etcd-server}, 3.4) on
 * free 127.0.0.1 ports, its client URLs over TLS with client certificates required (as
 * docs/high-availability.md recommends), its data on {@code /dev/shm} when there is one (etcd's
 * fsyncs cost little there on a loaded machine). Members can be killed (SIGKILL) and restarted on
 * their data. Adapted from control-plane-etcd's test fixture of the same name, with its own client
 * (etcd's v3 JSON gateway over the JDK's HTTP client) so that it reads etcd from outside, as an
 * operator's tools would, without the store's code.
 */
final class EtcdCluster implements AutoCloseable {
  static final Path BINARY =
      Path.of(System.getenv().getOrDefault("CONFIGSYNC_ETCD_BINARY", "/usr/bin/etcd"));

  /**
   * Skips the calling test when etcd is not installed, with a message saying how to install it;
   * fails instead when the environment variable {@code CI} is set, so CI cannot pass without
   * running it (the rule of control-plane-etcd's tests).
   */
  static void requireEtcd() {
    if (Files.isExecutable(BINARY)) {
      return;
    }
    String message =
        "etcd is not installed at "
            + BINARY
            + ": install Debian's etcd-server (apt-get install etcd-server; .ci/run does) or set"
            + " CONFIGSYNC_ETCD_BINARY; the high-availability system test needs a real etcd"
            + " cluster";
    if (System.getenv("CI") != null) {
      Assertions.fail(message + " (CI is set, so this is a failure, not a skip)");
    }
    Assumptions.abort(message);
  }

  /** One version of a key: the revision that wrote it and the value written, base64. */
  record Version(long revision, String base64Value) {
    byte[] value() {
      return Base64.getDecoder().decode(base64Value);
    }
  }

  private final class Member {
    final String name;
    final int clientPort;
    final int peerPort;
    final Path dataDir;
    RunningProcess process;

    Member(String name, int clientPort, int peerPort) {
      this.name = name;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
      this.dataDir = data.resolve(name);
    }

    URI clientUrl() {
      return URI.create("https://127.0.0.1:" + clientPort);
    }

    void start(boolean existing) {
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
              "--cert-file",
              server.cert().toString(),
              "--key-file",
              server.key().toString(),
              "--trusted-ca-file",
              pki.ca().toString(),
              "--client-cert-auth",
              "--log-level",
              "warn");
      process = processes.exec("etcd-" + name, cmd);
    }
  }

  private final Processes processes;
  private final PkiFiles pki;
  private final PkiFiles.Pair server;
  private final Path data;
  private final List<Member> members = new ArrayList<>();
  private final String initialCluster;
  private final String token;
  private final HttpClient http;

  private EtcdCluster(Processes processes, PkiFiles pki, int size) throws IOException {
    this.processes = processes;
    this.pki = pki;
    this.server = pki.server(); // names 127.0.0.1, the host of every client URL
    Path shm = Path.of("/dev/shm");
    data =
        Files.isDirectory(shm) && Files.isWritable(shm)
            ? Files.createTempDirectory(shm, "configsync-systest-etcd-")
            : Files.createTempDirectory("configsync-systest-etcd-");
    List<String> peers = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      Member m = new Member("m" + i, freePort(), freePort());
      members.add(m);
      peers.add(m.name + "=http://127.0.0.1:" + m.peerPort);
    }
    initialCluster = String.join(",", peers);
    token = data.getFileName().toString();
    http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2))
            .sslContext(pki.clientContext(pki.issue("etcd-reader")))
            .build();
  }

  /**
   * Starts {@code size} members whose client URLs take TLS clients with a certificate of {@code
   * pki}'s CA, and waits until each answers.
   */
  static EtcdCluster start(Processes processes, PkiFiles pki, int size) throws IOException {
    requireEtcd();
    EtcdCluster cluster = new EtcdCluster(processes, pki, size);
    try {
      for (Member m : cluster.members) {
        m.start(false);
      }
      for (int i = 0; i < size; i++) {
        cluster.awaitHealthy(i);
      }
      return cluster;
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  List<URI> endpoints() {
    return members.stream().map(Member::clientUrl).toList();
  }

  int size() {
    return members.size();
  }

  boolean isAlive(int i) {
    RunningProcess p = members.get(i).process;
    return p != null && p.isAlive();
  }

  /** Kills member {@code i} (SIGKILL) and waits until it is gone. */
  void kill(int i) {
    members.get(i).process.kill();
  }

  /** Starts member {@code i} again on its data; does not wait for it. */
  void restart(int i) {
    members.get(i).start(true);
  }

  /** Waits until member {@code i} answers a read that needs the cluster's quorum. */
  void awaitHealthy(int i) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> call(i, "/v3/kv/range", range("/health-probe")).path("header").has("revision"));
  }

  /** The index of the member that leads the cluster now. */
  int leader() throws IOException {
    for (int i = 0; i < members.size(); i++) {
      if (!isAlive(i)) {
        continue;
      }
      JsonNode status = call(i, "/v3/maintenance/status", AdminClient.JSON.createObjectNode());
      if (status.path("leader").asText().equals(status.path("header").path("member_id").asText())) {
        return i;
      }
    }
    throw new IOException("no member leads the cluster");
  }

  /**
   * Every version of {@code key} that etcd holds, oldest first: the latest, then each earlier one
   * read at the revision before the one that wrote its successor (etcd's MVCC keeps them until a
   * compaction, which nothing here asks for). Linearizable reads, so only committed writes.
   */
  List<Version> history(String key) throws IOException {
    List<Version> newestFirst = new ArrayList<>();
    JsonNode kv = firstKv(range(key));
    while (kv != null) {
      long revision = kv.path("mod_revision").asLong();
      newestFirst.add(new Version(revision, kv.path("value").asText()));
      if (kv.path("version").asLong() <= 1) {
        break; // the key's creation
      }
      ObjectNode older = range(key);
      older.put("revision", Long.toString(revision - 1));
      kv = firstKv(older);
    }
    List<Version> oldestFirst = new ArrayList<>(newestFirst);
    java.util.Collections.reverse(oldestFirst);
    return oldestFirst;
  }

  private JsonNode firstKv(ObjectNode request) throws IOException {
    JsonNode kvs = callAny("/v3/kv/range", request).path("kvs");
    return kvs.isArray() && !kvs.isEmpty() ? kvs.get(0) : null;
  }

  /** Calls the first member that answers. */
  private JsonNode callAny(String path, ObjectNode body) throws IOException {
    IOException last = null;
    for (int i = 0; i < members.size(); i++) {
      if (!isAlive(i)) {
        continue;
      }
      try {
        return call(i, path, body);
      } catch (IOException e) {
        last = e;
      }
    }
    throw last != null ? last : new IOException("no etcd member runs");
  }

  private JsonNode call(int member, String path, ObjectNode body) throws IOException {
    HttpRequest request =
        HttpRequest.newBuilder(members.get(member).clientUrl().resolve(path))
            .timeout(Duration.ofSeconds(5))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
            .build();
    HttpResponse<String> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (response.statusCode() != 200) {
      throw new IOException(
          "etcd "
              + members.get(member).name
              + " "
              + path
              + ": "
              + response.statusCode()
              + " "
              + response.body());
    }
    return AdminClient.JSON.readTree(response.body());
  }

  private static ObjectNode range(String key) {
    return AdminClient.JSON
        .createObjectNode()
        .put("key", Base64.getEncoder().encodeToString(key.getBytes(StandardCharsets.UTF_8)));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    for (Member m : members) {
      if (m.process != null && m.process.isAlive()) {
        m.process.kill();
      }
    }
    try (Stream<Path> files = Files.walk(data)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

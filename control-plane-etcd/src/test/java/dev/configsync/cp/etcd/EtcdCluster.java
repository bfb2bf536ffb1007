package dev.configsync.cp.etcd;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real etcd cluster of separate {@code etcd} processes (Debian's {@code etcd-server}, 3.4) on
 * free 127.0.0.1 ports, with data in a temporary directory (on {@code /dev/shm} when there is one,
 * so that etcd's fsyncs cost little on a loaded machine). Client URLs are plain HTTP, or TLS with
 * client certificates required ({@link #startTls}). Members can be killed (SIGKILL) and restarted
 * on their data.
 *
 * <p>It reads etcd with a client of its own (etcd's v3 JSON gateway over the JDK's {@link
 * HttpClient}), not with the store's code, so what the tests read back is what etcd holds, as an
 * operator's tools would see it.
 *
 * <p>Public, and shipped alone in this module's test jar, for the tests of {@code
 * control-plane-cli} and {@code system-tests}, which run {@code configsync-cp} replicas against a
 * real cluster. Needs only the JDK, Jackson, JUnit and Awaitility. Not part of any API.
 */
public final class EtcdCluster implements AutoCloseable {
  static final Path BINARY =
      Path.of(System.getenv().getOrDefault("CONFIGSYNC_ETCD_BINARY", "/usr/bin/etcd"));
  private static final ObjectMapper JSON = new ObjectMapper();

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

  /**
   * etcd's TLS on its client URLs ({@code --cert-file}, {@code --key-file}, {@code
   * --trusted-ca-file}, {@code --client-cert-auth}); peers stay on plain HTTP.
   */
  public record ServerTls(Path cert, Path key, Path ca) {}

  /** One version of a key: the revision that wrote it and the value written (base64, as etcd). */
  public record Version(long revision, String base64Value) {
    /** The value's bytes. */
    public byte[] value() {
      return Base64.getDecoder().decode(base64Value);
    }

    /** The value as UTF-8 text. */
    public String text() {
      return new String(value(), StandardCharsets.UTF_8);
    }
  }

  private final class Member {
    final String name;
    final int clientPort;
    final int peerPort;
    final Path dataDir;
    @Nullable Process process;

    Member(String name, int clientPort, int peerPort) {
      this.name = name;
      this.clientPort = clientPort;
      this.peerPort = peerPort;
      this.dataDir = root.resolve(name);
    }

    URI clientUrl() {
      return URI.create((tls == null ? "http" : "https") + "://127.0.0.1:" + clientPort);
    }

    void start(boolean existing) {
      List<String> cmd =
          new ArrayList<>(
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
                  "warn"));
      if (tls != null) {
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
      try {
        process =
            new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(
                    ProcessBuilder.Redirect.appendTo(logDir.resolve(name + ".log").toFile()))
                .start();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot start etcd member " + name, e);
      }
    }
  }

  private final Path root;
  private final Path logDir;
  private final List<Member> members = new ArrayList<>();
  private final String initialCluster;
  private final String token;
  private final @Nullable ServerTls tls;
  private final HttpClient http;

  private EtcdCluster(
      int size, @Nullable ServerTls tls, @Nullable SSLContext clientTls, @Nullable Path logDir)
      throws IOException {
    this.tls = tls;
    Path shm = Path.of("/dev/shm");
    root =
        Files.isDirectory(shm) && Files.isWritable(shm)
            ? Files.createTempDirectory(shm, "configsync-etcd-")
            : Files.createTempDirectory("configsync-etcd-");
    this.logDir = logDir == null ? root : Files.createDirectories(logDir);
    List<String> peers = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      Member m = new Member("m" + i, freePort(), freePort());
      members.add(m);
      peers.add(m.name + "=http://127.0.0.1:" + m.peerPort);
    }
    initialCluster = String.join(",", peers);
    token = root.getFileName().toString();
    HttpClient.Builder client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2));
    if (clientTls != null) {
      client.sslContext(clientTls);
    }
    http = client.build();
  }

  /** Starts a cluster of {@code size} members and waits until every member is healthy. */
  public static EtcdCluster start(int size) throws IOException {
    requireEtcd();
    return start(new EtcdCluster(size, null, null, null));
  }

  /**
   * Starts a cluster whose client URLs take only TLS clients with a certificate from {@code
   * tls.ca()}; {@code client} is this fixture's own client TLS.
   */
  public static EtcdCluster startTls(int size, ServerTls tls, SSLContext client)
      throws IOException {
    requireEtcd();
    return start(new EtcdCluster(size, tls, client, null));
  }

  /** As {@link #startTls(int, ServerTls, SSLContext)}, with the members' logs kept in logDir. */
  public static EtcdCluster startTls(int size, ServerTls tls, SSLContext client, Path logDir)
      throws IOException {
    requireEtcd();
    return start(new EtcdCluster(size, tls, client, logDir));
  }

  private static EtcdCluster start(EtcdCluster cluster) {
    int size = cluster.members.size();
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

  /** Every member's client URL. */
  public List<URI> endpoints() {
    return members.stream().map(Member::clientUrl).toList();
  }

  /** Member {@code i}'s client URL. */
  public URI endpoint(int i) {
    return members.get(i).clientUrl();
  }

  /** How many members the cluster has (running or not). */
  public int size() {
    return members.size();
  }

  /** Whether member {@code i}'s process runs. */
  public boolean isAlive(int i) {
    Process p = members.get(i).process;
    return p != null && p.isAlive();
  }

  /** Kills member {@code i} (SIGKILL) and waits until it is gone. */
  public void kill(int i) {
    Process p = members.get(i).process;
    if (p == null) {
      return;
    }
    p.destroyForcibly();
    try {
      p.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Starts member {@code i} again on its data and waits until it is healthy. */
  public void restart(int i) {
    members.get(i).start(true);
    awaitHealthy(i);
  }

  /** Waits until member {@code i} answers a read that needs the cluster's quorum. */
  public void awaitHealthy(int i) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> call(i, "/v3/kv/range", range("/health-probe")).path("header").has("revision"));
  }

  /** The index of the member that leads the cluster now. */
  public int leader() throws IOException {
    for (int i = 0; i < members.size(); i++) {
      if (!isAlive(i)) {
        continue;
      }
      JsonNode status = call(i, "/v3/maintenance/status", JSON.createObjectNode());
      if (status.path("leader").asText().equals(status.path("header").path("member_id").asText())) {
        return i;
      }
    }
    throw new IOException("no member leads the cluster");
  }

  /** Compacts (physically) every revision before the current one. */
  public long compact() throws IOException {
    long revision =
        callAny("/v3/kv/range", range("/compaction-probe"))
            .path("header")
            .path("revision")
            .asLong();
    ObjectNode request = JSON.createObjectNode();
    request.put("revision", Long.toString(revision)).put("physical", true);
    callAny("/v3/kv/compaction", request);
    return revision;
  }

  /** Every key under {@code prefix}. */
  public List<String> keys(String prefix) throws IOException {
    ObjectNode request = range(prefix);
    request.put("range_end", prefixEnd(prefix)).put("keys_only", true);
    List<String> keys = new ArrayList<>();
    for (JsonNode kv : callAny("/v3/kv/range", request).path("kvs")) {
      keys.add(new String(Base64.getDecoder().decode(kv.path("key").asText()), UTF8));
    }
    return keys;
  }

  /** The number of times {@code key} was written (etcd's version), 0 when absent. */
  public long version(String key) throws IOException {
    return callAny("/v3/kv/range", range(key)).path("kvs").path(0).path("version").asLong(0);
  }

  /**
   * Every version of {@code key}, newest first, each with the revision that wrote it, read from
   * etcd's own multi-version store (a linearizable range at the revision before each one's), as far
   * back as etcd keeps them: stops at the key's creation, or at a compacted revision.
   */
  public List<Version> history(String key) throws IOException {
    List<Version> newestFirst = new ArrayList<>();
    long at = 0; // 0: the current revision
    while (true) {
      ObjectNode request = range(key);
      if (at > 0) {
        request.put("revision", Long.toString(at));
      }
      JsonNode kv;
      try {
        kv = callAny("/v3/kv/range", request).path("kvs").path(0);
      } catch (IOException e) {
        if (String.valueOf(e.getMessage()).contains("compacted")) {
          return newestFirst;
        }
        throw e;
      }
      if (kv.isMissingNode()) {
        return newestFirst;
      }
      long written = kv.path("mod_revision").asLong();
      newestFirst.add(new Version(written, kv.path("value").asText("")));
      at = written - 1;
      if (at <= 0 || kv.path("version").asLong() <= 1) {
        return newestFirst; // the key's creation
      }
    }
  }

  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;

  private static ObjectNode range(String key) {
    return JSON.createObjectNode().put("key", b64(key.getBytes(UTF8)));
  }

  private static String b64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }

  /** The range end that selects every key starting with {@code prefix}. */
  private static String prefixEnd(String prefix) {
    byte[] b = prefix.getBytes(UTF8);
    for (int i = b.length - 1; i >= 0; i--) {
      if (b[i] != (byte) 0xff) {
        byte[] end = java.util.Arrays.copyOf(b, i + 1);
        end[i]++;
        return b64(end);
      }
    }
    return b64(new byte[] {0});
  }

  /** Calls the first running member that answers. */
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
        if (String.valueOf(e.getMessage()).contains("compacted")) {
          throw e; // every member answers the same
        }
      }
    }
    throw last != null ? last : new IOException("no etcd member runs");
  }

  private JsonNode call(int member, String path, ObjectNode body) throws IOException {
    HttpRequest request =
        HttpRequest.newBuilder(endpoint(member).resolve(path))
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
    return JSON.readTree(response.body());
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Kills every member and deletes the data (the logs too, unless they went to a logDir). */
  @Override
  public void close() {
    for (int i = 0; i < members.size(); i++) {
      kill(i);
    }
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

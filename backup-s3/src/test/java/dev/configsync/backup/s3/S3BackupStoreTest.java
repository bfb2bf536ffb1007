package dev.configsync.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.AtRestEncryption;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.DecryptionException;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.spi.Transport;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.S3Object;

/** {@link S3BackupStore} against a real S3-compatible server (s3rver, see {@link S3rver}). */
class S3BackupStoreTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String BUCKET = "configsync-test";
  private static final URI CONTROL_PLANE = URI.create("wss://cp.invalid:8005");

  private static Path data;
  private static S3rver server;
  private static S3Client inspector;

  @BeforeAll
  static void startServer() throws Exception {
    data = Files.createTempDirectory("s3rver-data");
    server = S3rver.start(data, BUCKET);
    inspector =
        S3Client.builder()
            .endpointOverride(server.endpoint())
            .region(Region.US_EAST_1)
            .credentialsProvider(
                StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(S3rver.ACCESS_KEY_ID, S3rver.SECRET_ACCESS_KEY)))
            .httpClientBuilder(UrlConnectionHttpClient.builder())
            .serviceConfiguration(
                S3Configuration.builder()
                    .chunkedEncodingEnabled(false)
                    .pathStyleAccessEnabled(true)
                    .build())
            .build();
  }

  @AfterAll
  static void stopServer() throws IOException {
    if (inspector != null) {
      inspector.close();
    }
    if (server != null) {
      server.close();
    }
    if (data != null) {
      try (var files = Files.walk(data)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void putThenGetReturnsIdenticalBytesOfALargeRealPayload() throws IOException {
    byte[] payload = largePayload(42);
    assertThat(payload.length).isBetween(150_000, 300_000);
    try (S3BackupStore store = store().prefix("identical").build()) {

      store.put("3.9", payload);

      assertThat(store.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
      // What the server holds is the payload itself, not an aws-chunked body.
      List<S3Object> objects =
          inspector.listObjectsV2(r -> r.bucket(BUCKET).prefix("identical/")).contents();
      assertThat(objects).extracting(S3Object::key).containsExactly("identical/3.9/config.json.gz");
      assertThat(objects.get(0).size()).isEqualTo(payload.length);
    }
  }

  @Test
  void getOfAMissingKeyIsEmpty() throws IOException {
    try (S3BackupStore store = store().prefix("missing").build()) {
      assertThat(store.get("3.9")).isEmpty();
    }
  }

  @Test
  void overwriteReturnsTheLatestAndVersionsAreKeptApart() throws IOException {
    byte[] first = largePayload(1);
    byte[] latest = largePayload(2);
    byte[] other = largePayload(3);
    try (S3BackupStore store = store().prefix("overwrite").build()) {

      store.put("3.9", first);
      store.put("3.10", other);
      store.put("3.9", latest);

      assertThat(store.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(latest));
      assertThat(store.get("3.10")).hasValueSatisfying(b -> assertThat(b).isEqualTo(other));
    }
  }

  @Test
  void theDefaultPrefixIsConfigsync() throws IOException {
    try (S3BackupStore store = store().build()) {
      store.put("2.8", largePayload(4));

      assertThat(store.key("2.8")).isEqualTo("configsync/2.8/config.json.gz");
      assertThat(inspector.headObject(r -> r.bucket(BUCKET).key("configsync/2.8/config.json.gz")))
          .isNotNull();
      assertThat(store.describe())
          .isEqualTo("s3://" + BUCKET + "/configsync/ at " + server.endpoint());
    }
  }

  @Test
  void aClientOfTheUsersOwnIsUsedAndNotClosed() throws IOException {
    byte[] payload = largePayload(5);
    S3BackupStore store =
        S3BackupStore.builder().bucket(BUCKET).prefix("own").client(inspector).build();

    store.put("3.9", payload);
    store.close();

    assertThat(store.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
    assertThat(store.describe()).isEqualTo("s3://" + BUCKET + "/own/");
  }

  @Test
  void aMissingBucketIsAnErrorNamingItNotAnEmptyStore() {
    try (S3BackupStore store = store().bucket("no-such-bucket").build()) {
      assertThatThrownBy(() -> store.get("3.9"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("s3://no-such-bucket/configsync/3.9/config.json.gz")
          .hasMessageContaining("HTTP 404")
          .hasMessageContaining("NoSuchBucket");
      assertThatThrownBy(() -> store.put("3.9", largePayload(6)))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("S3 put of s3://no-such-bucket/configsync/3.9/config.json.gz")
          .hasMessageContaining("NoSuchBucket");
    }
  }

  @Test
  void refusedCredentialsGiveAClearErrorThatDoesNotShowThem() {
    // s3rver checks the access key id (it does not verify SigV4 signatures).
    String keyId = "AKIAEXAMPLENOTREAL01";
    String secret = "s3cr3t-value-that-must-not-leak";
    try (S3BackupStore store =
        S3BackupStore.builder()
            .bucket(BUCKET)
            .endpoint(server.endpoint())
            .credentials(keyId, secret)
            .build()) {
      assertThatThrownBy(() -> store.put("3.9", largePayload(7)))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("S3 put of s3://" + BUCKET + "/configsync/3.9/config.json.gz")
          .hasMessageContaining("HTTP 403 InvalidAccessKeyId")
          .satisfies(e -> assertThat(messages(e)).doesNotContain(keyId).doesNotContain(secret));
      assertThatThrownBy(() -> store.get("3.9"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("HTTP 403")
          .satisfies(e -> assertThat(messages(e)).doesNotContain(keyId).doesNotContain(secret));
      assertThat(store.toString() + store.describe()).doesNotContain(keyId).doesNotContain(secret);
    }
  }

  @Test
  void anUnreachableEndpointGivesAClearError() throws IOException {
    // A socket bound to the port and not listening: connections there are refused, and no other
    // test can take the port meanwhile (one that was only free a moment ago can be taken).
    try (java.net.Socket down = new java.net.Socket()) {
      down.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      assertRefusedWithAClearError(down.getLocalPort());
    }
  }

  private void assertRefusedWithAClearError(int closedPort) throws IOException {
    try (S3BackupStore store =
        S3BackupStore.builder()
            .bucket(BUCKET)
            .endpoint(URI.create("http://127.0.0.1:" + closedPort))
            .credentials(S3rver.ACCESS_KEY_ID, S3rver.SECRET_ACCESS_KEY)
            .timeouts(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5))
            .build()) {
      assertThatThrownBy(() -> store.get("3.9"))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("S3 get of s3://" + BUCKET + "/configsync/3.9/config.json.gz")
          .hasMessageContaining("127.0.0.1:" + closedPort)
          .hasMessageNotContaining(S3rver.SECRET_ACCESS_KEY);
    }
  }

  @Test
  void nodesExportToAndImportFromTheBucket() throws IOException {
    ObjectNode table = largeTable(8);
    byte[] payload = HybridProtocol.reconfigure(table, 1_700_000_000.5);
    String hash = ConfigHash.configHash(table);
    S3BackupStore exportStore = store().prefix("e2e").build();
    S3BackupStore importStore = store().prefix("e2e").build();
    List<SyncEvent> eventsA = new CopyOnWriteArrayList<>();
    List<SyncEvent> eventsB = new CopyOnWriteArrayList<>();

    // Node A gets the configuration from its control plane and exports it.
    try (ConfigSyncClient nodeA =
        node(new ControlPlaneSending(payload), eventsA).backupExport(exportStore).build()) {
      nodeA.start();
      eventually()
          .until(() -> eventsA.stream().anyMatch(SyncEvent.BackupExported.class::isInstance));
    }
    assertThat(importStore.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));

    // Node B starts with nothing while the control plane is unreachable, and imports it.
    try (ConfigSyncClient nodeB =
        node(new Unreachable(), eventsB).backupImport(importStore).build()) {
      nodeB.start();
      eventually().until(() -> nodeB.current().isPresent());
      ConfigSnapshot running = nodeB.current().orElseThrow();
      assertThat(running.source()).isEqualTo(SnapshotSource.BACKUP);
      assertThat(running.hash()).isEqualTo(hash);
      assertThat(running.config()).isEqualTo(table);
    }
    assertThat(eventsB).noneMatch(SyncEvent.BackupFailed.class::isInstance);
    exportStore.close();
    importStore.close();
  }

  @Test
  void encryptedCopiesAreStoredEncryptedAndNeedTheirKey() throws IOException {
    AtRestEncryption keyA = AtRestEncryption.fromKey(new byte[32]);
    byte[] other = new byte[32];
    other[0] = 1;
    AtRestEncryption keyB = AtRestEncryption.fromKey(other);
    byte[] payload = largePayload(9);
    try (S3BackupStore writer = store().prefix("encrypted").encryption(keyA).build();
        S3BackupStore rotated =
            store().prefix("encrypted").encryption(keyB.withOldKeys(keyA)).build();
        S3BackupStore wrongKey = store().prefix("encrypted").encryption(keyB).build();
        S3BackupStore noKey = store().prefix("encrypted").build()) {

      writer.put("3.9", payload);

      byte[] object =
          inspector
              .getObjectAsBytes(r -> r.bucket(BUCKET).key("encrypted/3.9/config.json.gz"))
              .asByteArray();
      assertThat(object).hasSize(payload.length + AtRestEncryption.OVERHEAD);
      assertThat(AtRestEncryption.keyIdOf(object)).contains(keyA.keyId());
      assertThat(keyA.decrypt(object, "test")).isEqualTo(payload);
      assertThat(writer.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
      assertThat(rotated.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
      assertThatThrownBy(() -> wrongKey.get("3.9"))
          .isInstanceOfSatisfying(
              DecryptionException.class,
              e -> assertThat(e.reason()).isEqualTo(DecryptionException.Reason.UNKNOWN_KEY))
          .hasMessageContaining("s3://" + BUCKET + "/encrypted/3.9/config.json.gz")
          .hasMessageContaining(keyA.keyId());
      assertThatThrownBy(() -> noKey.get("3.9"))
          .isInstanceOfSatisfying(
              DecryptionException.class,
              e -> assertThat(e.reason()).isEqualTo(DecryptionException.Reason.NO_KEY_CONFIGURED))
          .hasMessageContaining("no encryption key is configured");

      // An unencrypted copy (a node exporting without a key) is still imported with a key.
      noKey.put("3.10", payload);
      assertThat(writer.get("3.10")).hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** The messages and string forms of {@code e} and all its causes. */
  private static String messages(Throwable e) {
    StringBuilder all = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      all.append(t).append('\n');
    }
    return all.toString();
  }

  private static S3BackupStore.Builder store() {
    return S3BackupStore.builder()
        .bucket(BUCKET)
        .endpoint(server.endpoint())
        .credentials(S3rver.ACCESS_KEY_ID, S3rver.SECRET_ACCESS_KEY);
  }

  private static ConfigSyncClient.Builder node(Transport transport, List<SyncEvent> events) {
    return ConfigSyncClient.builder()
        .controlPlane(CONTROL_PLANE)
        .transport(transport)
        .nodeHostname("dp")
        .nodeVersion("3.9.4")
        .onEvent(events::add);
  }

  private static org.awaitility.core.ConditionFactory eventually() {
    return Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5));
  }

  /** A gzip reconfigure payload of about 200 KB: random text does not compress much. */
  private static byte[] largePayload(long seed) {
    return HybridProtocol.reconfigure(largeTable(seed), 1_700_000_000.5);
  }

  private static ObjectNode largeTable(long seed) {
    Random random = new Random(seed);
    HexFormat hex = HexFormat.of();
    ObjectNode table = MAPPER.createObjectNode();
    table.put("_format_version", "3.0");
    ArrayNode services = table.putArray("services");
    for (int i = 0; i < 2_500; i++) {
      byte[] bytes = new byte[64];
      random.nextBytes(bytes);
      ObjectNode s = services.addObject();
      s.put("name", "service-" + i);
      s.put("host", hex.formatHex(bytes, 0, 16) + ".internal");
      s.put("tag", hex.formatHex(bytes, 16, 64));
    }
    return table;
  }

  /** A control plane that answers every connection with one configuration. */
  private static final class ControlPlaneSending implements Transport {
    private final byte[] payload;

    ControlPlaneSending(byte[] payload) {
      this.payload = payload.clone();
    }

    @Override
    public Connection connect(ConnectRequest request, Listener listener) {
      listener.onOpen();
      listener.onBinary(payload.clone());
      return new IdleConnection();
    }

    @Override
    public void close() {}
  }

  /** A control plane that cannot be reached: every attempt fails at once. */
  private static final class Unreachable implements Transport {
    @Override
    public Connection connect(ConnectRequest request, Listener listener) {
      listener.onFailure(new ConnectException("connection refused (test)"));
      return new IdleConnection();
    }

    @Override
    public void close() {}
  }

  private static final class IdleConnection implements Transport.Connection {
    @Override
    public boolean sendBinary(byte[] payload) {
      return true;
    }

    @Override
    public boolean sendPing(byte[] payload) {
      return true;
    }

    @Override
    public void close(int code, String reason) {}

    @Override
    public void cancel() {}
  }
}

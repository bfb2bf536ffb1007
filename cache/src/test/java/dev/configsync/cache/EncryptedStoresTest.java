package dev.configsync.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.AtRestEncryption;
import dev.configsync.DecryptionException;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link FileSnapshotStore} and {@link DirectoryBackupStore} with encryption, on real files. */
class EncryptedStoresTest {
  static final String MARKER = "MARKER-s3cr3t-7f3c9a";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  static final AtRestEncryption KEY_A = AtRestEncryption.fromKey(key(11));
  static final AtRestEncryption KEY_B = AtRestEncryption.fromKey(key(12));

  @TempDir Path dir;

  // ---- FileSnapshotStore ----------------------------------------------------------------------

  @Test
  void theCacheIsWrittenEncryptedAndReadBackExactly() throws Exception {
    byte[] payload = payloadWithSecret("orders");
    FileSnapshotStore store = FileSnapshotStore.open(dir, KEY_A);

    store.write(payload);

    byte[] onDisk = Files.readAllBytes(store.file());
    assertThat(onDisk).hasSize(payload.length + AtRestEncryption.OVERHEAD);
    assertThat(AtRestEncryption.keyIdOf(onDisk)).contains(KEY_A.keyId());
    assertThat(KEY_A.decrypt(onDisk, "test")).isEqualTo(payload); // the gzip bytes, not re-encoded
    assertThatThrownBy(() -> Gzip.decompress(onDisk, 1 << 24)).isInstanceOf(IOException.class);
    assertThat(FileSnapshotStore.open(dir, KEY_A).read())
        .hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
    assertThat(store.encryption()).contains(KEY_A);
    assertThat(FileSnapshotStore.open(dir).encryption()).isEmpty();
    if (posix()) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(store.file())))
          .isEqualTo("rw-------");
    }
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactly("config.json.gz");
    }
  }

  @Test
  void rotationReadsWithTheOldKeyAndWritesWithTheNewOne() throws Exception {
    byte[] first = payloadWithSecret("first");
    FileSnapshotStore.open(dir, KEY_A).write(first);
    FileSnapshotStore rotated = FileSnapshotStore.open(dir, KEY_B.withOldKeys(KEY_A));

    assertThat(rotated.read()).hasValueSatisfying(b -> assertThat(b).isEqualTo(first));
    // Read under the old key, so written again under the new one straight away.
    assertThat(AtRestEncryption.keyIdOf(Files.readAllBytes(rotated.file())))
        .contains(KEY_B.keyId());
    byte[] second = payloadWithSecret("second");
    rotated.write(second);

    byte[] onDisk = Files.readAllBytes(rotated.file());
    assertThat(AtRestEncryption.keyIdOf(onDisk)).contains(KEY_B.keyId());
    assertThat(FileSnapshotStore.open(dir, KEY_B).read())
        .hasValueSatisfying(b -> assertThat(b).isEqualTo(second));
    DecryptionException oldKeyOnly =
        catchThrowableOfType(DecryptionException.class, FileSnapshotStore.open(dir, KEY_A)::read);
    assertThat(oldKeyOnly.reason()).isEqualTo(DecryptionException.Reason.UNKNOWN_KEY);
    assertThat(oldKeyOnly.getMessage()).contains(KEY_B.keyId()).contains(KEY_A.keyId());
  }

  @Test
  void aFailedReEncryptionStillReturnsThePayloadAndLeavesTheFile() throws Exception {
    byte[] payload = payloadWithSecret("orders");
    FileSnapshotStore.open(dir, KEY_A).write(payload);
    byte[] underA = Files.readAllBytes(dir.resolve("config.json.gz"));
    FileSnapshotStore store =
        FileSnapshotStore.open(
            dir,
            FileSnapshotStore.DEFAULT_MAX_BYTES,
            Clock.systemUTC(),
            temp -> {
              throw new IOException("disk full (simulated)");
            },
            KEY_B.withOldKeys(KEY_A));

    String logs = captureStderr(() -> assertThat(store.read()).isPresent());

    assertThat(Files.readAllBytes(store.file())).isEqualTo(underA);
    assertThat(logs).contains("disk full (simulated)").contains(KEY_B.keyId());
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactly("config.json.gz");
    }
  }

  @Test
  void anUnencryptedCacheIsAcceptedOnceAndEncryptedAtOnce() throws Exception {
    byte[] payload = payloadWithSecret("plain");
    FileSnapshotStore.open(dir).write(payload);

    byte[][] read = new byte[1][];
    String logs =
        captureStderr(() -> read[0] = FileSnapshotStore.open(dir, KEY_A).read().orElseThrow());

    assertThat(read[0]).isEqualTo(payload);
    byte[] onDisk = Files.readAllBytes(dir.resolve("config.json.gz"));
    assertThat(AtRestEncryption.keyIdOf(onDisk)).contains(KEY_A.keyId());
    assertThat(KEY_A.decrypt(onDisk, "test")).isEqualTo(payload);
    assertThat(logs).contains("WARN").contains("was not encrypted").doesNotContain(MARKER);
  }

  @Test
  void anEncryptedCacheWithoutAKeyIsRefusedSayingNoKeyIsConfigured() throws Exception {
    FileSnapshotStore.open(dir, KEY_A).write(payloadWithSecret("x"));

    DecryptionException e =
        catchThrowableOfType(DecryptionException.class, FileSnapshotStore.open(dir)::read);

    assertThat(e.reason()).isEqualTo(DecryptionException.Reason.NO_KEY_CONFIGURED);
    assertThat(e.keyId()).isEqualTo(KEY_A.keyId());
    assertThat(e.getMessage())
        .contains(dir.resolve("config.json.gz").toString())
        .contains("no encryption key is configured")
        .contains(KEY_A.keyId());
  }

  @Test
  void aChangeToAnyByteOfTheCacheFileIsRefused() throws Exception {
    FileSnapshotStore store = FileSnapshotStore.open(dir, KEY_A);
    store.write(payloadWithSecret("t"));
    byte[] good = Files.readAllBytes(store.file());
    Random random = new Random(3);

    for (int i = 0; i < good.length; i++) {
      byte[] tampered = good.clone();
      tampered[i] ^= (byte) (1 + random.nextInt(255)); // never 0: the byte always changes
      Files.write(store.file(), tampered);
      int at = i;

      assertThatThrownBy(store::read).as("byte %d", at).isInstanceOf(DecryptionException.class);
      assertThat(Files.readAllBytes(store.file())).as("byte %d", at).isEqualTo(tampered);
    }
  }

  @Test
  void aTruncatedOrForeignCacheFileIsRefused() throws Exception {
    FileSnapshotStore store = FileSnapshotStore.open(dir, KEY_A);
    store.write(payloadWithSecret("t"));
    byte[] good = Files.readAllBytes(store.file());

    for (int length : new int[] {0, 1, 4, 5, 13, 25, 40, good.length / 2, good.length - 1}) {
      Files.write(store.file(), Arrays.copyOf(good, length));
      int n = length;
      assertThatThrownBy(store::read).as("length %d", n).isInstanceOf(DecryptionException.class);
    }
    Files.writeString(store.file(), "{\"not\":\"gzip\"}");
    DecryptionException foreign = catchThrowableOfType(DecryptionException.class, store::read);
    assertThat(foreign.reason()).isEqualTo(DecryptionException.Reason.NOT_A_PAYLOAD);
  }

  // ---- DirectoryBackupStore -------------------------------------------------------------------

  @Test
  void backupCopiesAreEncryptedAndReadWithCurrentOrOldKeys() throws Exception {
    byte[] payload = payloadWithSecret("backup");
    DirectoryBackupStore writer = DirectoryBackupStore.open(dir, KEY_A);

    writer.put("3.9", payload);

    Path copy = writer.file("3.9");
    byte[] onDisk = Files.readAllBytes(copy);
    assertThat(AtRestEncryption.keyIdOf(onDisk)).contains(KEY_A.keyId());
    assertThat(onDisk).hasSize(payload.length + AtRestEncryption.OVERHEAD);
    if (posix()) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(copy)))
          .isEqualTo("rw-r-----");
    }
    assertThat(DirectoryBackupStore.open(dir, KEY_A).get("3.9"))
        .hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
    assertThat(DirectoryBackupStore.open(dir, KEY_B.withOldKeys(KEY_A)).get("3.9"))
        .hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
    assertThat(Files.readAllBytes(copy)).isEqualTo(onDisk); // a get never rewrites a shared copy

    DecryptionException noKey =
        catchThrowableOfType(
            DecryptionException.class, () -> DirectoryBackupStore.open(dir).get("3.9"));
    assertThat(noKey.reason()).isEqualTo(DecryptionException.Reason.NO_KEY_CONFIGURED);
    assertThat(noKey.getMessage()).contains(copy.toString()).contains(KEY_A.keyId());

    DecryptionException wrongKey =
        catchThrowableOfType(
            DecryptionException.class, () -> DirectoryBackupStore.open(dir, KEY_B).get("3.9"));
    assertThat(wrongKey.reason()).isEqualTo(DecryptionException.Reason.UNKNOWN_KEY);
    assertThat(wrongKey.getMessage()).contains(copy.toString()).contains(KEY_A.keyId());
  }

  @Test
  void anUnencryptedBackupCopyIsStillImportedWithAKey() throws Exception {
    byte[] payload = payloadWithSecret("legacy");
    DirectoryBackupStore.open(dir).put("3.9", payload);

    assertThat(DirectoryBackupStore.open(dir, KEY_A).get("3.9"))
        .hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
    assertThat(Files.readAllBytes(dir.resolve("3.9/config.json.gz"))).isEqualTo(payload);
  }

  @Test
  void aTamperedBackupCopyIsRefused() throws Exception {
    DirectoryBackupStore store = DirectoryBackupStore.open(dir, KEY_A);
    store.put("3.9", payloadWithSecret("t"));
    byte[] good = Files.readAllBytes(store.file("3.9"));
    good[good.length / 2] ^= 0x20;
    Files.write(store.file("3.9"), good);

    DecryptionException e = catchThrowableOfType(DecryptionException.class, () -> store.get("3.9"));

    assertThat(e.reason()).isEqualTo(DecryptionException.Reason.AUTHENTICATION_FAILED);
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** A real payload whose configuration holds {@link #MARKER} as a credential and a key. */
  static byte[] payloadWithSecret(String service) {
    return HybridProtocol.reconfigure(tableWithSecret(service), 1_700_000_000.5);
  }

  static ObjectNode tableWithSecret(String service) {
    ObjectNode table = MAPPER.createObjectNode();
    table.put("_format_version", "3.0");
    table.putArray("services").addObject().put("name", service).put("host", "orders.internal");
    ObjectNode consumer = table.putArray("consumers").addObject().put("username", "alice");
    consumer.putArray("keyauth_credentials").addObject().put("key", MARKER);
    table
        .putArray("certificates")
        .addObject()
        .put("cert", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
        .put("key", "-----BEGIN PRIVATE KEY-----\n" + MARKER + "\n-----END PRIVATE KEY-----");
    return table;
  }

  static byte[] key(int seed) {
    byte[] key = new byte[32];
    new Random(seed).nextBytes(key);
    return key;
  }

  static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }

  static void assumePosix() {
    assumeTrue(posix());
  }

  /** Something to run while logs are captured. */
  interface Action {
    void run() throws Exception;
  }

  /**
   * Runs {@code action} with {@code System.err} (where slf4j-simple logs, looking the stream up at
   * each line) captured, and returns what was logged; it is copied to the real stream afterwards.
   */
  static String captureStderr(Action action) throws Exception {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      action.run();
    } finally {
      System.setErr(original);
    }
    String text = captured.toString(StandardCharsets.UTF_8);
    original.print(text);
    return text;
  }
}

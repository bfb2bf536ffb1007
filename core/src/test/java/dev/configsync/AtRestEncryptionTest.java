package dev.configsync;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtRestEncryptionTest {
  private static final byte[] KEY_A = key(1);
  private static final byte[] KEY_B = key(2);
  private static final byte[] PAYLOAD =
      "{\"type\":\"reconfigure\",\"secret\":\"hunter2\"}".getBytes(UTF_8);

  @TempDir Path dir;

  @Test
  void encryptThenDecryptReturnsThePayloadForAnySize() throws Exception {
    AtRestEncryption encryption = AtRestEncryption.fromKey(KEY_A);
    Random random = new Random(7);
    for (int size : new int[] {0, 1, 15, 16, 17, 4096, 300_000}) {
      byte[] payload = new byte[size];
      random.nextBytes(payload);

      byte[] encrypted = encryption.encrypt(payload);

      assertThat(encrypted).hasSize(size + AtRestEncryption.OVERHEAD);
      assertThat(encryption.decrypt(encrypted, "test")).isEqualTo(payload);
    }
  }

  @Test
  void theHeaderHoldsMagicVersionKeyIdAndAFreshNonce() throws Exception {
    AtRestEncryption encryption = AtRestEncryption.fromKey(KEY_A);

    byte[] first = encryption.encrypt(PAYLOAD);
    byte[] second = encryption.encrypt(PAYLOAD);

    String expectedId =
        HexFormat.of()
            .formatHex(Arrays.copyOf(MessageDigest.getInstance("SHA-256").digest(KEY_A), 8));
    assertThat(encryption.keyId()).isEqualTo(expectedId).hasSize(16);
    assertThat(Arrays.copyOf(first, 5)).isEqualTo(new byte[] {(byte) 0x89, 'C', 'S', 'E', 1});
    assertThat(HexFormat.of().formatHex(first, 5, 13)).isEqualTo(expectedId);
    assertThat(AtRestEncryption.keyIdOf(first)).contains(expectedId);
    assertThat(AtRestEncryption.isEncrypted(first)).isTrue();
    assertThat(Arrays.copyOfRange(first, 13, 25)).isNotEqualTo(Arrays.copyOfRange(second, 13, 25));
    assertThat(Arrays.copyOfRange(first, 25, first.length))
        .isNotEqualTo(Arrays.copyOfRange(second, 25, second.length));
    assertThat(new String(first, UTF_8)).doesNotContain("hunter2");
  }

  @Test
  void gzipIsNotMistakenForAnEncryptedPayload() {
    assertThat(AtRestEncryption.isEncrypted(new byte[] {0x1f, (byte) 0x8b, 8, 0})).isFalse();
    assertThat(AtRestEncryption.isEncrypted(new byte[] {(byte) 0x89, 'C', 'S'})).isFalse();
    assertThat(AtRestEncryption.keyIdOf(new byte[] {0x1f, (byte) 0x8b})).isEmpty();
  }

  @Test
  void oldKeysDecryptAndTheCurrentKeyEncrypts() throws Exception {
    AtRestEncryption a = AtRestEncryption.fromKey(KEY_A);
    AtRestEncryption b = AtRestEncryption.fromKey(KEY_B);
    byte[] underA = a.encrypt(PAYLOAD);

    AtRestEncryption rotated = b.withOldKeys(a);

    assertThat(rotated.decrypt(underA, "test")).isEqualTo(PAYLOAD);
    assertThat(rotated.keyId()).isEqualTo(b.keyId());
    assertThat(rotated.keyIds()).containsExactly(b.keyId(), a.keyId());
    byte[] underB = rotated.encrypt(PAYLOAD);
    assertThat(AtRestEncryption.keyIdOf(underB)).contains(b.keyId());
    assertThat(b.decrypt(underB, "test")).isEqualTo(PAYLOAD);
    assertThat(rotated.withOldKeys(a, b).keyIds()).containsExactly(b.keyId(), a.keyId());
    assertThat(rotated.toString()).contains(b.keyId()).contains(a.keyId());
  }

  @Test
  void aPayloadUnderAnotherKeyIsRefusedNamingBothKeyIds() {
    AtRestEncryption a = AtRestEncryption.fromKey(KEY_A);
    AtRestEncryption b = AtRestEncryption.fromKey(KEY_B);

    DecryptionException e =
        catchThrowableOfType(
            DecryptionException.class, () -> b.decrypt(a.encrypt(PAYLOAD), "/var/cache/x"));

    assertThat(e.reason()).isEqualTo(DecryptionException.Reason.UNKNOWN_KEY);
    assertThat(e.keyId()).isEqualTo(a.keyId());
    assertThat(e.getMessage()).contains("/var/cache/x", a.keyId(), b.keyId());
  }

  @Test
  void aKeyWithTheSameIdButOtherBytesFailsAuthentication() throws Exception {
    // Forge a payload whose header names A's id but which B encrypted: the tag must not verify.
    AtRestEncryption a = AtRestEncryption.fromKey(KEY_A);
    byte[] forged = AtRestEncryption.fromKey(KEY_B).encrypt(PAYLOAD);
    System.arraycopy(HexFormat.of().parseHex(a.keyId()), 0, forged, 5, 8);

    DecryptionException e =
        catchThrowableOfType(DecryptionException.class, () -> a.decrypt(forged, "test"));

    assertThat(e.reason()).isEqualTo(DecryptionException.Reason.AUTHENTICATION_FAILED);
    assertThat(e.getMessage()).contains(a.keyId()).contains("altered");
  }

  @Test
  void changingAnyBitOfAnEncryptedPayloadIsDetected() {
    AtRestEncryption encryption = AtRestEncryption.fromKey(KEY_A);
    byte[] encrypted = encryption.encrypt(PAYLOAD);
    int checked = 0;
    for (int i = 0; i < encrypted.length; i++) {
      for (int bit = 0; bit < 8; bit++) {
        byte[] tampered = encrypted.clone();
        tampered[i] ^= (byte) (1 << bit);
        int at = i;
        assertThatThrownBy(() -> encryption.decrypt(tampered, "test"))
            .as("bit %d of byte %d", bit, at)
            .isInstanceOf(DecryptionException.class);
        checked++;
      }
    }
    assertThat(checked).isEqualTo(8 * (PAYLOAD.length + AtRestEncryption.OVERHEAD));
  }

  @Test
  void everyTruncationAndAnAppendedByteAreDetected() {
    AtRestEncryption encryption = AtRestEncryption.fromKey(KEY_A);
    byte[] encrypted = encryption.encrypt(PAYLOAD);
    for (int length = 0; length < encrypted.length; length++) {
      byte[] truncated = Arrays.copyOf(encrypted, length);
      assertThatThrownBy(() -> encryption.decrypt(truncated, "test"))
          .as("length %d", length)
          .isInstanceOf(DecryptionException.class);
    }
    DecryptionException shortOne =
        catchThrowableOfType(
            DecryptionException.class,
            () -> encryption.decrypt(Arrays.copyOf(encrypted, 30), "test"));
    assertThat(shortOne.reason()).isEqualTo(DecryptionException.Reason.TRUNCATED);
    assertThat(shortOne.keyId()).isEqualTo(encryption.keyId());

    DecryptionException longer =
        catchThrowableOfType(
            DecryptionException.class,
            () -> encryption.decrypt(Arrays.copyOf(encrypted, encrypted.length + 1), "test"));
    assertThat(longer.reason()).isEqualTo(DecryptionException.Reason.AUTHENTICATION_FAILED);
  }

  @Test
  void anUnknownFormatVersionIsRefusedAsSuch() {
    AtRestEncryption encryption = AtRestEncryption.fromKey(KEY_A);
    byte[] encrypted = encryption.encrypt(PAYLOAD);
    encrypted[4] = 2;

    DecryptionException e =
        catchThrowableOfType(DecryptionException.class, () -> encryption.decrypt(encrypted, "f"));

    assertThat(e.reason()).isEqualTo(DecryptionException.Reason.UNSUPPORTED_VERSION);
    assertThat(e.getMessage()).contains("version 2");
    assertThat(AtRestEncryption.keyIdOf(encrypted)).isEmpty();
  }

  // ---- keys -----------------------------------------------------------------------------------

  @Test
  void aKeyFileMayHoldRawBytesBase64OrHex() throws Exception {
    String expected = AtRestEncryption.fromKey(KEY_A).keyId();
    Path raw = Files.write(dir.resolve("raw.key"), KEY_A);
    Path base64 =
        Files.writeString(dir.resolve("b64.key"), Base64.getEncoder().encodeToString(KEY_A) + "\n");
    Path urlSafe =
        Files.writeString(
            dir.resolve("url.key"), Base64.getUrlEncoder().withoutPadding().encodeToString(KEY_A));
    Path hex = Files.writeString(dir.resolve("hex.key"), "  " + HexFormat.of().formatHex(KEY_A));

    for (Path file : new Path[] {raw, base64, urlSafe, hex}) {
      assertThat(AtRestEncryption.fromKeyFile(file).keyId())
          .as(file.toString())
          .isEqualTo(expected);
    }
    byte[] encrypted = AtRestEncryption.fromKeyFile(base64).encrypt(PAYLOAD);
    assertThat(AtRestEncryption.fromKeyFile(raw).decrypt(encrypted, "test")).isEqualTo(PAYLOAD);
  }

  @Test
  void badKeyFilesAreRefusedWithAMessageNamingTheFileButNotItsContent() throws Exception {
    byte[] binary31 = Arrays.copyOf(KEY_A, 31);
    binary31[0] = 0; // binary for sure
    Map<String, byte[]> cases =
        Map.of(
            "empty.key", new byte[0],
            "blank.key", " \n".getBytes(US_ASCII),
            "short.key", binary31,
            "notbase64.key", "this is not a key!".getBytes(US_ASCII),
            "passphrase.key", "correct-horse-battery-staple-123".getBytes(US_ASCII),
            "b64short.key", Base64.getEncoder().encode(Arrays.copyOf(KEY_A, 16)),
            "hexshort.key", HexFormat.of().formatHex(KEY_A, 0, 30).getBytes(US_ASCII),
            "huge.key", new byte[5000]);
    for (Map.Entry<String, byte[]> c : cases.entrySet()) {
      Path file = Files.write(dir.resolve(c.getKey()), c.getValue());
      String content = new String(c.getValue(), US_ASCII).strip();

      assertThatThrownBy(() -> AtRestEncryption.fromKeyFile(file))
          .as(c.getKey())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(file.toString())
          .hasMessageContaining("openssl rand -base64 32")
          .satisfies(
              e -> {
                if (content.length() > 3) {
                  assertThat(e.getMessage()).doesNotContain(content);
                }
              });
    }
    assertThatThrownBy(() -> AtRestEncryption.fromKeyFile(dir.resolve("missing.key")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("missing.key")
        .hasMessageContaining("does not exist");
  }

  @Test
  void aKeyFileReadableByOthersIsUsedWithAWarning() throws Exception {
    Assumptions.assumeTrue(
        FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
    Path shared = Files.writeString(dir.resolve("shared.key"), HexFormat.of().formatHex(KEY_A));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-r--r--"));
    Path own = Files.writeString(dir.resolve("own.key"), HexFormat.of().formatHex(KEY_B));
    Files.setPosixFilePermissions(own, PosixFilePermissions.fromString("rw-------"));

    String logs =
        captureStderr(
            () -> {
              AtRestEncryption.fromKeyFile(shared);
              AtRestEncryption.fromKeyFile(own);
            });

    assertThat(logs)
        .contains("WARN")
        .contains(shared.toString())
        .contains("chmod 600")
        .doesNotContain(own.toString())
        .doesNotContain(HexFormat.of().formatHex(KEY_A));
  }

  @Test
  void aKeyFromTheEnvironmentIsBase64OrHexText() throws Exception {
    String b64 = Base64.getEncoder().encodeToString(KEY_A);
    String hex = HexFormat.of().formatHex(KEY_A);
    Map<String, String> env = Map.of("B64", b64, "HEX", hex, "BAD", "p@ssw0rd", "EMPTY", "");

    assertThat(AtRestEncryption.fromEnvironment("B64", env::get).keyId())
        .isEqualTo(AtRestEncryption.fromKey(KEY_A).keyId());
    assertThat(AtRestEncryption.fromEnvironment("HEX", env::get).keyId())
        .isEqualTo(AtRestEncryption.fromKey(KEY_A).keyId());
    assertThatThrownBy(() -> AtRestEncryption.fromEnvironment("UNSET", env::get))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("environment variable UNSET is not set");
    assertThatThrownBy(() -> AtRestEncryption.fromEnvironment("BAD", env::get))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("environment variable BAD")
        .hasMessageNotContaining("p@ssw0rd");
    assertThatThrownBy(() -> AtRestEncryption.fromEnvironment("EMPTY", env::get))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("environment variable EMPTY is empty");
    assertThatThrownBy(() -> AtRestEncryption.fromEnvironment("A=B"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theRealEnvironmentIsRead() {
    // PATH is set wherever tests run, and is not a key: the message names it without its value.
    String path = System.getenv("PATH");
    Assumptions.assumeTrue(path != null && path.length() > 3);
    assertThatThrownBy(() -> AtRestEncryption.fromEnvironment("PATH"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("environment variable PATH")
        .hasMessageNotContaining(path);
  }

  @Test
  void aKeyOfTheWrongLengthIsRefused() {
    assertThatThrownBy(() -> AtRestEncryption.fromKey(new byte[16]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("32 bytes, got 16");
  }

  @Test
  void toStringShowsKeyIdsOnly() {
    AtRestEncryption encryption = AtRestEncryption.fromKey(KEY_A);

    assertThat(encryption.toString())
        .isEqualTo("AtRestEncryption[key id " + encryption.keyId() + "]")
        .doesNotContain(HexFormat.of().formatHex(KEY_A).substring(0, 16))
        .doesNotContain(Base64.getEncoder().encodeToString(KEY_A).substring(0, 8));
  }

  private static byte[] key(int seed) {
    byte[] key = new byte[32];
    new Random(seed).nextBytes(key);
    return key;
  }

  /** Runs {@code action} with {@code System.err} (where slf4j-simple logs) captured as well. */
  static String captureStderr(Runnable action) {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, UTF_8));
    try {
      action.run();
    } finally {
      System.setErr(original);
    }
    String text = captured.toString(UTF_8);
    original.print(text);
    return text;
  }
}

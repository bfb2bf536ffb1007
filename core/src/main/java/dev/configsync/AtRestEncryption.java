package dev.configsync;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Encryption at rest of stored configuration payloads (the cache's {@code config.json.gz}, backup
 * copies), which carry secrets: consumer credentials, private keys of certificates. AES-256-GCM
 * from the JDK; one <em>current</em> key encrypts, older keys are still accepted for reading, so
 * that keys can be rotated without losing a cache.
 *
 * <pre>{@code
 * AtRestEncryption keys = AtRestEncryption.fromKeyFile(Path.of("/etc/configsync/cache.key"));
 * // Rotation: encrypt with the new key, still read what the old one wrote.
 * AtRestEncryption rotating =
 *     AtRestEncryption.fromKeyFile(Path.of("/etc/configsync/cache-2.key"))
 *         .withOldKeys(AtRestEncryption.fromKeyFile(Path.of("/etc/configsync/cache.key")));
 * FileSnapshotStore store = FileSnapshotStore.open(dir, rotating);  // configsync-cache
 * }</pre>
 *
 * <p><b>Keys.</b> A key is 32 random bytes, given as the 32 raw bytes, or as base64 or hex text of
 * them (surrounding whitespace ignored): {@code openssl rand -base64 32 > cache.key}. Anything else
 * is refused with an {@link IllegalArgumentException} naming the file or variable (never its
 * content); so is a 32-character text, which is a passphrase, not a key. A key's <em>id</em> is the
 * first 8 bytes of the SHA-256 of its 32 bytes, in hex ({@code base64 -d cache.key | sha256sum |
 * cut -c1-16}); it is recorded in each encrypted payload so that the right key is picked on reading
 * and logs can say which key is missing. The key itself is never written, logged or shown by {@link
 * #toString()}.
 *
 * <p><b>Format</b> (version 1). An encrypted payload is a 25-byte header followed by the AES-GCM
 * ciphertext and its 128-bit tag: the magic bytes {@code 89 43 53 45} ({@code "\x89CSE"}), the
 * format version (1 byte, {@code 01}), the key id (8 bytes), a random 96-bit nonce (12 bytes, new
 * for every encryption). The whole header is authenticated as GCM associated data, so no byte of
 * the file can change unnoticed. The plaintext is the stored payload exactly as it would otherwise
 * be written (the gzip {@code reconfigure} message, byte for byte): encryption adds {@value
 * #OVERHEAD} bytes and never re-encodes.
 *
 * <p>Threading: instances are immutable and thread-safe. {@link #encrypt} and {@link #decrypt} use
 * a {@link Cipher} of their own per call.
 */
public final class AtRestEncryption {
  /** The length of a key: 32 bytes (AES-256). */
  public static final int KEY_BYTES = 32;

  /** The format version this class writes, and the only one it reads. */
  public static final int FORMAT_VERSION = 1;

  /** The length of the header: magic (4), version (1), key id (8), nonce (12). */
  public static final int HEADER_BYTES = 25;

  /** What encryption adds to a payload: the header and the 16-byte tag. */
  public static final int OVERHEAD = HEADER_BYTES + 16;

  private static final Logger log = LoggerFactory.getLogger(AtRestEncryption.class);
  private static final byte[] MAGIC = {(byte) 0x89, 'C', 'S', 'E'};
  private static final int KEY_ID_OFFSET = MAGIC.length + 1;
  private static final int KEY_ID_BYTES = 8;
  private static final int NONCE_OFFSET = KEY_ID_OFFSET + KEY_ID_BYTES;
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  private static final String TRANSFORMATION = "AES/GCM/NoPadding";
  private static final int MAX_KEY_FILE_BYTES = 4096;
  private static final Pattern HEX_KEY = Pattern.compile("[0-9a-fA-F]{" + 2 * KEY_BYTES + "}");
  private static final Pattern HEX_DIGITS = Pattern.compile("[0-9a-fA-F]+");
  private static final String HOW_TO_MAKE_ONE =
      "a key is 32 random bytes, raw or as base64 or hex text; create one with"
          + " 'openssl rand -base64 32'";

  private final Key current;
  private final List<Key> keys; // current first, then the old ones; ids unique
  private final SecureRandom random;

  private AtRestEncryption(Key current, List<Key> keys, SecureRandom random) {
    this.current = current;
    this.keys = List.copyOf(keys);
    this.random = random;
  }

  /**
   * Encryption with the key in {@code file}: 32 raw bytes, or base64 or hex text of 32 bytes. Logs
   * a WARN when the file is readable by its group or by others (where the file system is POSIX).
   *
   * @throws IllegalArgumentException when the file is missing, unreadable, or does not hold a key;
   *     the message names the file and says how to make a key, and never shows the content
   */
  public static AtRestEncryption fromKeyFile(Path file) {
    Objects.requireNonNull(file, "file");
    String source = "encryption key file " + file;
    byte[] content = readKeyFile(file, source);
    try {
      AtRestEncryption encryption = of(parseKey(content, source));
      warnIfShared(file);
      return encryption;
    } finally {
      Arrays.fill(content, (byte) 0);
    }
  }

  /**
   * Encryption with the key in the environment variable {@code variable}: base64 or hex text of 32
   * bytes.
   *
   * @throws IllegalArgumentException when the variable is not set or does not hold a key; the
   *     message names the variable and never shows its value
   */
  public static AtRestEncryption fromEnvironment(String variable) {
    return fromEnvironment(variable, System::getenv);
  }

  static AtRestEncryption fromEnvironment(
      String variable, Function<String, @Nullable String> environment) {
    Objects.requireNonNull(variable, "variable");
    if (variable.isBlank() || variable.contains("=")) {
      throw new IllegalArgumentException(
          "an environment variable name must be non-blank and without '=', got: \""
              + variable
              + "\"");
    }
    String source = "environment variable " + variable;
    String value = environment.apply(variable);
    if (value == null) {
      throw new IllegalArgumentException(
          source + " is not set; set it to a key (" + HOW_TO_MAKE_ONE + ")");
    }
    return of(parseText(value, source));
  }

  /**
   * Encryption with {@code key} (32 bytes), for keys that come from elsewhere (a secrets manager).
   * The array is copied; the caller may clear it afterwards.
   *
   * @throws IllegalArgumentException when {@code key} is not 32 bytes long
   */
  public static AtRestEncryption fromKey(byte[] key) {
    Objects.requireNonNull(key, "key");
    if (key.length != KEY_BYTES) {
      throw new IllegalArgumentException(
          "an encryption key must be " + KEY_BYTES + " bytes, got " + key.length);
    }
    return of(key.clone());
  }

  /**
   * A copy of this encryption that also reads payloads written with the keys of {@code older}
   * (their current and old keys). This one's current key still encrypts; keys already known (same
   * id) are skipped.
   */
  public AtRestEncryption withOldKeys(AtRestEncryption... older) {
    List<Key> all = new ArrayList<>(keys);
    for (AtRestEncryption other : older) {
      for (Key key : Objects.requireNonNull(other, "older").keys) {
        if (all.stream().noneMatch(k -> k.id.equals(key.id))) {
          all.add(key);
        }
      }
    }
    return new AtRestEncryption(current, all, random);
  }

  /** The id of the key that encrypts: 16 hex digits. */
  public String keyId() {
    return current.id;
  }

  /** The ids of every key that decrypts, the current one first. */
  public List<String> keyIds() {
    return keys.stream().map(k -> k.id).toList();
  }

  /**
   * Encrypts {@code payload} with the current key and a new random nonce.
   *
   * @return the header followed by the ciphertext and tag ({@link #OVERHEAD} bytes more)
   * @throws IllegalArgumentException when {@code payload} is too large for one array with the
   *     overhead (over 2 GiB)
   */
  public byte[] encrypt(byte[] payload) {
    if (payload.length > Integer.MAX_VALUE - 8 - OVERHEAD) {
      throw new IllegalArgumentException("payload too large to encrypt: " + payload.length);
    }
    byte[] nonce = new byte[NONCE_BYTES];
    random.nextBytes(nonce);
    byte[] out = new byte[OVERHEAD + payload.length];
    System.arraycopy(MAGIC, 0, out, 0, MAGIC.length);
    out[MAGIC.length] = (byte) FORMAT_VERSION;
    System.arraycopy(current.idBytes, 0, out, KEY_ID_OFFSET, KEY_ID_BYTES);
    System.arraycopy(nonce, 0, out, NONCE_OFFSET, NONCE_BYTES);
    try {
      Cipher cipher = Cipher.getInstance(TRANSFORMATION);
      cipher.init(Cipher.ENCRYPT_MODE, current.spec, new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(out, 0, HEADER_BYTES);
      cipher.doFinal(payload, 0, payload.length, out, HEADER_BYTES);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM encryption failed in this JVM: " + e, e);
    }
    return out;
  }

  /**
   * Decrypts a payload written by {@link #encrypt} with the current key or an old one.
   *
   * @param source names the payload in messages, such as its file; never its content
   * @throws DecryptionException when {@code encrypted} is not an encrypted payload ({@link
   *     DecryptionException.Reason#NOT_A_PAYLOAD}), has an unknown format version, is shorter than
   *     a header and tag, was written with a key not configured here, or fails authentication
   *     (altered, damaged or cut short)
   */
  public byte[] decrypt(byte[] encrypted, String source) throws DecryptionException {
    if (!isEncrypted(encrypted)) {
      throw new DecryptionException(
          DecryptionException.Reason.NOT_A_PAYLOAD,
          null,
          source + " is not an encrypted configsync payload");
    }
    if (encrypted.length == MAGIC.length) {
      throw new DecryptionException(
          DecryptionException.Reason.TRUNCATED,
          null,
          source + " is truncated: it ends right after the encryption magic bytes");
    }
    int version = encrypted[MAGIC.length] & 0xff;
    if (version != FORMAT_VERSION) {
      throw new DecryptionException(
          DecryptionException.Reason.UNSUPPORTED_VERSION,
          null,
          source
              + " has encryption format version "
              + version
              + "; this configsync reads version "
              + FORMAT_VERSION
              + " only (was it written by a newer one?)");
    }
    String keyId = keyIdOf(encrypted).orElse(null);
    if (encrypted.length < OVERHEAD) {
      throw new DecryptionException(
          DecryptionException.Reason.TRUNCATED,
          keyId,
          source
              + " is truncated: "
              + encrypted.length
              + " bytes, fewer than the "
              + OVERHEAD
              + " of an encryption header and tag");
    }
    Key key = null;
    for (Key k : keys) {
      if (k.id.equals(keyId)) {
        key = k;
        break;
      }
    }
    if (key == null) {
      throw new DecryptionException(
          DecryptionException.Reason.UNKNOWN_KEY,
          keyId,
          source
              + " is encrypted with key id "
              + keyId
              + ", which is not among the configured keys "
              + keyIds()
              + "; configure the key it was written with (as an old key if it is no longer"
              + " current)");
    }
    byte[] nonce = Arrays.copyOfRange(encrypted, NONCE_OFFSET, NONCE_OFFSET + NONCE_BYTES);
    try {
      Cipher cipher = Cipher.getInstance(TRANSFORMATION);
      cipher.init(Cipher.DECRYPT_MODE, key.spec, new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(encrypted, 0, HEADER_BYTES);
      return cipher.doFinal(encrypted, HEADER_BYTES, encrypted.length - HEADER_BYTES);
    } catch (AEADBadTagException e) {
      throw new DecryptionException(
          DecryptionException.Reason.AUTHENTICATION_FAILED,
          keyId,
          source
              + " fails authentication with key id "
              + keyId
              + ": it was altered, damaged or cut short after it was written",
          e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM decryption failed in this JVM: " + e, e);
    }
  }

  /** Whether {@code bytes} start with the magic bytes of an encrypted payload. */
  public static boolean isEncrypted(byte[] bytes) {
    return bytes.length >= MAGIC.length
        && Arrays.equals(bytes, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
  }

  /**
   * The key id recorded in an encrypted payload's header, or empty when {@code bytes} are not an
   * encrypted payload of a known format version, or too short to hold a key id.
   */
  public static Optional<String> keyIdOf(byte[] bytes) {
    if (!isEncrypted(bytes)
        || bytes.length < NONCE_OFFSET
        || (bytes[MAGIC.length] & 0xff) != FORMAT_VERSION) {
      return Optional.empty();
    }
    return Optional.of(HexFormat.of().formatHex(bytes, KEY_ID_OFFSET, NONCE_OFFSET));
  }

  /** The key ids, never a key: {@code AtRestEncryption[key id 1a2b..., old key ids [...]]}. */
  @Override
  public String toString() {
    List<String> ids = keyIds();
    return "AtRestEncryption[key id "
        + current.id
        + (ids.size() > 1 ? ", old key ids " + ids.subList(1, ids.size()) : "")
        + "]";
  }

  // ---- keys -----------------------------------------------------------------------------------

  /** Takes ownership of {@code raw} (32 bytes) and clears it. */
  private static AtRestEncryption of(byte[] raw) {
    try {
      Key key = new Key(raw);
      return new AtRestEncryption(key, List.of(key), new SecureRandom());
    } finally {
      Arrays.fill(raw, (byte) 0);
    }
  }

  private static byte[] readKeyFile(Path file, String source) {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size > MAX_KEY_FILE_BYTES) {
        throw new IllegalArgumentException(
            source + " is " + size + " bytes, too large for a key; " + HOW_TO_MAKE_ONE);
      }
      ByteBuffer buffer = ByteBuffer.allocate((int) size);
      while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
        // read it all
      }
      return Arrays.copyOf(buffer.array(), buffer.position());
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(source + " does not exist", e);
    } catch (IOException e) {
      throw new IllegalArgumentException(source + " cannot be read: " + e, e);
    }
  }

  private static void warnIfShared(Path file) {
    PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
    if (view == null) {
      return;
    }
    try {
      Set<PosixFilePermission> perms = view.readAttributes().permissions();
      if (perms.contains(PosixFilePermission.GROUP_READ)
          || perms.contains(PosixFilePermission.OTHERS_READ)) {
        log.warn(
            "encryption key file {} is readable by its group or others ({}); make it readable by"
                + " its owner only: chmod 600 {}",
            file,
            PosixFilePermissions.toString(perms),
            file);
      }
    } catch (IOException e) {
      log.debug("cannot read the permissions of {}: {}", file, e.toString());
    }
  }

  /** The 32 key bytes in {@code content}: raw, or text. */
  private static byte[] parseKey(byte[] content, String source) {
    if (content.length == 0) {
      throw new IllegalArgumentException(source + " is empty; " + HOW_TO_MAKE_ONE);
    }
    boolean text = true;
    for (byte b : content) {
      text &= (b >= 0x20 && b < 0x7f) || b == '\n' || b == '\r' || b == '\t';
    }
    if (text) {
      return parseText(new String(content, US_ASCII), source);
    }
    if (content.length != KEY_BYTES) {
      throw new IllegalArgumentException(
          source
              + " holds "
              + content.length
              + " bytes of binary data; a raw key is exactly "
              + KEY_BYTES
              + " bytes; "
              + HOW_TO_MAKE_ONE);
    }
    return content.clone();
  }

  /** The 32 key bytes in {@code value}: base64 or hex, whitespace around and inside ignored. */
  private static byte[] parseText(String value, String source) {
    String text = value.replaceAll("\\s+", "");
    if (text.isEmpty()) {
      throw new IllegalArgumentException(source + " is empty; " + HOW_TO_MAKE_ONE);
    }
    if (HEX_KEY.matcher(text).matches()) {
      return HexFormat.of().parseHex(text);
    }
    if (HEX_DIGITS.matcher(text).matches()) {
      throw new IllegalArgumentException(
          source
              + " holds "
              + text.length()
              + " hex digits; a key is "
              + 2 * KEY_BYTES
              + "; "
              + HOW_TO_MAKE_ONE);
    }
    byte[] decoded = base64(text);
    if (decoded == null) {
      throw new IllegalArgumentException(
          source
              + " is neither base64 nor hex text of a key (a passphrase is not a key); "
              + HOW_TO_MAKE_ONE);
    }
    if (decoded.length != KEY_BYTES) {
      int n = decoded.length;
      Arrays.fill(decoded, (byte) 0);
      throw new IllegalArgumentException(
          source
              + " holds base64 text of "
              + n
              + " bytes; a key is "
              + KEY_BYTES
              + " bytes (a passphrase is not a key); "
              + HOW_TO_MAKE_ONE);
    }
    return decoded;
  }

  private static byte @Nullable [] base64(String text) {
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException notStandard) {
      try {
        return Base64.getUrlDecoder().decode(text);
      } catch (IllegalArgumentException notUrlSafe) {
        return null;
      }
    }
  }

  /** A key and its id. No toString: the default one shows neither. */
  private static final class Key {
    final SecretKeySpec spec;
    final byte[] idBytes;
    final String id;

    Key(byte[] raw) {
      this.spec = new SecretKeySpec(raw, "AES");
      this.idBytes = Arrays.copyOf(sha256(raw), KEY_ID_BYTES);
      this.id = HexFormat.of().formatHex(idBytes);
    }

    private static byte[] sha256(byte[] bytes) {
      try {
        return MessageDigest.getInstance("SHA-256").digest(bytes);
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-256 is missing from this JVM", e);
      }
    }
  }
}

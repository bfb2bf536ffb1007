package dev.configsync.agent;

import dev.configsync.cli.BadArgumentException;
import dev.configsync.tls.SecretFilePermissions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The passphrase of an encrypted private key, from {@code --key-passphrase-file} or {@code
 * --key-passphrase-env}. Never from the command line itself: other users can read a process's
 * arguments.
 */
final class KeyPassphrase {
  private static final Logger log = LoggerFactory.getLogger(KeyPassphrase.class);

  /** A passphrase file larger than this is surely the wrong file. */
  static final int MAX_BYTES = 4096;

  private KeyPassphrase() {}

  /** From the flags, or null when neither is given. The caller wipes the result after use. */
  static char @Nullable [] read(@Nullable Path file, @Nullable String envName)
      throws BadArgumentException {
    return read(file, envName, System::getenv);
  }

  static char @Nullable [] read(
      @Nullable Path file, @Nullable String envName, UnaryOperator<@Nullable String> environment)
      throws BadArgumentException {
    if (file != null && envName != null) {
      throw new BadArgumentException(
          "--key-passphrase-file and --key-passphrase-env are alternatives; give one");
    }
    if (file != null) {
      return fromFile(file);
    }
    if (envName != null) {
      String value = environment.apply(envName);
      if (value == null || value.isEmpty()) {
        throw new BadArgumentException(
            "--key-passphrase-env: the environment variable " + envName + " is not set or empty");
      }
      return value.toCharArray();
    }
    return null;
  }

  private static char[] fromFile(Path file) throws BadArgumentException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (IOException e) {
      throw new BadArgumentException("--key-passphrase-file " + file + " cannot be read: " + e, e);
    }
    try {
      if (bytes.length > MAX_BYTES) {
        throw new BadArgumentException(
            "--key-passphrase-file " + file + " is larger than " + MAX_BYTES + " bytes");
      }
      int end = bytes.length;
      // 'echo secret > file' adds a newline that is not part of the passphrase.
      if (end > 0 && bytes[end - 1] == '\n') {
        end--;
        if (end > 0 && bytes[end - 1] == '\r') {
          end--;
        }
      }
      if (end == 0) {
        throw new BadArgumentException("--key-passphrase-file " + file + " is empty");
      }
      CharBuffer chars;
      try {
        chars =
            StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes, 0, end));
      } catch (CharacterCodingException e) {
        throw new BadArgumentException("--key-passphrase-file " + file + " is not UTF-8 text", e);
      }
      char[] passphrase = new char[chars.remaining()];
      chars.get(passphrase);
      Arrays.fill(chars.array(), '\0');
      SecretFilePermissions.warning(file, "key passphrase").ifPresent(log::warn);
      return passphrase;
    } finally {
      Arrays.fill(bytes, (byte) 0);
    }
  }
}

package dev.configsync.cli;

import dev.configsync.tls.PemMaterial;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Checks each PEM file of a command's TLS flags in its own role (certificates, or one private key),
 * so that a refusal names the flag whose file is wrong. Messages from {@link PemMaterial} name
 * files, and two flags may name the same file (a combined PEM given as {@code --cert} and {@code
 * --key}): only the flag tells which role failed. Stateless; safe from any thread.
 */
public final class PemFlags {
  private PemFlags() {}

  /**
   * Checks that {@code file} holds at least one certificate.
   *
   * @param flag the flag that named the file, such as {@code --cert}
   * @param file the file
   * @throws BadArgumentException starting with {@code flag}, then the file, then what is wrong
   */
  public static void certificates(String flag, Path file) throws BadArgumentException {
    try {
      PemMaterial.certificates(PemMaterial.readFile(file), file.toString());
    } catch (IllegalArgumentException e) {
      throw refusal(flag, file, e);
    }
  }

  /**
   * Checks that {@code file} holds exactly one usable private key.
   *
   * @param flag the flag that named the file, such as {@code --key}
   * @param file the file
   * @param passphrase the passphrase of an encrypted key, or null for an unencrypted one
   * @throws BadArgumentException starting with {@code flag}, then the file, then what is wrong
   */
  public static void privateKey(String flag, Path file, char @Nullable [] passphrase)
      throws BadArgumentException {
    try {
      PemMaterial.privateKey(PemMaterial.readFile(file), file.toString(), passphrase);
    } catch (IllegalArgumentException e) {
      throw refusal(flag, file, e);
    }
  }

  /**
   * Checks {@code --cert}, {@code --key} and, if given, {@code --ca}, in that order, each in its
   * role. Whatever is refused after these pass concerns the pair: name it {@code --cert/--key}.
   *
   * @param cert the {@code --cert} file
   * @param key the {@code --key} file
   * @param ca the {@code --ca} file, or null
   * @param passphrase the key's passphrase, or null
   * @throws BadArgumentException naming the first flag whose file is refused
   */
  public static void certKeyAndCa(
      Path cert, Path key, @Nullable Path ca, char @Nullable [] passphrase)
      throws BadArgumentException {
    certificates("--cert", cert);
    privateKey("--key", key, passphrase);
    if (ca != null) {
      certificates("--ca", ca);
    }
  }

  /**
   * Checks the files as {@link #certKeyAndCa} does, then builds the TLS context from them. What
   * {@code context} refuses after the files passed concerns the pair (the key does not match the
   * certificate, or the two cannot make a TLS context): it is named {@code --cert/--key}.
   *
   * @param <T> the TLS context's type
   * @param cert the {@code --cert} file
   * @param key the {@code --key} file
   * @param ca the {@code --ca} file, or null
   * @param passphrase the key's passphrase, or null
   * @param context builds the TLS context from the files; throws {@link IllegalArgumentException}
   *     for material it refuses
   * @return what {@code context} built
   * @throws BadArgumentException naming the flag, or the pair, whose material is refused
   */
  public static <T> T tlsContext(
      Path cert, Path key, @Nullable Path ca, char @Nullable [] passphrase, Supplier<T> context)
      throws BadArgumentException {
    // Each file in its own role first, so that a refusal names the flag whose file is wrong:
    // messages name files, and --cert and --key may name the same one (a combined PEM).
    certKeyAndCa(cert, key, ca, passphrase);
    try {
      return context.get();
    } catch (IllegalArgumentException e) {
      throw new BadArgumentException("--cert/--key: " + e.getMessage(), e);
    }
  }

  private static BadArgumentException refusal(String flag, Path file, IllegalArgumentException e) {
    String message = String.valueOf(e.getMessage());
    return new BadArgumentException(
        flag + ": " + (message.startsWith(file.toString()) ? "" : file + ": ") + message, e);
  }
}

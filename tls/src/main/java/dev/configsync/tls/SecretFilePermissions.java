package dev.configsync.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * Checks that a file holding a secret (a private key, a passphrase) is private to its owner. A file
 * that group or others can access is worth a warning, not a refusal: the node still starts, and the
 * operator learns how to fix it.
 *
 * <p>Stateless and thread-safe. Not API: shared by the transport, the agent and the control plane.
 */
public final class SecretFilePermissions {
  private static final Set<PosixFilePermission> NOT_OWNER =
      EnumSet.of(
          PosixFilePermission.GROUP_READ,
          PosixFilePermission.GROUP_WRITE,
          PosixFilePermission.GROUP_EXECUTE,
          PosixFilePermission.OTHERS_READ,
          PosixFilePermission.OTHERS_WRITE,
          PosixFilePermission.OTHERS_EXECUTE);

  private SecretFilePermissions() {}

  /**
   * The warning to log about {@code file}, if group or others have any permission on it (symbolic
   * links are followed: what counts is the file read). Empty when the file is private to its owner,
   * when the file system has no POSIX permissions (Windows), or when the permissions cannot be read
   * (reading the file will report that).
   *
   * @param file the file holding the secret
   * @param what what the file holds, for the message, e.g. "private key" or "key passphrase"
   * @return e.g. {@code "/etc/dp.key: the private key file is accessible to group or others (mode
   *     0644); run 'chmod 600 /etc/dp.key' so that only its owner can read it"}
   */
  public static Optional<String> warning(Path file, String what) {
    PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
    if (view == null) {
      return Optional.empty();
    }
    Set<PosixFilePermission> permissions;
    try {
      permissions = view.readAttributes().permissions();
    } catch (IOException | UnsupportedOperationException e) {
      return Optional.empty();
    }
    if (permissions.stream().noneMatch(NOT_OWNER::contains)) {
      return Optional.empty();
    }
    return Optional.of(
        file
            + ": the "
            + what
            + " file is accessible to group or others (mode "
            + octal(permissions)
            + "); run 'chmod 600 "
            + file
            + "' so that only its owner can read it");
  }

  private static int bit(PosixFilePermission permission) {
    return switch (permission) {
      case OWNER_READ -> 0400;
      case OWNER_WRITE -> 0200;
      case OWNER_EXECUTE -> 0100;
      case GROUP_READ -> 040;
      case GROUP_WRITE -> 020;
      case GROUP_EXECUTE -> 010;
      case OTHERS_READ -> 04;
      case OTHERS_WRITE -> 02;
      case OTHERS_EXECUTE -> 01;
    };
  }

  /** {@code rw-r--r--} as {@code 0644}. */
  static String octal(Set<PosixFilePermission> permissions) {
    int mode = 0;
    for (PosixFilePermission p : permissions) {
      mode |= bit(p);
    }
    return String.format("0%03o", mode);
  }
}

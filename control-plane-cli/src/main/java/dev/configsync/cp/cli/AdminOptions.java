package dev.configsync.cp.cli;

import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.HostPort;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * The admin API flags of {@code configsync-cp}: {@code --admin-listen}, {@code --no-admin} and
 * {@code --admin-token-file}. A picocli mixin; read on the command's thread only.
 */
final class AdminOptions {
  /** The admin API address when neither {@code --admin-listen} nor {@code --no-admin} is given. */
  static final String DEFAULT_ADMIN_LISTEN = "127.0.0.1:8001";

  @Option(
      names = "--admin-listen",
      paramLabel = "HOST:PORT",
      converter = HostPort.Converter.class,
      description =
          "Where the admin HTTP API listens (default "
              + DEFAULT_ADMIN_LISTEN
              + "). Plain HTTP: keep it on loopback or protect it with --admin-token-file.")
  @Nullable InetSocketAddress adminListen;

  @Option(names = "--no-admin", description = "No admin API.")
  boolean noAdmin;

  @Option(
      names = "--admin-token-file",
      paramLabel = "FILE",
      description =
          "A file holding the admin API's bearer token (at least 16 characters, no whitespace);"
              + " every request must send 'Authorization: Bearer TOKEN'. Keep it mode 0600.")
  @Nullable Path adminTokenFile;

  /** Where the admin API listens, or null for none. */
  @Nullable InetSocketAddress address() throws BadArgumentException {
    if (noAdmin) {
      if (adminListen != null) {
        throw new BadArgumentException("--no-admin and --admin-listen contradict each other");
      }
      if (adminTokenFile != null) {
        throw new BadArgumentException(
            "--admin-token-file is for the admin API, which --no-admin turns off");
      }
      return null;
    }
    InetSocketAddress admin = adminListen;
    return admin != null ? admin : HostPort.parse(DEFAULT_ADMIN_LISTEN);
  }

  /** Reads {@code --admin-token-file}; warns when others may read it. */
  @Nullable String token() throws BadArgumentException {
    Path file = adminTokenFile;
    if (file == null) {
      return null;
    }
    String token;
    try {
      if (Files.size(file) > 4096) {
        throw new BadArgumentException(
            "--admin-token-file " + file + " is larger than 4096 bytes; it should hold one token");
      }
      token = Files.readString(file).strip();
    } catch (NoSuchFileException e) {
      throw new BadArgumentException("--admin-token-file " + file + ": no such file", e);
    } catch (IOException | RuntimeException e) {
      throw new BadArgumentException(
          "--admin-token-file " + file + " cannot be read: " + e.getMessage(), e);
    }
    if (token.length() < 16 || token.chars().anyMatch(Character::isWhitespace)) {
      throw new BadArgumentException(
          "--admin-token-file "
              + file
              + " must hold one token of at least 16 characters without whitespace (for example"
              + " the output of 'openssl rand -hex 32')");
    }
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
      Set<PosixFilePermission> others =
          EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ);
      others.retainAll(permissions);
      if (!others.isEmpty()) {
        // Looked up now, not in a static field: main configures the logging backend first.
        LoggerFactory.getLogger(ControlPlaneMain.class)
            .warn(
                "--admin-token-file {} can be read by {} (mode {}); 'chmod 600' it",
                file,
                others.contains(PosixFilePermission.OTHERS_READ) ? "everyone" : "its group",
                PosixFilePermissions.toString(permissions));
      }
    } catch (UnsupportedOperationException | IOException e) {
      // Not a POSIX file system: nothing to check.
    }
    return token;
  }
}

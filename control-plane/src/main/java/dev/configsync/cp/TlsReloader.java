package dev.configsync.cp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS material new connections get, and its reload when the files rotate. Thread-safe: the
 * material is read by every new connection's event loop, reloaded on a timer or by the embedder.
 */
final class TlsReloader {
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  private volatile ServerTls tls;
  private volatile String filesStamp;

  TlsReloader(ServerTls tls) {
    this.tls = tls;
    this.filesStamp = filesStamp(tls);
  }

  /** The material for the next connection. */
  ServerTls current() {
    return tls;
  }

  /** See {@link ControlPlaneServer#reloadTls()}. */
  void reload() {
    ServerTls current = tls;
    String stamp = filesStamp(current);
    ServerTls reloaded = current.reload();
    tls = reloaded;
    filesStamp = stamp;
    log.info("Reloaded TLS material for new connections: {}", reloaded);
  }

  /** Reloads when a file's size or modification time changed; keeps the old material on failure. */
  void reloadIfChanged() {
    if (filesStamp(tls).equals(filesStamp)) {
      return;
    }
    try {
      reload();
    } catch (IllegalArgumentException e) {
      // Half-rotated files (a new certificate with the old key) must not replace good material;
      // the stamp is left alone so the next check tries again.
      log.warn(
          "TLS files changed but cannot be used yet; keeping the previous ones: {}",
          e.getMessage());
    }
  }

  /** Sizes and modification times of the TLS files, to notice a rotation cheaply. */
  private static String filesStamp(ServerTls tls) {
    StringBuilder stamp = new StringBuilder();
    for (Path p : tls.sourcePaths()) {
      try {
        stamp
            .append(Files.getLastModifiedTime(p).toMillis())
            .append('/')
            .append(Files.size(p))
            .append(';');
      } catch (IOException e) {
        stamp.append("missing;");
      }
    }
    return stamp.toString();
  }
}

package dev.configsync.okhttp;

import dev.configsync.tls.PemMaterial;
import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transport's current TLS material, checked against its files before each connection attempt.
 *
 * <p>The files are read (they are small) and their digests compared with those the current material
 * was built from; only when they differ is the material parsed again. New material that cannot be
 * used (a rotation half done: certificate replaced, key not yet; a wrong passphrase; a file
 * missing) leaves the current material in place, with one WARN per distinct problem, and the
 * problem is remembered so that a connection failure can mention it. The same bad files are not
 * parsed again.
 *
 * <p>Thread-safe; {@link #refresh()} does blocking file I/O and runs on a connection's own thread.
 */
final class RotatingTls {
  private static final Logger log = LoggerFactory.getLogger(RotatingTls.class);

  private TlsConfig current;
  private @Nullable List<String> refusedDigests;
  private @Nullable String problem;

  RotatingTls(TlsConfig initial) {
    this.current = initial;
  }

  /** The material in use, without looking at the files. */
  synchronized TlsConfig latest() {
    return current;
  }

  /** Why the files could not replace the material in use, if they changed and could not. */
  synchronized @Nullable String problem() {
    return problem;
  }

  /** The material to connect with: new material if the files changed and are usable. */
  synchronized TlsConfig refresh() {
    TlsConfig config = current;
    List<Path> paths = config.sourcePaths();
    if (paths.isEmpty()) {
      return config;
    }
    List<String> texts;
    try {
      texts = TlsConfig.readAll(paths);
    } catch (IllegalArgumentException e) {
      refusedDigests = null;
      return keep(config, String.valueOf(e.getMessage()));
    }
    List<String> digests = texts.stream().map(TlsConfig::sha256).toList();
    if (digests.equals(config.sourceDigests())) {
      problem = null; // the files are back to what is in use
      refusedDigests = null;
      return config;
    }
    if (digests.equals(refusedDigests)) {
      return config; // already refused, and said so
    }
    TlsConfig next;
    try {
      next = config.reloadFrom(texts);
    } catch (IllegalArgumentException e) {
      refusedDigests = digests;
      return keep(config, String.valueOf(e.getMessage()));
    }
    current = next;
    problem = null;
    refusedDigests = null;
    if (next.sameMaterialAs(config)) {
      log.debug("configsync TLS files {} rewritten with the same material", paths);
    } else {
      log.info(
          "configsync TLS files {} changed: connecting with the new material; this node now"
              + " presents {}",
          paths,
          PemMaterial.describe(next.certificateChain().get(0)));
    }
    return next;
  }

  private TlsConfig keep(TlsConfig config, String why) {
    if (!why.equals(problem)) {
      log.warn(
          "configsync TLS files {} changed but cannot be used ({}); still using the previous"
              + " material, which presents {}; fix the files (they are read again before each"
              + " connection)",
          config.sourcePaths(),
          why,
          PemMaterial.describe(config.certificateChain().get(0)));
    }
    problem = why;
    return config;
  }
}

package dev.configsync.cp.cli;

import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.PemFlags;
import dev.configsync.cp.ServerTls;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The data plane port's TLS flags of {@code configsync-cp}: {@code --cert}, {@code --key}, {@code
 * --ca} and {@code --cluster-mode}. A picocli mixin; read on the command's thread only.
 */
final class ServerTlsOptions {
  @Option(
      names = "--cert",
      required = true,
      paramLabel = "FILE",
      description =
          "The control plane's certificate chain, PEM, leaf first. In shared mode, the one"
              + " certificate every node also uses.")
  @Nullable Path cert;

  @Option(
      names = "--key",
      required = true,
      paramLabel = "FILE",
      description = "The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1), unencrypted.")
  @Nullable Path key;

  @Option(
      names = "--ca",
      paramLabel = "FILE",
      description =
          "The CA certificate(s), PEM, that issue data plane certificates. Required in pki mode,"
              + " refused in shared mode.")
  @Nullable Path ca;

  @Option(
      names = "--cluster-mode",
      paramLabel = "pki|shared",
      defaultValue = "pki",
      description =
          "pki (default): nodes present certificates issued by --ca. shared: nodes present this"
              + " control plane's own certificate (--cert/--key).")
  String clusterMode = "pki";

  /** The trust mode {@code --cluster-mode} names, checked against {@code --ca}. */
  ServerTls.Mode mode() throws BadArgumentException {
    String mode = clusterMode.trim().toLowerCase(Locale.ROOT);
    switch (mode) {
      case "pki" -> {
        if (ca == null) {
          throw new BadArgumentException(
              "--cluster-mode pki (the default) needs --ca FILE, the CA that issues the data"
                  + " planes' certificates; for one certificate shared by the control plane and"
                  + " every node, use --cluster-mode shared");
        }
        return ServerTls.Mode.PKI;
      }
      case "shared" -> {
        if (ca != null) {
          throw new BadArgumentException(
              "--ca is not used with --cluster-mode shared (every node presents this control"
                  + " plane's own certificate); remove --ca, or use --cluster-mode pki");
        }
        return ServerTls.Mode.SHARED;
      }
      default ->
          throw new BadArgumentException(
              "--cluster-mode must be pki or shared, got: " + clusterMode);
    }
  }

  /** The server's TLS material; a refusal names the flag whose file is wrong. */
  ServerTls tls(ServerTls.Mode mode) throws BadArgumentException {
    Path certFile = Objects.requireNonNull(cert, "--cert");
    Path keyFile = Objects.requireNonNull(key, "--key");
    Path caFile = ca;
    return PemFlags.tlsContext(
        certFile,
        keyFile,
        caFile,
        null,
        () ->
            mode == ServerTls.Mode.SHARED
                ? ServerTls.shared(certFile, keyFile)
                : ServerTls.pki(certFile, keyFile, Objects.requireNonNull(caFile, "--ca")));
  }
}

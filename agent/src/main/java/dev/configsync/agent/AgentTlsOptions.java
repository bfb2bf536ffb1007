package dev.configsync.agent;

import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.PemFlags;
import dev.configsync.okhttp.TlsConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The TLS flags of {@code configsync-agent run}: this node's certificate and key (and the key's
 * passphrase), the trusted CA, the server name and the cluster mode. A picocli mixin; read on the
 * command's thread only.
 */
final class AgentTlsOptions {
  @Option(
      names = "--cert",
      required = true,
      paramLabel = "FILE",
      description =
          "This node's certificate chain, PEM, leaf first; in shared mode, the cluster"
              + " certificate. Read again before each connection (rotation).")
  @Nullable Path cert;

  @Option(
      names = "--key",
      required = true,
      paramLabel = "FILE",
      description =
          "The private key of the certificate, PEM (PKCS#8, PKCS#1 or SEC1), encrypted or not;"
              + " should be readable by its owner only.")
  @Nullable Path key;

  @Option(
      names = "--key-passphrase-file",
      paramLabel = "FILE",
      description =
          "A file holding the passphrase of an encrypted --key (one trailing newline is"
              + " ignored).")
  @Nullable Path keyPassphraseFile;

  @Option(
      names = "--key-passphrase-env",
      paramLabel = "NAME",
      description = "An environment variable holding the passphrase of an encrypted --key.")
  @Nullable String keyPassphraseEnv;

  @Option(
      names = "--ca",
      paramLabel = "FILE",
      description =
          "The CA certificate(s), PEM, trusted for the control plane's certificate. Required in"
              + " pki mode; not used in shared mode.")
  @Nullable Path ca;

  @Option(
      names = "--server-name",
      paramLabel = "NAME",
      description =
          "Sent as the TLS server name; in pki mode, also the name the control plane's"
              + " certificate is checked against instead of the URL's host.")
  @Nullable String serverName;

  @Option(
      names = "--cluster-mode",
      paramLabel = "pki|shared",
      defaultValue = "pki",
      description =
          "pki (default): this node's own certificate, the control plane's checked against --ca."
              + " shared: --cert is the cluster certificate the control plane uses too, and the"
              + " only one trusted.")
  String clusterMode = "pki";

  /**
   * Whether {@code --cluster-mode} is shared (else pki).
   *
   * @throws BadArgumentException when it is neither
   */
  boolean shared() throws BadArgumentException {
    String mode = clusterMode.toLowerCase(Locale.ROOT);
    if (!mode.equals("pki") && !mode.equals("shared")) {
      throw new BadArgumentException("--cluster-mode must be pki or shared, got: " + clusterMode);
    }
    return mode.equals("shared");
  }

  /** The client's TLS material; a refusal names the flag whose file is wrong. */
  TlsConfig tls(boolean shared) throws BadArgumentException {
    Path certFile = Objects.requireNonNull(cert, "--cert");
    Path keyFile = Objects.requireNonNull(key, "--key");
    Path caFile = ca;
    if (shared && caFile != null) {
      throw new BadArgumentException(
          "--ca is not used with --cluster-mode shared: the control plane must present --cert"
              + " itself; remove --ca, or use --cluster-mode pki");
    }
    if (!shared && caFile == null) {
      throw new BadArgumentException(
          "--ca is required with --cluster-mode pki (the CA certificates trusted for the control"
              + " plane's certificate)");
    }
    char[] passphrase = KeyPassphrase.read(keyPassphraseFile, keyPassphraseEnv);
    TlsConfig tls;
    try {
      tls =
          PemFlags.tlsContext(
              certFile,
              keyFile,
              caFile,
              passphrase,
              () -> {
                if (shared) {
                  return passphrase == null
                      ? TlsConfig.shared(certFile, keyFile)
                      : TlsConfig.shared(certFile, keyFile, passphrase);
                }
                Path trusted = Objects.requireNonNull(caFile, "--ca");
                return passphrase == null
                    ? TlsConfig.pki(certFile, keyFile, trusted)
                    : TlsConfig.pki(certFile, keyFile, trusted, passphrase);
              });
    } finally {
      if (passphrase != null) {
        Arrays.fill(passphrase, '\0'); // TlsConfig keeps its own copy, for rotations
      }
    }
    String name = serverName;
    if (name != null) {
      try {
        tls = tls.withServerName(name);
      } catch (IllegalArgumentException e) {
        throw new BadArgumentException("--server-name: " + e.getMessage(), e);
      }
    }
    return tls;
  }
}

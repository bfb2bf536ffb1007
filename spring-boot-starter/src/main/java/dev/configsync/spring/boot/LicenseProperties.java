package dev.configsync.spring.boot;

import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Licensing.
 *
 * <p>Bound under {@code configsync.license}; part of {@link ConfigSyncProperties}.
 */
public class LicenseProperties {
  /** The Ed25519 public key (PEM text, BEGIN PUBLIC KEY) that signs licenses. */
  private @Nullable String publicKey;

  /** A file holding that public key, instead of the text. */
  private @Nullable Path publicKeyFile;

  /** How long before expiry the LicenseExpiring event is published. */
  private Duration warning = Duration.ofDays(30);

  public @Nullable String getPublicKey() {
    return publicKey;
  }

  public void setPublicKey(@Nullable String publicKey) {
    this.publicKey = publicKey;
  }

  public @Nullable Path getPublicKeyFile() {
    return publicKeyFile;
  }

  public void setPublicKeyFile(@Nullable Path publicKeyFile) {
    this.publicKeyFile = publicKeyFile;
  }

  public Duration getWarning() {
    return warning;
  }

  public void setWarning(Duration warning) {
    this.warning = warning;
  }
}

package dev.configsync.spring.boot;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Mutual TLS to the control plane.
 *
 * <p>Bound under {@code configsync.tls}; part of {@link ConfigSyncProperties}.
 */
public class TlsProperties {
  /**
   * pki: this node's own certificate, and a CA to trust for the control plane's; shared: one
   * certificate and key shared by the control plane and every node (Kong's cluster_cert).
   */
  private String mode = "pki";

  /** This node's certificate chain (PEM), the leaf first. Required. */
  private @Nullable Path cert;

  /** The private key of the certificate (PEM; RSA or EC; may be encrypted). Required. */
  private @Nullable Path key;

  /** The passphrase of an encrypted private key. */
  private @Nullable String keyPassphrase;

  /** The CA certificates (PEM) to trust for the control plane. Required in pki mode. */
  private @Nullable Path ca;

  /**
   * The name expected in the control plane's certificate, when it differs from the host dialled.
   */
  private @Nullable String serverName;

  public String getMode() {
    return mode;
  }

  public void setMode(String mode) {
    this.mode = mode;
  }

  public @Nullable Path getCert() {
    return cert;
  }

  public void setCert(@Nullable Path cert) {
    this.cert = cert;
  }

  public @Nullable Path getKey() {
    return key;
  }

  public void setKey(@Nullable Path key) {
    this.key = key;
  }

  public @Nullable String getKeyPassphrase() {
    return keyPassphrase;
  }

  public void setKeyPassphrase(@Nullable String keyPassphrase) {
    this.keyPassphrase = keyPassphrase;
  }

  public @Nullable Path getCa() {
    return ca;
  }

  public void setCa(@Nullable Path ca) {
    this.ca = ca;
  }

  public @Nullable String getServerName() {
    return serverName;
  }

  public void setServerName(@Nullable String serverName) {
    this.serverName = serverName;
  }
}

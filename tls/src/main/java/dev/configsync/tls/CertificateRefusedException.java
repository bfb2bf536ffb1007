package dev.configsync.tls;

import java.security.cert.CertificateException;

/**
 * A peer's certificate was refused by one of configsync's trust managers ({@link PeerTrust}). The
 * message says which side's certificate, what is wrong with it (expired, not yet valid, not issued
 * by a trusted CA, not the shared cluster certificate) and what to check; it is meant to be shown
 * to an operator as it is.
 */
public final class CertificateRefusedException extends CertificateException {
  private static final long serialVersionUID = 1L;

  /** A refusal with an operator-facing message. */
  public CertificateRefusedException(String message) {
    super(message);
  }

  /** A refusal with an operator-facing message, caused by the JDK's own check. */
  public CertificateRefusedException(String message, Throwable cause) {
    super(message, cause);
  }
}

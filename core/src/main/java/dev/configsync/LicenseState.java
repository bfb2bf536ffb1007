package dev.configsync;

/**
 * Where a node stands with its license at a given instant. See {@link License#expiresAt()} for when
 * a license expires.
 */
public enum LicenseState {
  /**
   * No license to judge: the configuration carries none, or licensing is not turned on for this
   * node.
   */
  NONE,
  /** A correctly signed license that is not expired and not within the warning window. */
  VALID,
  /**
   * A correctly signed license within the warning window: its expiry is at most the configured
   * warning period away (the window includes its first instant, {@code expiresAt - warnBefore}).
   * Still valid; renew it on the control plane.
   */
  EXPIRING,
  /** A correctly signed license whose expiry instant has been reached or passed. */
  EXPIRED
}

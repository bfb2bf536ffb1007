package dev.configsync.spring.boot;

import java.util.Objects;

/**
 * A {@code configsync.*} property whose value the client cannot use, found while the
 * auto-configured beans were created: a required property that is missing, a file that cannot be
 * read or holds unsuitable material, a key that is not one. It fails the application's start;
 * Spring Boot's failure report names the property, says what is wrong and how to fix it.
 */
public final class InvalidConfigSyncPropertyException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String property;

  /**
   * A refusal of {@code property}.
   *
   * @param property the full name of the property, for example {@code configsync.tls.cert}
   * @param message what is wrong with it
   */
  public InvalidConfigSyncPropertyException(String property, String message) {
    super(property + ": " + message);
    this.property = Objects.requireNonNull(property, "property");
  }

  /** As {@link #InvalidConfigSyncPropertyException(String, String)}, keeping the cause. */
  public InvalidConfigSyncPropertyException(String property, String message, Throwable cause) {
    super(property + ": " + message, cause);
    this.property = Objects.requireNonNull(property, "property");
  }

  /** The full name of the property, for example {@code configsync.tls.cert}. */
  public String property() {
    return property;
  }
}

package dev.configsync;

import dev.configsync.internal.Masking;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;

/**
 * A license the control plane distributed in the configuration, after its signature was checked.
 *
 * <p>A license is valid through the whole of its expiry day in UTC: it expires at {@link
 * #expiresAt()}, the first instant of the following day (00:00 UTC). The dates carry no time zone;
 * configsync reads them as UTC days wherever the node runs.
 *
 * <p>{@link #toString()} does not show the license key, only its last 4 characters.
 *
 * @param customer who the license was issued to ({@code customer}); not blank
 * @param licenseKey the license key ({@code license_key}); not blank. A secret: keep it out of logs
 * @param product the product subscription ({@code product_subscription}); empty when the license
 *     does not name one
 * @param dataplanes how many data planes the license allows ({@code dataplanes}), or -1 when the
 *     license does not say
 * @param createdOn the day the license was issued ({@code license_creation_date})
 * @param expiresOn the last day the license is valid ({@code license_expiration_date}), in UTC; not
 *     before {@code createdOn}
 */
public record License(
    String customer,
    String licenseKey,
    String product,
    int dataplanes,
    LocalDate createdOn,
    LocalDate expiresOn) {

  /**
   * Checks the components.
   *
   * @throws IllegalArgumentException when {@code customer} or {@code licenseKey} is blank, {@code
   *     dataplanes} is below -1, or {@code expiresOn} is before {@code createdOn} or is {@link
   *     LocalDate#MAX}
   */
  public License {
    if (customer.isBlank()) {
      throw new IllegalArgumentException("customer must not be blank");
    }
    if (licenseKey.isBlank()) {
      throw new IllegalArgumentException("licenseKey must not be blank");
    }
    if (dataplanes < -1) {
      throw new IllegalArgumentException(
          "dataplanes must be -1 (not stated) or more: " + dataplanes);
    }
    if (expiresOn.isBefore(createdOn)) {
      throw new IllegalArgumentException(
          "expiresOn " + expiresOn + " is before createdOn " + createdOn);
    }
    if (expiresOn.equals(LocalDate.MAX)) {
      throw new IllegalArgumentException("expiresOn must be before LocalDate.MAX");
    }
  }

  /**
   * When the license stops being valid: 00:00 UTC of the day after {@link #expiresOn()}. The
   * license is valid at every instant before this one, and not at this one.
   */
  public Instant expiresAt() {
    return expiresOn.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
  }

  /** The license without its key: the key shows as {@code ****} and its last 4 characters. */
  @Override
  public String toString() {
    return "License[customer="
        + customer
        + ", licenseKey="
        + Masking.lastFour(licenseKey)
        + ", product="
        + product
        + ", dataplanes="
        + dataplanes
        + ", createdOn="
        + createdOn
        + ", expiresOn="
        + expiresOn
        + "]";
  }
}

package dev.configsync.license;

import dev.configsync.internal.Masking;
import java.time.LocalDate;

/**
 * What a license grants, before it is signed.
 *
 * <p>{@link #toString()} does not show the license key, only its last 4 characters.
 *
 * @param customer who the license is issued to; not blank
 * @param licenseKey the license key; not blank
 * @param product the product subscription; may be empty
 * @param dataplanes how many data planes the license allows, or -1 to leave the field out
 * @param createdOn the day the license is issued; a year from 0 to 9999
 * @param expiresOn the last day the license is valid, in UTC (it expires at 00:00 UTC the day
 *     after); a year from 0 to 9999, not before {@code createdOn}
 */
public record LicenseTerms(
    String customer,
    String licenseKey,
    String product,
    int dataplanes,
    LocalDate createdOn,
    LocalDate expiresOn) {

  /**
   * Checks the terms.
   *
   * @throws IllegalArgumentException when {@code customer} or {@code licenseKey} is blank, {@code
   *     dataplanes} is below -1, a date's year is outside 0..9999 (it would not fit {@code
   *     YYYY-MM-DD}), or {@code expiresOn} is before {@code createdOn}
   */
  public LicenseTerms {
    if (customer.isBlank()) {
      throw new IllegalArgumentException("customer must not be blank");
    }
    if (licenseKey.isBlank()) {
      throw new IllegalArgumentException("licenseKey must not be blank");
    }
    if (dataplanes < -1) {
      throw new IllegalArgumentException("dataplanes must be -1 (left out) or more: " + dataplanes);
    }
    checkYear("createdOn", createdOn);
    checkYear("expiresOn", expiresOn);
    if (expiresOn.isBefore(createdOn)) {
      throw new IllegalArgumentException(
          "expiresOn " + expiresOn + " is before createdOn " + createdOn);
    }
  }

  private static void checkYear(String name, LocalDate date) {
    if (date.getYear() < 0 || date.getYear() > 9999) {
      throw new IllegalArgumentException(name + " must have a year from 0 to 9999: " + date);
    }
  }

  /** The terms without the key: it shows as {@code ****} and its last 4 characters. */
  @Override
  public String toString() {
    return "LicenseTerms[customer="
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

package dev.configsync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.LocalDate;
import org.junit.jupiter.api.Test;

class LicenseTest {

  private static final LocalDate DAY = LocalDate.of(2024, 12, 31);

  @Test
  void expiresAtTheStartOfTheNextDayUtc() {
    License license = license("key-0123456789", DAY);

    assertThat(license.expiresAt()).isEqualTo(Instant.parse("2025-01-01T00:00:00Z"));
    assertThat(license("key-0123456789", LocalDate.of(2024, 2, 28)).expiresAt())
        .isEqualTo(Instant.parse("2024-02-29T00:00:00Z"));
  }

  @Test
  void toStringShowsOnlyTheLastFourCharactersOfTheKey() {
    License license = license("00141000017ODj3AAG_a1V41000004wT0OEAU", DAY);

    assertThat(license.toString())
        .contains("licenseKey=****OEAU")
        .contains("customer=Example")
        .contains("expiresOn=2024-12-31")
        .doesNotContain("00141000017ODj3AAG")
        .doesNotContain("wT0OEAU");
  }

  @Test
  void toStringMasksShortKeysEntirely() {
    assertThat(license("short-key01", DAY).toString())
        .contains("licenseKey=****,")
        .doesNotContain("ey01");
    assertThat(license("twelve-chars", DAY).toString()).contains("licenseKey=****hars,");
  }

  @Test
  void componentsAreChecked() {
    assertThatThrownBy(() -> new License(" ", "k", "p", 1, DAY, DAY))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new License("c", "", "p", 1, DAY, DAY))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new License("c", "k", "p", -2, DAY, DAY))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new License("c", "k", "p", 1, DAY, DAY.minusDays(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new License("c", "k", "p", 1, DAY, LocalDate.MAX))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void exceptionCarriesReasonAndMessage() {
    assertThat(new LicenseException(LicenseException.Reason.MISSING, "no license").getMessage())
        .isEqualTo("no license");
    assertThat(new LicenseException(LicenseException.Reason.MISSING, "x").reason())
        .isEqualTo(LicenseException.Reason.MISSING);
  }

  private static License license(String key, LocalDate expiresOn) {
    return new License(
        "Example Company, Inc", key, "Enterprise", 3, LocalDate.of(2024, 1, 1), expiresOn);
  }
}

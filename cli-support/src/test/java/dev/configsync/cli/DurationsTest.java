package dev.configsync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {
  @Test
  void acceptsUnitsAndIso8601() {
    assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
    assertThat(Durations.parse("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Durations.parse("5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(Durations.parse("1h")).isEqualTo(Duration.ofHours(1));
    assertThat(Durations.parse("0s")).isEqualTo(Duration.ZERO);
    assertThat(Durations.parse("PT30S")).isEqualTo(Duration.ofSeconds(30));
    assertThat(Durations.parse("pt0.5s")).isEqualTo(Duration.ofMillis(500));
    assertThat(Durations.parse(" 2s ")).isEqualTo(Duration.ofSeconds(2));
  }

  @Test
  void rejectsAnythingElseSayingWhatIsAccepted() {
    for (String bad :
        new String[] {
          "5 parsecs", "5", "s", "1.5s", "-1s", "5S", "10d", "", "PTxS", "99999999999999999h"
        }) {
      assertThatThrownBy(() -> Durations.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'" + bad + "'");
    }
    assertThatThrownBy(() -> Durations.parse("5 parsecs"))
        .hasMessageContaining("500ms, 30s, 5m, 1h")
        .hasMessageContaining("PT30S");
  }

  @Test
  void formatsTheWayTheFlagsTakeIt() {
    assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
    assertThat(Durations.format(Duration.ofSeconds(30))).isEqualTo("30s");
    assertThat(Durations.format(Duration.ofMinutes(2))).isEqualTo("2m");
    assertThat(Durations.format(Duration.ofSeconds(90))).isEqualTo("90s");
    assertThat(Durations.format(Duration.ofHours(3))).isEqualTo("3h");
    assertThat(Durations.format(Duration.ZERO)).isEqualTo("0ms");
  }
}

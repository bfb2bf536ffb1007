package dev.configsync.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigGeneratorTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One unit (service, routes, plugins, consumer, perhaps an upstream) plus the section names. */
  private static final int MARGIN = 8 * 1024;

  @Test
  void sameSeedGivesSameBytesAndAnotherSeedOthers() {
    byte[] a = ConfigGenerator.generate(7, 200_000);
    assertThat(ConfigGenerator.generate(7, 200_000)).isEqualTo(a);
    assertThat(ConfigGenerator.generate(8, 200_000)).isNotEqualTo(a);
  }

  @ParameterizedTest
  @ValueSource(ints = {1000, 64 * 1024, 1 << 20})
  void validKongJsonOfAboutTheTargetSize(int target) throws Exception {
    byte[] json = ConfigGenerator.generate(1, target);
    assertThat(json.length).isBetween(target, target + MARGIN);
    JsonNode root = JSON.readTree(json);
    assertThat(root.path("_format_version").asText()).isEqualTo("3.0");
    for (String section :
        new String[] {"services", "routes", "plugins", "consumers", "upstreams", "targets"}) {
      assertThat(root.path(section).isArray()).as(section).isTrue();
      assertThat(root.path(section).size()).as(section).isPositive();
    }
    JsonNode route = root.path("routes").get(0);
    assertThat(route.path("service").path("id").asText())
        .isEqualTo(root.path("services").get(0).path("id").asText());
  }

  @Test
  void refusesANonPositiveSize() {
    assertThatThrownBy(() -> ConfigGenerator.generate(1, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

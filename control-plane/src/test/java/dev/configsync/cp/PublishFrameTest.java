package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.Json;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The frame a publish stores (and sends) is a valid {@code reconfigure} message whose table is the
 * published configuration and whose hash is its hash, however the configuration was given.
 */
class PublishFrameTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final InMemoryConfigStore store = new InMemoryConfigStore();

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  @Test
  void everyFormOfAConfigurationMakesAFrameThatDecodesToIt() throws Exception {
    f.start(b -> b.configStore(store));
    int n = 0;
    for (String text :
        List.of(
            "{\"services\":[{\"name\":\"plain\"}]}",
            "\n  {\n  \"services\" : [ {\"name\": \"pretty \\u00e9\"} ]\n}\n  ",
            "\uFEFF{\"services\":[{\"name\":\"with a byte order mark\"}]}")) {
      JsonNode expected = JSON.readTree(text.replace("\uFEFF", ""));
      PublishResult viaString = f.cp.publish(text);
      assertFrame(expected, viaString.hash());
      ((com.fasterxml.jackson.databind.node.ObjectNode) expected).put("n", n++);
      PublishResult viaTree = f.cp.publish(expected);
      assertFrame(expected, viaTree.hash());
    }
  }

  private void assertFrame(JsonNode expected, String hash) throws Exception {
    byte[] frame = store.load().orElseThrow();
    JsonNode message = Json.readFrozen(Gzip.decompress(frame, 1 << 20));
    assertThat(message.path("type").asText()).isEqualTo("reconfigure");
    assertThat(message.path("config_table")).isEqualTo(expected);
    assertThat(message.path("config_hash").asText())
        .isEqualTo(hash)
        .isEqualTo(ConfigHash.configHash(expected));
    assertThat(message.path("hashes").path("config").asText()).isEqualTo(hash);
    assertThat(message.path("timestamp").isNumber()).isTrue();
  }
}

package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HashCommandTest {
  private static final String EMPTY_CONFIG_HASH = "2da3c26e4dbd6dd6ea3ab60a3dd7fb3e";
  private static final String CONFIG_JSON =
      "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"s1\",\"url\":\"http://backend:8080\","
          + "\"retries\":5,\"enabled\":true}],\"routes\":[{\"name\":\"r1\",\"paths\":[\"/v1\"]}]}";
  private static final String CONFIG_YAML =
      """
      _format_version: "3.0"
      services:
        - name: s1
          url: http://backend:8080
          retries: 5
          enabled: true
      routes:
        - name: r1
          paths:
            - /v1
      """;

  @TempDir Path dir;

  private static BadArgumentsTest.Result hash(Path file) {
    return BadArgumentsTest.run(List.of("hash", file.toString()));
  }

  @Test
  void hashCommandPrintsKongHash() throws Exception {
    Path empty = Files.writeString(dir.resolve("empty.json"), "{}");
    assertThat(hash(empty).out()).isEqualTo(EMPTY_CONFIG_HASH + System.lineSeparator());
    assertThat(hash(empty).exit()).isZero();

    Path emptyYaml = Files.writeString(dir.resolve("empty.yaml"), "{}\n");
    assertThat(hash(emptyYaml).out().trim()).isEqualTo(EMPTY_CONFIG_HASH);

    String expected = ConfigHash.configHash(new ObjectMapper().readTree(CONFIG_JSON));
    Path json = Files.writeString(dir.resolve("kong.json"), CONFIG_JSON);
    Path yml = Files.writeString(dir.resolve("kong.yml"), CONFIG_YAML);
    Path yaml = Files.writeString(dir.resolve("kong.YAML"), CONFIG_YAML);
    assertThat(hash(json).out().trim()).isEqualTo(expected);
    assertThat(hash(yml).out().trim()).isEqualTo(expected);
    assertThat(hash(yaml).out().trim()).isEqualTo(expected);
    assertThat(hash(yml).err()).isEmpty();
  }

  @Test
  void gzippedReconfigureMessageIsHashedByItsConfigTable() throws Exception {
    JsonNode table = new ObjectMapper().readTree(CONFIG_JSON);
    Path gz = dir.resolve("config.json.gz");
    Files.write(gz, HybridProtocol.reconfigure(table, 1_700_000_000.5));

    BadArgumentsTest.Result result = hash(gz);

    assertThat(result.exit()).isZero();
    assertThat(result.out().trim()).isEqualTo(ConfigHash.configHash(table));
    assertThat(result.err()).isEmpty();
  }

  @Test
  void gzippedPlainConfigurationIsHashedWhole() throws Exception {
    Path gz = dir.resolve("kong.yml.gz");
    Files.write(gz, Gzip.compress(CONFIG_YAML.getBytes(StandardCharsets.UTF_8)));

    assertThat(hash(gz).out().trim())
        .isEqualTo(ConfigHash.configHash(new ObjectMapper().readTree(CONFIG_JSON)));
  }

  @Test
  void plainReconfigureMessageIsHashedByItsConfigTableAndAForgedHashIsReported() throws Exception {
    String message =
        "{\"type\":\"reconfigure\",\"config_table\":"
            + CONFIG_JSON
            + ",\"config_hash\":\""
            + EMPTY_CONFIG_HASH
            + "\"}";
    Path file = Files.writeString(dir.resolve("message.json"), message);

    BadArgumentsTest.Result result = hash(file);

    assertThat(result.exit()).isZero();
    assertThat(result.out().trim())
        .isEqualTo(ConfigHash.configHash(new ObjectMapper().readTree(CONFIG_JSON)));
    assertThat(result.err()).contains("warning", "claims config_hash " + EMPTY_CONFIG_HASH);
  }

  @Test
  void missingOrInvalidFilesExitWith2() throws Exception {
    BadArgumentsTest.Result missing = hash(dir.resolve("missing.json"));
    assertThat(missing.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(missing.err()).contains("missing.json", "no such file");
    assertThat(missing.out()).isEmpty();

    Path broken = Files.writeString(dir.resolve("broken.json"), "{\"a\": [1, 2");
    BadArgumentsTest.Result invalid = hash(broken);
    assertThat(invalid.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(invalid.err()).contains("broken.json", "not valid JSON", "line 1");
    assertThat(invalid.out()).isEmpty();

    Path duplicate = Files.writeString(dir.resolve("dup.json"), "{\"a\":1,\"a\":2}");
    assertThat(hash(duplicate).exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(hash(duplicate).err()).contains("Duplicate field 'a'");

    Path emptyFile = Files.writeString(dir.resolve("nothing.yaml"), "");
    assertThat(hash(emptyFile).exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(hash(emptyFile).err()).contains("nothing.yaml");

    Path badYaml = Files.writeString(dir.resolve("bad.yml"), "a: [1, 2\n");
    assertThat(hash(badYaml).exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(hash(badYaml).err()).contains("bad.yml", "not valid YAML");

    Path notGzip = Files.writeString(dir.resolve("config.json.gz"), "{}");
    assertThat(hash(notGzip).exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(hash(notGzip).err()).contains("gzip");

    assertThat(BadArgumentsTest.run(List.of("hash")).exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(hash(dir).exit()).isEqualTo(AgentMain.EXIT_USAGE);
  }
}

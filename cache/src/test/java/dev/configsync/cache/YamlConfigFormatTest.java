package dev.configsync.cache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigFileException;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class YamlConfigFormatTest {
  private static final long LIMIT = 1024 * 1024;

  /** A declarative configuration as Kong users write it. */
  private static final String KONG_YML =
      """
      # Kong declarative configuration
      _format_version: "3.0"
      _transform: true
      services:
        - name: example-service
          url: http://httpbin.org
          retries: 5
          connect_timeout: 60000
          enabled: true
          host_header: ~
          tags: [example, "v1"]
          description: >
            folded text
            on two lines
          routes:
            - name: example-route
              paths:
                - /mock
              methods: [GET, POST]
              strip_path: true
          plugins:
            - name: rate-limiting
              config:
                minute: 20
                policy: local
                fault_tolerant: true
                ratio: 0.5
      consumers:
        - username: alice
          keyauth_credentials:
            - key: "s3cr3t: not a key"
      upstreams:
        - name: backend
          targets:
            - target: 10.0.0.1:8080
              weight: 100
      plugins:
        - name: prometheus
          config: {per_consumer: false}
      certificates: []
      """;

  /** The same configuration as JSON. */
  private static final String KONG_JSON =
      """
      {"_format_version": "3.0", "_transform": true,
       "services": [{"name": "example-service", "url": "http://httpbin.org", "retries": 5,
         "connect_timeout": 60000, "enabled": true, "host_header": null,
         "tags": ["example", "v1"], "description": "folded text on two lines\\n",
         "routes": [{"name": "example-route", "paths": ["/mock"], "methods": ["GET", "POST"],
           "strip_path": true}],
         "plugins": [{"name": "rate-limiting",
           "config": {"minute": 20, "policy": "local", "fault_tolerant": true, "ratio": 0.5}}]}],
       "consumers": [{"username": "alice", "keyauth_credentials": [{"key": "s3cr3t: not a key"}]}],
       "upstreams": [{"name": "backend", "targets": [{"target": "10.0.0.1:8080", "weight": 100}]}],
       "plugins": [{"name": "prometheus", "config": {"per_consumer": false}}],
       "certificates": []}
      """;

  @TempDir Path dir;

  private final YamlConfigFormat format = new YamlConfigFormat();

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  private ConfigFileException refusal(Path file, long limit) {
    Throwable thrown = catchThrowable(() -> format.read(file, limit));
    assertThat(thrown).isInstanceOf(ConfigFileException.class);
    ConfigFileException e = (ConfigFileException) thrown;
    assertThat(e.file()).isEqualTo(file);
    assertThat(e.getMessage()).startsWith(file.toString());
    return e;
  }

  @Test
  void kongYmlReadsIntoTheSameTreeAndHashAsTheEquivalentJson() throws IOException {
    JsonNode yaml = format.read(write("kong.yml", KONG_YML), LIMIT);
    JsonNode json = Json.readFrozen(KONG_JSON.getBytes(UTF_8));

    assertThat(yaml).isEqualTo(json);
    assertThat(ConfigHash.configHashes(yaml)).isEqualTo(ConfigHash.configHashes(json));
    assertThat(ConfigHash.configHash(yaml)).isEqualTo(ConfigHash.configHash(json));
  }

  @Test
  void treeIsFrozen() throws IOException {
    JsonNode yaml = format.read(write("kong.yml", KONG_YML), LIMIT);

    assertThatThrownBy(() -> ((com.fasterxml.jackson.databind.node.ObjectNode) yaml).put("x", 1))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  static Stream<Arguments> syntaxErrors() {
    return Stream.of(
        // a tab used for indentation, at line 3 column 1
        Arguments.of("services:\n  - name: a\n\turl: http://a\n", 3, 1),
        // a mapping value where none may be: the ':' at line 2 column 3
        Arguments.of("a: 1\n b: 2\n", 2, 3),
        // an unclosed flow sequence, found out at the next key's ":", line 3 column 2
        Arguments.of("services: []\nroutes: [r1, r2\nx: 1\n", 3, 2),
        // a key at the wrong indentation, at line 4 column 3
        Arguments.of("services:\n  - name: a\n    url: http://a\n  routes: []\n", 4, 3));
  }

  @ParameterizedTest
  @MethodSource("syntaxErrors")
  void invalidYamlIsRefusedWithFileLineAndColumn(String yaml, int line, int column)
      throws IOException {
    Path file = write("broken.yml", yaml);

    ConfigFileException e = refusal(file, LIMIT);

    assertThat(e.line()).isEqualTo(line);
    assertThat(e.column()).isEqualTo(column);
    assertThat(e.getMessage()).startsWith(file + ":" + line + ":" + column + ": ");
  }

  @Test
  void billionLaughsIsRefusedQuickly() throws IOException {
    // 9 levels of 9 aliases: 9^9 (387 million) strings if expanded.
    StringBuilder yaml =
        new StringBuilder("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int level = 1; level <= 9; level++) {
      String previous = "*l" + (level - 1);
      yaml.append("l").append(level).append(": &l").append(level).append(" [");
      yaml.append(String.join(", ", java.util.Collections.nCopies(9, previous)));
      yaml.append("]\n");
    }
    Path file = write("bomb.yml", yaml.toString());

    long start = System.nanoTime();
    ConfigFileException e = refusal(file, LIMIT);
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(e.getMessage()).contains("alias");
    assertThat(took).isLessThan(Duration.ofSeconds(2));
  }

  @Test
  void anAliasIsRefusedRatherThanReadAsTheAnchorName() throws IOException {
    Path file = write("alias.yml", "base: &base {retries: 5}\nservice:\n  <<: *base\n");

    ConfigFileException e = refusal(file, LIMIT);

    assertThat(e.line()).isEqualTo(3);
    assertThat(e.column()).isEqualTo(7);
    assertThat(e.getMessage()).contains("alias");
  }

  @Test
  void duplicateKeysAreRefused() throws IOException {
    Path file = write("dup.yml", "services: []\nroutes: []\nservices: [{name: a}]\n");

    ConfigFileException e = refusal(file, LIMIT);

    assertThat(e.line()).isEqualTo(3);
    assertThat(e.getMessage()).contains("services");
  }

  @Test
  void oversizedFileIsRefusedBeforeParsing() throws IOException {
    // Invalid YAML too: a refusal that talks about size shows nothing was parsed.
    Path file = write("big.yml", "a: [unclosed\n" + "#".repeat(200) + "\n");
    long size = Files.size(file);

    ConfigFileException e = refusal(file, size - 1);

    assertThat(e.getMessage())
        .contains("file of " + size + " bytes exceeds the limit of " + (size - 1));
    assertThat(e.line()).isZero();
  }

  @Test
  void fileAtTheLimitIsRead() throws IOException {
    Path file = write("exact.yml", "a: 1\n");

    assertThat(format.read(file, Files.size(file)).path("a").asInt()).isEqualTo(1);
  }

  private static String nested(int depth) {
    // "a:" plus depth - 1 nested flow sequences: depth collections in all.
    return "a: " + "[".repeat(depth - 1) + "]".repeat(depth - 1) + "\n";
  }

  @Test
  void nestingOfOneHundredIsAccepted() throws IOException {
    Path file = write("deep.yml", nested(YamlConfigFormat.MAX_NESTING));

    assertThat(format.read(file, LIMIT).path("a").isArray()).isTrue();
  }

  @Test
  void nestingDeeperThanOneHundredIsRefused() throws IOException {
    Path file = write("deeper.yml", nested(YamlConfigFormat.MAX_NESTING + 1));

    ConfigFileException e = refusal(file, LIMIT);

    assertThat(e.getMessage()).contains("nesting deeper than 100");
    // "a: " then the opening brackets: the one that goes past the limit.
    assertThat(e.line()).isEqualTo(1);
    assertThat(e.column()).isEqualTo(3 + YamlConfigFormat.MAX_NESTING);
  }

  @Test
  void topLevelListIsRefused() throws IOException {
    Path file = write("list.yml", "- name: a\n- name: b\n");

    ConfigFileException e = refusal(file, LIMIT);

    assertThat(e.getMessage())
        .isEqualTo(file + ":1:1: expected a mapping at the top level, found ARRAY");
    assertThat(e.line()).isEqualTo(1);
    assertThat(e.column()).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "\n", "# only a comment\n", "~\n"})
  void emptyFileIsRefused(String content) throws IOException {
    Path file = write("empty.yml", content);

    ConfigFileException e = refusal(file, LIMIT);

    assertThat(e.getMessage()).isEqualTo(file + ": the file holds no configuration");
  }

  @Test
  void handlesOnlyYmlAndYamlWhateverTheirCase() {
    for (String name : List.of("kong.yml", "kong.yaml", "KONG.YML", "Kong.Yaml", "a.b.yMl")) {
      assertThat(format.handles(Path.of(name))).as(name).isTrue();
    }
    for (String name :
        List.of("kong.json", "config.json.gz", "kong.yml.gz", "kong.yml.bak", "yml", "kongyml")) {
      assertThat(format.handles(Path.of(name))).as(name).isFalse();
    }
    assertThat(format.handles(Path.of("/etc/kong.yml.d/kong.json"))).isFalse();
  }

  // ---- hostile bytes ----------------------------------------------------------------------

  /** A position (as a fraction of the file) and a byte to put there, or to insert, or delete. */
  record Mutation(double at, byte value, int kind) {
    byte[] applyTo(byte[] data) {
      int i = (int) Math.min(data.length - 1, Math.floor(at * data.length));
      return switch (kind) {
        case 0 -> {
          byte[] out = data.clone();
          out[i] = value;
          yield out;
        }
        case 1 -> {
          byte[] out = new byte[data.length + 1];
          System.arraycopy(data, 0, out, 0, i);
          out[i] = value;
          System.arraycopy(data, i, out, i + 1, data.length - i);
          yield out;
        }
        default -> {
          byte[] out = new byte[data.length - 1];
          System.arraycopy(data, 0, out, 0, i);
          System.arraycopy(data, i + 1, out, i, data.length - i - 1);
          yield out;
        }
      };
    }
  }

  @Provide
  Arbitrary<List<Mutation>> mutations() {
    Arbitrary<Byte> bytes =
        Arbitraries.oneOf(
            Arbitraries.bytes(),
            Arbitraries.of(":", "-", "[", "]", "{", "}", "&", "*", "!", "\"", "'", "\t", "\n", "#")
                .map(s -> (byte) s.charAt(0)));
    Arbitrary<Mutation> one =
        Combinators.combine(
                Arbitraries.doubles().between(0, 1), bytes, Arbitraries.integers().between(0, 2))
            .as(Mutation::new);
    return one.list().ofMinSize(1).ofMaxSize(8);
  }

  @Property(tries = 300)
  void mutatedYamlGivesATreeOrAConfigFileExceptionNeverAnythingElse(
      @ForAll("mutations") List<Mutation> mutations) throws IOException {
    byte[] data = KONG_YML.getBytes(UTF_8);
    for (Mutation m : mutations) {
      data = m.applyTo(data);
    }
    assertTreeOrPlacedRefusal(data);
  }

  /** Random YAML: fragments with a meaning in YAML, in any order, and some broken UTF-8. */
  @Provide
  Arbitrary<byte[]> yamlSoup() {
    Arbitrary<String> fragment =
        Arbitraries.oneOf(
            Arbitraries.of(
                "a",
                "b: ",
                "- ",
                ": ",
                "[",
                "]",
                "{",
                "}",
                ", ",
                "&x ",
                "*x",
                "!!str ",
                "!!int ",
                "!!binary ",
                "!custom ",
                "? ",
                "|\n",
                ">\n",
                "'",
                "\"",
                "\\",
                "#c",
                "---\n",
                "...\n",
                "\n",
                "\n  ",
                "\n    ",
                "\t",
                "%YAML 1.2\n",
                "0x1F",
                "1e999",
                "~",
                "null",
                "<<: ",
                "@",
                "`",
                "%",
                "\u00e9",
                "\ud83d\ude00",
                "\u0000",
                "\u0085",
                "\ufeff"),
            Arbitraries.strings().alpha().ofMaxLength(5));
    Arbitrary<byte[]> text =
        fragment.list().ofMaxSize(40).map(list -> String.join("", list).getBytes(UTF_8));
    Arbitrary<byte[]> brokenUtf8 =
        Combinators.combine(text, Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(3))
            .as(
                (t, tail) -> {
                  byte[] out = java.util.Arrays.copyOf(t, t.length + tail.length);
                  for (int i = 0; i < tail.length; i++) {
                    out[t.length + i] = (byte) (tail[i] | 0x80);
                  }
                  return out;
                });
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(4, text), net.jqwik.api.Tuple.of(1, brokenUtf8));
  }

  @Property(tries = 200)
  void randomYamlGivesATreeOrARefusalThatSaysWhere(@ForAll("yamlSoup") byte[] data)
      throws IOException {
    assertTreeOrPlacedRefusal(data);
  }

  /**
   * The property of both: a tree (a mapping), or a {@link ConfigFileException} and nothing else,
   * which names the line and column unless the file holds nothing at all.
   */
  private void assertTreeOrPlacedRefusal(byte[] data) throws IOException {
    Path file = Files.createTempFile("hostile", ".yml");
    try {
      Files.write(file, data);
      Throwable thrown;
      JsonNode tree = null;
      try {
        tree = format.read(file, LIMIT);
        thrown = null;
      } catch (Throwable t) { // the property: nothing but ConfigFileException
        thrown = t;
      }
      if (thrown == null) {
        assertThat(tree).isNotNull();
        assertThat(tree.isObject()).isTrue();
        return;
      }
      assertThat(thrown).isExactlyInstanceOf(ConfigFileException.class);
      ConfigFileException e = (ConfigFileException) thrown;
      if (!e.getMessage().endsWith("the file holds no configuration")) {
        // YAML breaks lines at \n, \r, NEL, LS and PS; a parser may point just past the end.
        long breaks =
            new String(data, UTF_8)
                .chars()
                .filter(c -> "\n\r\u0085\u2028\u2029".indexOf(c) >= 0)
                .count();
        assertThat(e.line()).as(e.getMessage()).isBetween(1, (int) breaks + 2);
        assertThat(e.column()).as(e.getMessage()).isPositive();
        assertThat(e.getMessage()).startsWith(file + ":" + e.line() + ":" + e.column() + ": ");
      }
    } finally {
      Files.delete(file);
    }
  }
}

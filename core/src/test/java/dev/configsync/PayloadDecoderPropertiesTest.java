package dev.configsync;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * The payload decoder against random and damaged payloads: it returns the very configuration that
 * was sent, or refuses with a {@link ConfigRejectedException}; nothing else ever comes out of it (a
 * runtime exception or an error would fail the property, as jqwik reports every throwable).
 */
class PayloadDecoderPropertiesTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
  private static final long MAX_PAYLOAD = 64 * 1024;
  private static final long MAX_INFLATED = 1024 * 1024;
  private static final Set<Reason> DECODER_REASONS =
      EnumSet.of(
          Reason.PAYLOAD_TOO_LARGE,
          Reason.INFLATED_TOO_LARGE,
          Reason.BAD_GZIP,
          Reason.BAD_JSON,
          Reason.BAD_MESSAGE,
          Reason.HASH_MISMATCH);

  private static final ObjectNode TABLE = table();
  private static final byte[] VALID = HybridProtocol.reconfigure(TABLE, 1_700_000_000.5);

  private final PayloadDecoder decoder = new PayloadDecoder(MAX_PAYLOAD, MAX_INFLATED);

  private static ObjectNode table() {
    ObjectNode t = MAPPER.createObjectNode();
    t.put("_format_version", "3.0");
    ObjectNode service = t.putArray("services").addObject();
    service.put("name", "orders").put("host", "orders.internal").put("port", 8080);
    service.putArray("tags").add("a").add("b");
    t.putArray("routes").addObject().put("name", "r").putArray("paths").add("/orders");
    return t;
  }

  /** One change to a byte array: overwrite, insert or delete a byte at a relative position. */
  record Mutation(double at, byte value, int kind) {
    byte[] applyTo(byte[] data) {
      if (data.length == 0) {
        return new byte[] {value};
      }
      int i = (int) Math.min(data.length - 1, Math.floor(at * data.length));
      byte[] out;
      switch (kind) {
        case 0 -> {
          out = data.clone();
          out[i] = value;
        }
        case 1 -> {
          out = new byte[data.length + 1];
          System.arraycopy(data, 0, out, 0, i);
          out[i] = value;
          System.arraycopy(data, i, out, i + 1, data.length - i);
        }
        default -> {
          out = new byte[data.length - 1];
          System.arraycopy(data, 0, out, 0, i);
          System.arraycopy(data, i + 1, out, i, data.length - i - 1);
        }
      }
      return out;
    }
  }

  @Provide
  Arbitrary<List<Mutation>> mutations() {
    Arbitrary<Mutation> one =
        Combinators.combine(
                Arbitraries.frequencyOf(
                    // The gzip header and trailer, where a flip changes meaning rather than data.
                    Tuple.of(1, Arbitraries.doubles().between(0, 0.1)),
                    Tuple.of(1, Arbitraries.doubles().between(0.9, 1)),
                    Tuple.of(2, Arbitraries.doubles().between(0, 1))),
                Arbitraries.bytes(),
                Arbitraries.integers().between(0, 2))
            .as(Mutation::new);
    return one.list().ofMaxSize(6);
  }

  @Property(tries = 300)
  void damagedPayloadDecodesToTheSentConfigurationOrIsRefused(
      @ForAll("mutations") List<Mutation> mutations,
      @ForAll("cuts") int cut,
      @ForAll("junk") byte[] junk) {
    byte[] bytes = VALID;
    for (Mutation m : mutations) {
      bytes = m.applyTo(bytes);
    }
    if (cut >= 0 && cut < bytes.length) {
      bytes = java.util.Arrays.copyOf(bytes, cut);
    }
    byte[] payload = new byte[bytes.length + junk.length];
    System.arraycopy(bytes, 0, payload, 0, bytes.length);
    System.arraycopy(junk, 0, payload, bytes.length, junk.length);

    try {
      ConfigSnapshot snapshot = decoder.decode(payload, SnapshotSource.CONTROL_PLANE, NOW);
      // gzip's CRC and the configuration hash both stand in the way of any other content.
      assertThat(snapshot.hash()).isEqualTo(ConfigHash.configHash(TABLE));
      assertThat(snapshot.config()).isEqualTo(TABLE);
    } catch (ConfigRejectedException e) {
      assertThat(e.reason()).isIn(DECODER_REASONS);
      assertThat(e.getMessage()).isNotBlank();
    }
  }

  @Provide
  Arbitrary<Integer> cuts() {
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.just(-1)),
        Tuple.of(1, Arbitraries.integers().between(0, VALID.length)));
  }

  @Provide
  Arbitrary<byte[]> junk() {
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.just(new byte[0])),
        Tuple.of(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(40)),
        Tuple.of(1, Arbitraries.just(VALID))); // a second gzip member
  }

  /**
   * JSON-ish text, gzipped: valid messages, broken ones, and everything between. A message the
   * decoder accepts must carry its own table's hash.
   */
  @Property(tries = 300)
  void arbitraryJsonTextIsAConfigurationOrARefusal(@ForAll("jsonish") String text) {
    try {
      ConfigSnapshot snapshot =
          decoder.decode(Gzip.compress(text.getBytes(UTF_8)), SnapshotSource.CONTROL_PLANE, NOW);
      assertThat(snapshot.hash()).isEqualTo(ConfigHash.configHash(snapshot.config()));
      assertThat(snapshot.config().isObject()).isTrue();
    } catch (ConfigRejectedException e) {
      assertThat(e.reason()).isIn(DECODER_REASONS);
      assertThat(e.getMessage()).isNotBlank();
    }
  }

  @Provide
  Arbitrary<String> jsonish() {
    Arbitrary<String> token =
        Arbitraries.oneOf(
            Arbitraries.of(
                "{",
                "}",
                "[",
                "]",
                ":",
                ",",
                " ",
                "\n",
                "\"type\"",
                "\"reconfigure\"",
                "\"config_table\"",
                "\"config_hash\"",
                "\"timestamp\"",
                "\"services\"",
                "\"routes\"",
                "\"" + ConfigHash.configHash(TABLE) + "\"",
                "null",
                "true",
                "false",
                "0",
                "-0",
                "1e999",
                "-1e999",
                "1e-999",
                "123456789012345678901234567890",
                "0.1",
                "01",
                "1.",
                "NaN",
                "\"\\ud800\"",
                "\"\\u0000\"",
                "\"\\uZZZZ\"",
                "\"é\"",
                "\"\"",
                "\"a\"",
                "'a'",
                "/* c */",
                "\u00a0",
                "\ufeff"),
            Arbitraries.strings().ofMaxLength(6).map(s -> '"' + s + '"'),
            Arbitraries.integers().map(String::valueOf),
            Arbitraries.doubles().map(String::valueOf));
    Arbitrary<String> soup = token.list().ofMaxSize(40).map(list -> String.join("", list));
    // Often inside a well-formed message, so that the later checks are reached too.
    return Arbitraries.oneOf(
        soup,
        soup.map(s -> "{\"type\":\"reconfigure\",\"config_table\":" + s + "}"),
        soup.map(s -> "{\"type\":\"reconfigure\",\"config_table\":{\"x\":" + s + "}}"));
  }

  @Property(tries = 200)
  void randomBytesAreRefused(@ForAll("randomBytes") byte[] bytes) {
    try {
      decoder.decode(bytes, SnapshotSource.CONTROL_PLANE, NOW);
      throw new AssertionError("random bytes were accepted as a configuration");
    } catch (ConfigRejectedException e) {
      assertThat(e.reason()).isIn(DECODER_REASONS);
    }
  }

  @Provide
  Arbitrary<byte[]> randomBytes() {
    Arbitrary<byte[]> any = Arbitraries.bytes().array(byte[].class).ofMaxSize(200);
    // A gzip magic number and method in front, so that the inflater gets to work on the rest.
    return Arbitraries.oneOf(
        any,
        any.map(
            rest -> {
              byte[] out = new byte[rest.length + 10];
              out[0] = 0x1f;
              out[1] = (byte) 0x8b;
              out[2] = 8;
              System.arraycopy(rest, 0, out, 10, rest.length);
              return out;
            }));
  }
}

package dev.configsync.okhttp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;
import okio.Buffer;
import okio.ByteString;

class WebSocketFramePropertiesTest {

  private static final long MAX_PAYLOAD = 1 << 20;

  @Property(tries = 500)
  void validFramesRoundTrip(
      @ForAll("frames") WebSocketFrame frame, @ForAll boolean masked, @ForAll long seed)
      throws IOException {
    Buffer wire = new Buffer();
    new WebSocketFrameWriter(wire, masked, new Random(seed)).write(frame);

    WebSocketFrameReader reader = new WebSocketFrameReader(wire, masked, MAX_PAYLOAD);
    assertThat(reader.readFrame()).isEqualTo(frame);
    assertThat(wire.size()).as("the whole frame and nothing more was read").isZero();
  }

  /**
   * Flipped bytes, truncations and appended junk on valid frames: reading either succeeds or throws
   * an IOException. Anything else (RuntimeException, OutOfMemoryError, ...) fails the property,
   * since jqwik reports every uncaught throwable.
   */
  @Property(tries = 2000)
  void corruptedFramesOnlyEverThrowIoExceptions(
      @ForAll("frames") WebSocketFrame frame,
      @ForAll boolean masked,
      @ForAll("mutations") List<Tuple2<Integer, Integer>> mutations,
      @ForAll("cuts") int cut,
      @ForAll("junk") byte[] junk)
      throws IOException {
    Buffer written = new Buffer();
    new WebSocketFrameWriter(written, masked, new SecureRandom()).write(frame);
    byte[] bytes = written.readByteArray();
    for (Tuple2<Integer, Integer> mutation : mutations) {
      if (bytes.length > 0) {
        int index = Math.floorMod(mutation.get1(), bytes.length);
        bytes[index] = (byte) (bytes[index] ^ mutation.get2());
      }
    }
    int keep = cut < 0 ? bytes.length : Math.min(cut, bytes.length);
    Buffer wire = new Buffer().write(bytes, 0, keep).write(junk);

    // Both orientations, so mask-bit mutations reach the payload code paths too.
    for (boolean expectMasked : new boolean[] {masked, !masked}) {
      Buffer copy = wire.copy();
      WebSocketFrameReader reader = new WebSocketFrameReader(copy, expectMasked, MAX_PAYLOAD);
      try {
        // Every successful read consumes at least 2 bytes, so this ends.
        while (true) {
          reader.readFrame();
        }
      } catch (EOFException | WebSocketProtocolException expected) {
        // The two failure modes the reader documents.
      }
    }
  }

  /**
   * Random bytes, and random headers whose declared length is anything up to 2^63 - 1 followed by a
   * few bytes: reading fails only with the two typed exceptions, never returns a payload over the
   * cap, and allocates in proportion to the bytes actually there, never to the length a header
   * claims (under the cap, the reader must not allocate the claimed length up front; over it, it
   * must refuse from the header).
   */
  @Property(tries = 1000)
  void arbitraryBytesNeverCostMoreThanTheyWeigh(
      @ForAll("hostileWire") byte[] wire, @ForAll boolean expectMasked) throws IOException {
    long cap = 16 * 1024 * 1024; // the default payload cap
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long me = Thread.currentThread().getId();
    long before = threads.getThreadAllocatedBytes(me);

    WebSocketFrameReader reader =
        new WebSocketFrameReader(new Buffer().write(wire), expectMasked, cap);
    try {
      while (true) {
        WebSocketFrame frame = reader.readFrame();
        assertThat((long) frame.payload().size()).isLessThanOrEqualTo(cap);
      }
    } catch (EOFException | WebSocketProtocolException expected) {
      // The two failure modes the reader documents.
    }

    long allocated = threads.getThreadAllocatedBytes(me) - before;
    // A copy or two of the input, okio's 8 KiB segments, the exception (and, the first time a
    // message is built, the JVM linking its string concatenation): never the megabytes a header
    // may claim up to the cap, let alone the 2^63 bytes beyond it.
    assertThat(allocated).isLessThan(4L * wire.length + 1024 * 1024);
  }

  @Provide
  Arbitrary<byte[]> hostileWire() {
    Arbitrary<byte[]> header =
        Combinators.combine(
                Arbitraries.integers().between(0, 255),
                Arbitraries.of(true, false),
                Arbitraries.oneOf(
                    Arbitraries.longs().between(0, 200),
                    Arbitraries.longs().between(60_000, 70_000),
                    Arbitraries.longs().between(1 << 20, (16 << 20) + 100),
                    Arbitraries.longs().greaterOrEqual(0),
                    Arbitraries.of(
                        125L, 126L, 65_535L, 65_536L, 16L << 20, (16L << 20) + 1, Long.MAX_VALUE)),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(300))
            .as(
                (first, mask, length, body) -> {
                  Buffer b = new Buffer().writeByte(first);
                  int maskBit = mask ? 0x80 : 0;
                  if (length <= 125) {
                    b.writeByte(maskBit | length.intValue());
                  } else if (length <= 0xffff) {
                    b.writeByte(maskBit | 126).writeShort(length.intValue());
                  } else {
                    b.writeByte(maskBit | 127).writeLong(length);
                  }
                  return b.write(body).readByteArray();
                });
    return Arbitraries.oneOf(header, Arbitraries.bytes().array(byte[].class).ofMaxSize(400));
  }

  @Property(tries = 3000)
  void utf8ValidationAgreesWithTheJdksStrictDecoder(@ForAll("utf8ish") byte[] bytes) {
    boolean jdkValid;
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes));
      jdkValid = true;
    } catch (CharacterCodingException e) {
      jdkValid = false;
    }
    assertThat(Utf8.isValid(ByteString.of(bytes))).isEqualTo(jdkValid);
  }

  @Provide
  Arbitrary<WebSocketFrame> frames() {
    Arbitrary<ByteString> data =
        Arbitraries.bytes()
            .array(byte[].class)
            .ofMaxSize(70_000)
            .edgeCases(c -> c.add(new byte[125], new byte[126], new byte[65535], new byte[65536]))
            .map(ByteString::of);
    Arbitrary<ByteString> control =
        Arbitraries.bytes().array(byte[].class).ofMaxSize(125).map(ByteString::of);
    Arbitrary<Integer> closeCodes =
        Arbitraries.oneOf(
            Arbitraries.integers().between(1000, 1003),
            Arbitraries.integers().between(1007, 1011),
            Arbitraries.integers().between(3000, 4999));
    Arbitrary<String> reasons = Arbitraries.strings().ofMaxLength(30);
    return Arbitraries.oneOf(
        data.map(WebSocketFrame::binary),
        Arbitraries.strings().ofMaxLength(2000).map(WebSocketFrame::text),
        control.map(WebSocketFrame::ping),
        control.map(WebSocketFrame::pong),
        Arbitraries.just(new WebSocketFrame(WebSocketFrame.OP_CLOSE, ByteString.EMPTY)),
        Combinators.combine(closeCodes, reasons)
            .as((code, reason) -> WebSocketFrame.close(code, truncateToCloseReason(reason))));
  }

  /** Reasons of more than 123 UTF-8 bytes do not fit; trim them (jqwik strings may be long). */
  private static String truncateToCloseReason(String reason) {
    String encodable = ByteString.encodeUtf8(reason).utf8();
    while (ByteString.encodeUtf8(encodable).size() > WebSocketFrame.MAX_CLOSE_REASON_BYTES) {
      encodable = encodable.substring(0, encodable.length() / 2);
    }
    return encodable;
  }

  @Provide
  Arbitrary<List<Tuple2<Integer, Integer>>> mutations() {
    Arbitrary<Integer> positions =
        Arbitraries.oneOf(
            Arbitraries.integers().between(0, 14), // Header bytes, where most rules live.
            Arbitraries.integers().greaterOrEqual(0));
    Arbitrary<Integer> xors = Arbitraries.integers().between(1, 255);
    return Combinators.combine(positions, xors).as(Tuple::of).list().ofMaxSize(4);
  }

  @Provide
  Arbitrary<Integer> cuts() {
    // -1 keeps the whole frame; otherwise keep that many bytes.
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.just(-1)), Tuple.of(2, Arbitraries.integers().between(0, 80_000)));
  }

  @Provide
  Arbitrary<byte[]> junk() {
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.just(new byte[0])),
        Tuple.of(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(20)));
  }

  @Provide
  Arbitrary<byte[]> utf8ish() {
    Arbitrary<byte[]> validText =
        Arbitraries.strings().ofMaxLength(20).map(s -> s.getBytes(StandardCharsets.UTF_8));
    Arbitrary<byte[]> interesting =
        Arbitraries.of(
                0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1,
                0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff)
            .map(Integer::byteValue)
            .array(byte[].class)
            .ofMaxSize(8);
    return Arbitraries.oneOf(
        validText,
        interesting,
        Arbitraries.bytes().array(byte[].class).ofMaxSize(12),
        Combinators.combine(validText, interesting)
            .as((a, b) -> FrameBytes.concat(ByteString.of(a), ByteString.of(b)).toByteArray()));
  }
}

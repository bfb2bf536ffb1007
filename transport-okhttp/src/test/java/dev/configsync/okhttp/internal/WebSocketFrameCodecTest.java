package dev.configsync.okhttp.internal;

import static dev.configsync.okhttp.internal.FrameBytes.RFC_KEY;
import static dev.configsync.okhttp.internal.FrameBytes.bytes;
import static dev.configsync.okhttp.internal.FrameBytes.concat;
import static dev.configsync.okhttp.internal.FrameBytes.reader;
import static dev.configsync.okhttp.internal.FrameBytes.repeat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.okhttp.internal.FrameBytes.FixedKeyRandom;
import java.io.EOFException;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import okio.Buffer;
import okio.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WebSocketFrameCodecTest {

  private static final ByteString HELLO = ByteString.encodeUtf8("Hello");

  private static ByteString written(boolean mask, WriterAction action) throws IOException {
    Buffer sink = new Buffer();
    action.write(new WebSocketFrameWriter(sink, mask, new FixedKeyRandom(RFC_KEY)));
    return sink.readByteString();
  }

  private interface WriterAction {
    void write(WebSocketFrameWriter writer) throws IOException;
  }

  // ---- RFC 6455 section 5.7 examples, byte for byte ----

  @Test
  void rfcSingleFrameUnmaskedText() throws IOException {
    ByteString wire = bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    assertThat(written(false, w -> w.writeText("Hello"))).isEqualTo(wire);

    WebSocketFrame frame = reader(wire, false).readFrame();
    assertThat(frame.opcode()).isEqualTo(WebSocketFrame.OP_TEXT);
    assertThat(frame.text()).isEqualTo("Hello");
  }

  @Test
  void rfcSingleFrameMaskedText() throws IOException {
    ByteString wire = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
    assertThat(written(true, w -> w.writeText("Hello"))).isEqualTo(wire);

    assertThat(reader(wire, true).readFrame()).isEqualTo(WebSocketFrame.text("Hello"));
  }

  @Test
  void rfcUnmaskedPing() throws IOException {
    ByteString wire = bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    assertThat(written(false, w -> w.writePing(HELLO))).isEqualTo(wire);

    assertThat(reader(wire, false).readFrame()).isEqualTo(WebSocketFrame.ping(HELLO));
  }

  @Test
  void rfcMaskedPong() throws IOException {
    ByteString wire = bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
    assertThat(written(true, w -> w.writePong(HELLO))).isEqualTo(wire);

    assertThat(reader(wire, true).readFrame()).isEqualTo(WebSocketFrame.pong(HELLO));
  }

  @Test
  void rfc256ByteBinaryUses16BitLength() throws IOException {
    ByteString payload = repeat(0xab, 256);
    ByteString wire = concat(bytes(0x82, 0x7e, 0x01, 0x00), payload);
    assertThat(written(false, w -> w.writeBinary(payload))).isEqualTo(wire);

    assertThat(reader(wire, false).readFrame()).isEqualTo(WebSocketFrame.binary(payload));
  }

  @Test
  void rfc64KibBinaryUses64BitLength() throws IOException {
    ByteString payload = repeat(0x5a, 65536);
    ByteString wire =
        concat(bytes(0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00), payload);
    assertThat(written(false, w -> w.writeBinary(payload))).isEqualTo(wire);

    assertThat(reader(wire, false).readFrame()).isEqualTo(WebSocketFrame.binary(payload));
  }

  // ---- round trips ----

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 125, 126, 127, 65535, 65536, 70_001})
  void binaryRoundTripsMaskedAndUnmasked(int length) throws IOException {
    byte[] data = new byte[length];
    new Random(length).nextBytes(data);
    ByteString payload = ByteString.of(data);
    int expectedHeader = length <= 125 ? 2 : length <= 65535 ? 4 : 10;

    for (boolean masked : new boolean[] {false, true}) {
      Buffer wire = new Buffer();
      new WebSocketFrameWriter(wire, masked, new SecureRandom()).writeBinary(payload);
      assertThat(wire.size()).isEqualTo(expectedHeader + (masked ? 4 : 0) + length);

      WebSocketFrame frame = new WebSocketFrameReader(wire, masked, 1 << 20).readFrame();
      assertThat(frame).isEqualTo(WebSocketFrame.binary(payload));
      assertThat(wire.size()).as("whole frame consumed").isZero();
    }
  }

  @Test
  void closeFrameRoundTrips() throws IOException {
    for (boolean masked : new boolean[] {false, true}) {
      Buffer wire = new Buffer();
      new WebSocketFrameWriter(wire, masked, new SecureRandom())
          .writeClose(WebSocketFrame.CLOSE_GOING_AWAY, "rotating — bye");
      WebSocketFrame frame = new WebSocketFrameReader(wire, masked, 1024).readFrame();
      assertThat(frame.isControl()).isTrue();
      assertThat(frame.closeCode()).isEqualTo(1001);
      assertThat(frame.closeReason()).isEqualTo("rotating — bye");
    }
  }

  @Test
  void emptyCloseFrameReportsNoStatus() throws IOException {
    WebSocketFrame frame = reader(bytes(0x88, 0x00), false).readFrame();
    assertThat(frame.closeCode()).isEqualTo(WebSocketFrame.CLOSE_NO_STATUS);
    assertThat(frame.closeReason()).isEmpty();
  }

  @Test
  void severalFramesInOneStream() throws IOException {
    Buffer wire = new Buffer();
    WebSocketFrameWriter writer = new WebSocketFrameWriter(wire, true, new SecureRandom());
    writer.writeText("a");
    writer.writePing(ByteString.EMPTY);
    writer.writeBinary(repeat(1, 300));
    writer.writeClose(1000, "");

    WebSocketFrameReader reader = new WebSocketFrameReader(wire, true, 1024);
    assertThat(reader.readFrame()).isEqualTo(WebSocketFrame.text("a"));
    assertThat(reader.readFrame()).isEqualTo(WebSocketFrame.ping(ByteString.EMPTY));
    assertThat(reader.readFrame()).isEqualTo(WebSocketFrame.binary(repeat(1, 300)));
    assertThat(reader.readFrame()).isEqualTo(WebSocketFrame.close(1000, ""));
    assertThatThrownBy(reader::readFrame)
        .isInstanceOf(EOFException.class)
        .hasMessageStartingWith("stream ended before a frame header");
  }

  @Test
  void nonMinimalLengthEncodingsAreAccepted() throws IOException {
    ByteString sixteen = concat(bytes(0x82, 0x7e, 0x00, 0x05), HELLO);
    ByteString sixtyFour = concat(bytes(0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x05), HELLO);
    ByteString controlSixteen = concat(bytes(0x89, 0x7e, 0x00, 0x05), HELLO);
    assertThat(reader(sixteen, false).readFrame()).isEqualTo(WebSocketFrame.binary(HELLO));
    assertThat(reader(sixtyFour, false).readFrame()).isEqualTo(WebSocketFrame.binary(HELLO));
    assertThat(reader(controlSixteen, false).readFrame()).isEqualTo(WebSocketFrame.ping(HELLO));
  }

  @Test
  void payloadOfExactlyTheLimitIsAccepted() throws IOException {
    ByteString wire = concat(bytes(0x82, 0x0a), repeat(7, 10));
    WebSocketFrameReader reader = new WebSocketFrameReader(new Buffer().write(wire), false, 10);
    assertThat(reader.readFrame().payload().size()).isEqualTo(10);
  }

  @Test
  void maskedFramesUseFreshKeys() throws IOException {
    Buffer wire = new Buffer();
    WebSocketFrameWriter writer = new WebSocketFrameWriter(wire, true, new SecureRandom());
    Set<ByteString> keys = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      writer.writeBinary(HELLO);
      ByteString frame = wire.readByteString(2 + 4 + 5);
      keys.add(frame.substring(2, 6));
    }
    assertThat(keys).hasSizeGreaterThan(1);
  }

  @Test
  void concurrentWritersNeverInterleaveFrames() throws Exception {
    Buffer wire = new Buffer();
    WebSocketFrameWriter writer = new WebSocketFrameWriter(wire, true, new SecureRandom());
    int threads = 4;
    int perThread = 200;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        futures.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < perThread; i++) {
                    // Sizes cross the 7-bit and 16-bit length boundaries.
                    writer.writeBinary(repeat(thread, (i * 337) % 70_000));
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> future : futures) {
        future.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }

    WebSocketFrameReader reader = new WebSocketFrameReader(wire, true, 1 << 20);
    int[] perThreadCount = new int[threads];
    for (int n = 0; n < threads * perThread; n++) {
      ByteString payload = reader.readFrame().payload();
      if (payload.size() > 0) {
        int thread = payload.getByte(0);
        assertThat(payload).isEqualTo(repeat(thread, payload.size()));
        perThreadCount[thread]++;
      }
    }
    assertThat(wire.size()).isZero();
    for (int count : perThreadCount) {
      assertThat(count).isEqualTo(perThread - 1); // i == 0 writes an empty payload.
    }
  }

  // ---- rejections ----

  private static WebSocketProtocolException rejected(ByteString wire, boolean expectMasked) {
    Throwable thrown = catchReadFailure(wire, expectMasked, 1 << 20);
    assertThat(thrown).isInstanceOf(WebSocketProtocolException.class);
    return (WebSocketProtocolException) thrown;
  }

  private static Throwable catchReadFailure(ByteString wire, boolean expectMasked, long max) {
    WebSocketFrameReader reader =
        new WebSocketFrameReader(new Buffer().write(wire), expectMasked, max);
    try {
      WebSocketFrame frame = reader.readFrame();
      throw new AssertionError("expected a failure, read " + frame);
    } catch (IOException e) {
      return e;
    }
  }

  @Test
  void rfcFragmentedTextIsRejected() {
    // RFC 6455 5.7: "Hel" in a first fragment, "lo" in a final continuation frame.
    ByteString wire = bytes(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f);
    WebSocketProtocolException e = rejected(wire, false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("fragment");
  }

  @Test
  void continuationFrameIsRejected() {
    WebSocketProtocolException e = rejected(bytes(0x80, 0x02, 0x6c, 0x6f), false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("continuation");
  }

  @Test
  void fragmentedControlFrameIsRejected() {
    WebSocketProtocolException e = rejected(bytes(0x09, 0x00), false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("fragmented ping control frame");
  }

  @ParameterizedTest
  @ValueSource(ints = {0x40, 0x20, 0x10, 0x70})
  void reservedBitsAreRejected(int rsv) {
    WebSocketProtocolException e = rejected(bytes(0x81 | rsv, 0x00), false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("reserved bits");
  }

  @ParameterizedTest
  @ValueSource(ints = {0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf})
  void reservedOpcodesAreRejected(int opcode) {
    WebSocketProtocolException e = rejected(bytes(0x80 | opcode, 0x00), false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("reserved opcode 0x" + Integer.toHexString(opcode));
  }

  @ParameterizedTest
  @ValueSource(ints = {0x88, 0x89, 0x8a})
  void oversizeControlFramesAreRejected(int b0) {
    // 126 bytes in the 16-bit form, and the full payload present: refused on the header alone.
    ByteString wire = concat(bytes(b0, 0x7e, 0x00, 0x7e), repeat(0x41, 126));
    WebSocketProtocolException e = rejected(wire, false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("control frames carry at most 125");
  }

  @Test
  void hugeDeclaredLengthIsRejectedBeforeAllocating() {
    // 2^62 bytes declared, nothing behind the header: allocating or reading would OOM or EOF.
    ByteString wire = bytes(0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0);
    Throwable thrown = catchReadFailure(wire, false, 16 << 20);
    assertThat(thrown).isInstanceOf(WebSocketProtocolException.class);
    assertThat(((WebSocketProtocolException) thrown).closeCode()).isEqualTo(1009);
    assertThat(thrown).hasMessageContaining("declares " + (1L << 62) + " payload bytes");
  }

  @Test
  void payloadOneOverTheLimitIsRejected() {
    ByteString wire = concat(bytes(0x82, 0x0b), repeat(7, 11));
    Throwable thrown = catchReadFailure(wire, false, 10);
    assertThat(thrown).isInstanceOf(WebSocketProtocolException.class);
    assertThat(((WebSocketProtocolException) thrown).closeCode()).isEqualTo(1009);
  }

  @Test
  void lengthWithTopBitSetIsRejected() {
    ByteString wire = bytes(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0x05);
    WebSocketProtocolException e = rejected(wire, false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("most significant bit");
  }

  @Test
  void unmaskedClientFrameIsRejectedByServer() {
    WebSocketProtocolException e = rejected(concat(bytes(0x81, 0x05), HELLO), true);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("unmasked frame from a client");
  }

  @Test
  void maskedServerFrameIsRejectedByClient() {
    ByteString wire = bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
    WebSocketProtocolException e = rejected(wire, false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("masked frame from a server");
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 2999, 5000, 65535})
  void invalidCloseCodesAreRejected(int code) {
    ByteString wire = bytes(0x88, 0x02, code >> 8, code);
    WebSocketProtocolException e = rejected(wire, false);
    assertThat(e.closeCode()).isEqualTo(1002);
    assertThat(e).hasMessageContaining("close code " + code);
  }

  @ParameterizedTest
  @ValueSource(ints = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999})
  void validCloseCodesAreAccepted(int code) throws IOException {
    WebSocketFrame frame = reader(bytes(0x88, 0x02, code >> 8, code), false).readFrame();
    assertThat(frame.closeCode()).isEqualTo(code);
  }

  @Test
  void oneByteClosePayloadIsRejected() {
    WebSocketProtocolException e = rejected(bytes(0x88, 0x01, 0x03), false);
    assertThat(e.closeCode()).isEqualTo(1002);
  }

  @Test
  void closeReasonMustBeUtf8() {
    WebSocketProtocolException e = rejected(bytes(0x88, 0x04, 0x03, 0xe8, 0xc0, 0x80), false);
    assertThat(e.closeCode()).isEqualTo(1007);
    assertThat(e).hasMessageContaining("close reason is not valid UTF-8");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "c0 80", // overlong NUL
        "e0 80 af", // overlong '/'
        "ed a0 80", // UTF-16 surrogate U+D800
        "f4 90 80 80", // above U+10FFFF
        "ff",
        "80", // lone continuation byte
        "e2 82", // truncated euro sign
        "48 65 6c 6c 6f c3" // truncated at the end
      })
  void invalidUtf8TextIsRejectedButTheSameBytesAreFineAsBinary(String hex) throws IOException {
    ByteString payload = ByteString.decodeHex(hex.replace(" ", ""));
    ByteString text = concat(bytes(0x81, payload.size()), payload);
    WebSocketProtocolException e = rejected(text, false);
    assertThat(e.closeCode()).isEqualTo(1007);
    assertThat(e).hasMessageContaining("not valid UTF-8");

    ByteString binary = concat(bytes(0x82, payload.size()), payload);
    assertThat(reader(binary, false).readFrame().payload()).isEqualTo(payload);
  }

  @Test
  void validMultiByteUtf8TextIsAccepted() throws IOException {
    String text = "é € 𝄞 \uFFFF \u0000";
    Buffer wire = new Buffer();
    new WebSocketFrameWriter(wire, false, new Random()).writeText(text);
    assertThat(new WebSocketFrameReader(wire, false, 100).readFrame().text()).isEqualTo(text);
  }

  @Test
  void truncatedFramesFailWithEofException() {
    ByteString valid =
        unchecked(
            () -> {
              Buffer sink = new Buffer();
              new WebSocketFrameWriter(sink, true, new FixedKeyRandom(RFC_KEY))
                  .writeBinary(repeat(9, 300));
              return sink.readByteString();
            });
    for (int cut = 1; cut < valid.size(); cut++) {
      Throwable thrown = catchReadFailure(valid.substring(0, cut), true, 1 << 20);
      assertThat(thrown)
          .as("cut at %d", cut)
          .isInstanceOf(EOFException.class)
          .hasMessageStartingWith("stream ended inside a frame");
    }
    assertThat(catchReadFailure(ByteString.EMPTY, true, 1 << 20))
        .isInstanceOf(EOFException.class)
        .hasMessageStartingWith("stream ended before a frame header");
  }

  private interface IoSupplier<T> {
    T get() throws IOException;
  }

  private static <T> T unchecked(IoSupplier<T> supplier) {
    try {
      return supplier.get();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  // ---- writer argument checks ----

  @Test
  void writerRefusesInvalidFramesBeforeWritingAnything() {
    Buffer sink = new Buffer();
    WebSocketFrameWriter writer = new WebSocketFrameWriter(sink, false, new Random());
    assertThatThrownBy(() -> writer.writePing(repeat(0, 126)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at most 125");
    assertThatThrownBy(() -> writer.writePong(repeat(0, 126)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> writer.writeClose(1005, ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1005");
    assertThatThrownBy(() -> writer.writeClose(1000, "x".repeat(124)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("124 UTF-8 bytes");
    assertThatThrownBy(
            () -> writer.write(new WebSocketFrame(WebSocketFrame.OP_CONTINUATION, HELLO)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> writer.write(new WebSocketFrame(WebSocketFrame.OP_TEXT, bytes(0xc0, 0x80))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> writer.write(new WebSocketFrame(WebSocketFrame.OP_CLOSE, bytes(3))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(sink.size()).isZero();
  }

  @Test
  void closeReasonOfExactly123BytesFits() throws IOException {
    Buffer sink = new Buffer();
    new WebSocketFrameWriter(sink, false, new Random()).writeClose(4000, "x".repeat(123));
    WebSocketFrame frame = new WebSocketFrameReader(sink, false, 125).readFrame();
    assertThat(frame.closeCode()).isEqualTo(4000);
    assertThat(frame.closeReason()).hasSize(123);
  }

  @Test
  void frameRecordRejectsUnknownOpcodesAndNonCloseAccessors() {
    assertThatThrownBy(() -> new WebSocketFrame(3, ByteString.EMPTY))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> WebSocketFrame.text("x").closeCode())
        .isInstanceOf(IllegalStateException.class);
    assertThat(WebSocketFrame.binary(repeat(0, 1000)).toString())
        .isEqualTo("WebSocketFrame[binary, 1000 bytes]");
  }
}

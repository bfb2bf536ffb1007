package dev.configsync.okhttp.internal;

import java.util.Arrays;
import java.util.Random;
import okio.Buffer;
import okio.ByteString;

/** Test helpers for building and comparing raw frame bytes. */
final class FrameBytes {
  private FrameBytes() {}

  /** Bytes from ints, so tests can be written like the RFC's hex listings. */
  static ByteString bytes(int... values) {
    byte[] out = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = (byte) values[i];
    }
    return ByteString.of(out);
  }

  static ByteString concat(ByteString... parts) {
    Buffer buffer = new Buffer();
    for (ByteString part : parts) {
      buffer.write(part);
    }
    return buffer.readByteString();
  }

  static ByteString repeat(int value, int count) {
    byte[] out = new byte[count];
    Arrays.fill(out, (byte) value);
    return ByteString.of(out);
  }

  static WebSocketFrameReader reader(ByteString wire, boolean expectMasked) {
    return new WebSocketFrameReader(new Buffer().write(wire), expectMasked, 1 << 20);
  }

  /** A Random whose {@link #nextInt()} always returns the given masking key. */
  static final class FixedKeyRandom extends Random {
    private static final long serialVersionUID = 1L;
    private final int key;

    FixedKeyRandom(int key) {
      this.key = key;
    }

    @Override
    public int nextInt() {
      return key;
    }
  }

  /** The masking key of RFC 6455 section 5.7's masked examples. */
  static final int RFC_KEY = 0x37fa213d;
}

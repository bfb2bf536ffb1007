package dev.configsync.okhttp.internal;

import java.util.Objects;
import okio.Buffer;

/** RFC 6455 section 5.3 masking, applied in place on an okio {@link Buffer}'s segments. */
final class WebSocketMasking {
  private WebSocketMasking() {}

  /**
   * XORs every byte of {@code buffer} from {@code offset} to its end with the 4-byte {@code key},
   * the key's first byte applying to the byte at {@code offset}. Masking and unmasking are the same
   * operation. Works on the buffer's segments directly: no copy of the payload is made (shared
   * segments are copied once by okio before being written, as its cursor contract requires).
   *
   * @param cursor a cursor that is not in use; it is closed again before this returns
   */
  static void toggle(Buffer buffer, long offset, byte[] key, Buffer.UnsafeCursor cursor) {
    if (offset >= buffer.size()) {
      return;
    }
    buffer.readAndWriteUnsafe(cursor);
    try {
      int keyIndex = 0;
      for (int n = cursor.seek(offset); n != -1; n = cursor.next()) {
        // okio declares data nullable; it is set whenever seek() or next() returned a segment.
        byte[] data = Objects.requireNonNull(cursor.data);
        for (int i = cursor.start, end = cursor.end; i < end; i++) {
          data[i] = (byte) (data[i] ^ key[keyIndex]);
          keyIndex = (keyIndex + 1) & 3;
        }
      }
    } finally {
      cursor.close();
    }
  }
}

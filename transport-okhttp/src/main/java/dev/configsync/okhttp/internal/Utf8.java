package dev.configsync.okhttp.internal;

import java.nio.ByteBuffer;
import okio.ByteString;

/** Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
final class Utf8 {
  private Utf8() {}

  /** Returns true if {@code bytes} is well-formed UTF-8. Does not copy the bytes. */
  static boolean isValid(ByteString bytes) {
    ByteBuffer in = bytes.asByteBuffer();
    int i = in.position();
    int end = in.limit();
    while (i < end) {
      int b0 = in.get(i) & 0xff;
      if (b0 < 0x80) {
        i++;
        continue;
      }
      int needed;
      int min2; // Allowed range of the second byte; later bytes are always 0x80..0xBF.
      int max2;
      if (b0 >= 0xc2 && b0 <= 0xdf) {
        needed = 1;
        min2 = 0x80;
        max2 = 0xbf;
      } else if (b0 == 0xe0) {
        needed = 2;
        min2 = 0xa0; // Excludes overlong 3-byte forms.
        max2 = 0xbf;
      } else if (b0 == 0xed) {
        needed = 2;
        min2 = 0x80;
        max2 = 0x9f; // Excludes UTF-16 surrogates U+D800..U+DFFF.
      } else if (b0 >= 0xe1 && b0 <= 0xef) {
        needed = 2;
        min2 = 0x80;
        max2 = 0xbf;
      } else if (b0 == 0xf0) {
        needed = 3;
        min2 = 0x90; // Excludes overlong 4-byte forms.
        max2 = 0xbf;
      } else if (b0 >= 0xf1 && b0 <= 0xf3) {
        needed = 3;
        min2 = 0x80;
        max2 = 0xbf;
      } else if (b0 == 0xf4) {
        needed = 3;
        min2 = 0x80;
        max2 = 0x8f; // Excludes code points above U+10FFFF.
      } else {
        return false; // Continuation byte in lead position, 0xC0/0xC1, or 0xF5..0xFF.
      }
      if (end - i - 1 < needed) {
        return false;
      }
      int b1 = in.get(i + 1) & 0xff;
      if (b1 < min2 || b1 > max2) {
        return false;
      }
      for (int k = 2; k <= needed; k++) {
        int b = in.get(i + k) & 0xff;
        if (b < 0x80 || b > 0xbf) {
          return false;
        }
      }
      i += needed + 1;
    }
    return true;
  }
}

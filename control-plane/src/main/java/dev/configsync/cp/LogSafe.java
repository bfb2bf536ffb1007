package dev.configsync.cp;

import org.jspecify.annotations.Nullable;

/**
 * Makes text a data plane sent safe to put in a log line: control, line-separator and format
 * characters become {@code ?} (so a node cannot forge log lines or hide text) and the length is
 * capped.
 */
final class LogSafe {
  private LogSafe() {}

  static String text(@Nullable String s, int max) {
    if (s == null) {
      return "null";
    }
    StringBuilder out = new StringBuilder(Math.min(s.length(), max) + 1);
    for (int i = 0; i < s.length() && out.length() < max; i++) {
      char c = s.charAt(i);
      int type = Character.getType(c);
      boolean unsafe =
          Character.isISOControl(c)
              || type == Character.LINE_SEPARATOR
              || type == Character.PARAGRAPH_SEPARATOR
              || type == Character.FORMAT;
      out.append(unsafe ? '?' : c);
    }
    if (s.length() > max) {
      out.append('…');
    }
    return out.toString();
  }
}

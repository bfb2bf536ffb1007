package dev.configsync.agent;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prints events as JSON lines: one whole line per event, flushed at once, never interleaved with
 * another (the lines of several threads are serialized here).
 */
final class EventLines {
  private static final Logger log = LoggerFactory.getLogger(EventLines.class);

  private final PrintStream out;
  private boolean failed; // guarded by this

  EventLines(PrintStream out) {
    this.out = out;
  }

  /** Prints {@code event} (a record, see {@link EventJson}) as one line of JSON. */
  synchronized void print(Object event) {
    byte[] line = (EventJson.line(event) + "\n").getBytes(StandardCharsets.UTF_8);
    out.write(line, 0, line.length);
    out.flush();
    if (out.checkError() && !failed) {
      failed = true;
      log.warn("cannot write event lines to stdout (closed pipe?); the agent keeps running");
    }
  }
}

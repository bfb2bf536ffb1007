package dev.configsync.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prints events as JSON lines: one whole line per event, flushed at once, never interleaved with
 * another (the lines of several threads are serialized here).
 *
 * <p>Each line's {@code time} is the instant it is printed, taken under the same lock, and never
 * earlier than the line before: lines are in time order. The events' own times cannot give that:
 * the client stamps its events on its sync loop and delivers them later on its listener thread,
 * while the agent's own events (output written, on-change results, manual loads) are stamped on
 * other threads, so a line stamped earlier could be printed after one stamped later. The printed
 * time is within the delivery delay (normally well under a millisecond, at most the time an output
 * write takes) of the event's own.
 */
final class EventLines {
  private static final Logger log = LoggerFactory.getLogger(EventLines.class);

  private final PrintStream out;
  private final Clock clock;
  private boolean failed; // guarded by this
  private @Nullable Instant last; // guarded by this: the time of the last line printed

  EventLines(PrintStream out) {
    this(out, Clock.systemUTC());
  }

  EventLines(PrintStream out, Clock clock) {
    this.out = out;
    this.clock = clock;
  }

  /** Prints {@code event} (a record, see {@link EventJson}) as one line of JSON, stamped now. */
  synchronized void print(Object event) {
    ObjectNode json = EventJson.toJson(event);
    Instant now = clock.instant();
    if (last != null && now.isBefore(last)) {
      now = last; // the wall clock stepped back: the lines stay in order
    }
    last = now;
    if (json.has("time")) {
      json.put("time", now.toString()); // same place: time stays the last field
    }
    byte[] line = (EventJson.text(json) + "\n").getBytes(StandardCharsets.UTF_8);
    out.write(line, 0, line.length);
    out.flush();
    if (out.checkError() && !failed) {
      failed = true;
      log.warn("cannot write event lines to stdout (closed pipe?); the agent keeps running");
    }
  }
}

package dev.configsync.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a unified JVM GC log ({@code -Xlog:gc*:file=...}) says about stop-the-world pauses and the
 * heap, whatever the collector: G1, Parallel and Serial log each pause as {@code GC(n) Pause Young
 * ... 24M->8M(256M) 3.456ms}; ZGC logs its three short pauses as {@code GC(n) Pause Mark Start
 * 0.012ms} and its cycles as {@code GC(n) Garbage Collection (...) 30M(1%)->12M(0%)}.
 *
 * @param pausesMillis every stop-the-world pause, in log order
 * @param maxHeapAfterGcMiB the largest heap in use just after a collection
 * @param maxCommittedMiB the largest committed heap a pause line reports (0 for ZGC, which does not
 *     say it there)
 * @param allocationStalls ZGC's "Allocation Stall" lines: a thread waited for memory (not a pause
 *     of the whole JVM, but a wait all the same; a heap too small for ZGC shows here first)
 */
record GcLog(
    List<Double> pausesMillis, long maxHeapAfterGcMiB, long maxCommittedMiB, int allocationStalls) {

  private static final Pattern PAUSE =
      Pattern.compile("GC\\(\\d+\\) Pause .*?(\\d+\\.\\d+)ms\\s*$");
  private static final Pattern HEAP =
      Pattern.compile("(\\d+)M(?:\\(\\d+%\\))?->(\\d+)M(?:\\((\\d+)M\\))?");

  GcLog {
    pausesMillis = List.copyOf(pausesMillis);
  }

  /** Reads {@code file}; a log that does not exist yet (the JVM never started) has no pauses. */
  static GcLog read(Path file) throws IOException {
    if (!Files.exists(file)) {
      return new GcLog(List.of(), 0, 0, 0);
    }
    return parse(Files.readAllLines(file, StandardCharsets.UTF_8));
  }

  static GcLog parse(List<String> lines) {
    List<Double> pauses = new ArrayList<>();
    long after = 0;
    long committed = 0;
    int stalls = 0;
    for (String line : lines) {
      if (line.contains("Allocation Stall")) {
        stalls++;
      }
      Matcher pause = PAUSE.matcher(line);
      if (pause.find()) {
        pauses.add(Double.parseDouble(pause.group(1)));
      }
      // Only the one summary line per collection (tag [gc] alone) carries before->after sizes.
      if (line.contains("[gc ") || line.contains("[gc]")) {
        Matcher heap = HEAP.matcher(line);
        if (heap.find()) {
          after = Math.max(after, Long.parseLong(heap.group(2)));
          if (heap.group(3) != null) {
            committed = Math.max(committed, Long.parseLong(heap.group(3)));
          }
        }
      }
    }
    return new GcLog(pauses, after, committed, stalls);
  }

  double maxPauseMillis() {
    return pausesMillis.stream().mapToDouble(Double::doubleValue).max().orElse(0);
  }

  double totalPauseMillis() {
    return pausesMillis.stream().mapToDouble(Double::doubleValue).sum();
  }

  /** Pauses longer than {@code millis}. */
  long pausesOver(double millis) {
    return pausesMillis.stream().filter(p -> p > millis).count();
  }
}

package dev.configsync.agent;

import dev.configsync.ConfigSnapshot;
import dev.configsync.SyncEvent;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the agent does with the client's callbacks: prints every event, and after each applied
 * configuration writes the {@code --output} file and asks for an {@code --on-change} run.
 *
 * <p>Runs on the client's listener thread, which delivers a snapshot to {@link #onSnapshot} just
 * before its {@link SyncEvent.SnapshotApplied} event, one callback at a time. The {@code
 * snapshot_applied} line is printed first, then {@code output_written} (or {@code output_failed});
 * the on-change command runs later, on its own thread.
 *
 * <p>The {@link SyncEvent.Stopped} event is held back rather than printed, so that the agent can
 * print it after the on-change runner has stopped too: {@code stopped} is always the last line.
 */
final class AgentListener {
  private static final Logger log = LoggerFactory.getLogger(AgentListener.class);

  private final EventLines lines;
  private final @Nullable OutputFile output;
  private final @Nullable OnChangeRunner onChange;
  private final Clock clock;
  private final AtomicReference<@Nullable ConfigSnapshot> latest = new AtomicReference<>();
  private final AtomicReference<SyncEvent.@Nullable Stopped> stopped = new AtomicReference<>();

  AgentListener(
      EventLines lines,
      @Nullable OutputFile output,
      @Nullable OnChangeRunner onChange,
      Clock clock) {
    this.lines = lines;
    this.output = output;
    this.onChange = onChange;
    this.clock = clock;
  }

  /** The client's snapshot callback. */
  void onSnapshot(ConfigSnapshot snapshot) {
    latest.set(snapshot);
  }

  /** The client's event callback. */
  void onEvent(SyncEvent event) {
    if (event instanceof SyncEvent.Stopped s) {
      stopped.set(s);
      return;
    }
    lines.print(event);
    if (event instanceof SyncEvent.SnapshotApplied applied) {
      afterApply(applied.hash());
    }
  }

  /** The client's {@code Stopped} event, or a new one if it did not arrive. */
  SyncEvent.Stopped stoppedEvent() {
    SyncEvent.Stopped s = stopped.get();
    return s != null ? s : new SyncEvent.Stopped(clock.instant());
  }

  private void afterApply(String hash) {
    ConfigSnapshot snapshot = latest.get();
    if (snapshot == null || !snapshot.hash().equals(hash)) {
      log.warn(
          "configuration {} was applied but not handed to the agent; output not written", hash);
      return;
    }
    OutputFile file = output;
    if (file != null) {
      try {
        file.write(snapshot.config());
      } catch (Exception e) {
        log.warn("cannot write {}: {}", file.path(), e.toString());
        log.debug("cannot write {}", file.path(), e);
        lines.print(new AgentEvent.OutputFailed(clock.instant(), hash, file.path(), describe(e)));
        return;
      }
      lines.print(new AgentEvent.OutputWritten(clock.instant(), hash, file.path()));
    }
    OnChangeRunner runner = onChange;
    if (runner != null) {
      runner.submit(hash);
    }
  }

  private static String describe(Exception e) {
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }
}

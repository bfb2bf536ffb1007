package dev.configsync.agent;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.configsync.ConfigSnapshot;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
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
 *
 * <p><b>An expired license stops serving, not listening.</b> A configuration whose license has
 * expired is never written to the output file nor announced to the on-change command. When the
 * license expires ({@link SyncEvent.LicenseExpired}: during the run, or for a configuration from
 * the cache at start-up or from the control plane, whose license event comes just before its {@link
 * SyncEvent.SnapshotApplied}), the output file is replaced by the empty configuration and the
 * on-change command runs with {@code CONFIGSYNC_SERVING=false}, so that the proxy serves nothing.
 * The client keeps connecting; a configuration with a renewed license ({@link
 * SyncEvent.LicenseRenewed}) is written and announced as usual.
 */
final class AgentListener {
  private static final Logger log = LoggerFactory.getLogger(AgentListener.class);

  private final EventLines lines;
  private final @Nullable OutputFile output;
  private final @Nullable OnChangeRunner onChange;
  private final Clock clock;
  private final AtomicReference<@Nullable ConfigSnapshot> latest = new AtomicReference<>();
  private final AtomicReference<SyncEvent.@Nullable Stopped> stopped = new AtomicReference<>();
  // Listener thread only:
  private @Nullable String announced; // the hash of the last snapshot_applied
  private boolean licenseExpired; // the client's license state is EXPIRED
  private boolean withdrawn; // the output holds the empty configuration (license expired)

  /** The hash of the empty configuration {@code {}}, which a withdrawn output file holds. */
  static final String EMPTY_HASH = ConfigHash.configHash(JsonNodeFactory.instance.objectNode());

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
    lines.print(withEntityCount(event));
    if (event instanceof SyncEvent.LicenseExpired) {
      licenseExpired = true;
      ConfigSnapshot snapshot = latest.get();
      if (snapshot == null || snapshot.hash().equals(announced)) {
        // Expired while running (no new configuration): stop serving now. When the expired license
        // belongs to a new configuration, its snapshot_applied comes next and withdraws then.
        withdraw();
      }
    } else if (event instanceof SyncEvent.LicenseRenewed) {
      licenseExpired = false;
    } else if (event instanceof SyncEvent.SnapshotApplied applied) {
      announced = applied.hash();
      if (licenseExpired) {
        // The client runs it but must not serve it: the proxy is never given it.
        log.warn(
            "configuration {} is not written nor announced to the on-change command: its license"
                + " has expired",
            applied.hash());
        withdraw();
      } else {
        afterApply(applied.hash());
      }
    }
  }

  /**
   * {@code snapshot_applied} always says how many entities changed: a change's count comes with the
   * event; for a whole configuration it is computed here, on the listener thread, from the snapshot
   * the client handed over just before ({@link ConfigSnapshot#changes()}).
   */
  private SyncEvent withEntityCount(SyncEvent event) {
    if (event instanceof SyncEvent.SnapshotApplied applied && applied.entitiesChanged() == null) {
      ConfigSnapshot snapshot = latest.get();
      if (snapshot != null && snapshot.hash().equals(applied.hash())) {
        return new SyncEvent.SnapshotApplied(
            applied.time(),
            applied.hash(),
            applied.source(),
            applied.previousHash(),
            applied.delta(),
            snapshot.changes().entityCount());
      }
    }
    return event;
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
    withdrawn = false;
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

  /**
   * The license expired: the proxy must serve nothing. The output file gets the empty
   * configuration, and the on-change command runs with {@code CONFIGSYNC_SERVING=false}; once only,
   * until a configuration is written again.
   */
  private void withdraw() {
    if (withdrawn) {
      return;
    }
    withdrawn = true;
    OutputFile file = output;
    if (file != null) {
      try {
        file.write(JsonNodeFactory.instance.objectNode());
      } catch (Exception e) {
        log.error(
            "cannot withdraw the configuration from {} ({}): the proxy may go on serving a"
                + " configuration whose license has expired",
            file.path(),
            e.toString());
        lines.print(
            new AgentEvent.OutputFailed(clock.instant(), EMPTY_HASH, file.path(), describe(e)));
        withdrawn = false; // tried again at the next expired configuration
        return;
      }
      lines.print(
          new AgentEvent.OutputWithdrawn(
              clock.instant(), EMPTY_HASH, file.path(), "license_expired"));
    }
    OnChangeRunner runner = onChange;
    if (runner != null) {
      runner.submit(EMPTY_HASH, false);
    }
  }

  private static String describe(Exception e) {
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }
}

package dev.configsync;

import dev.configsync.internal.LicenseVerifier;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running configuration's license: its state, and the timers that notice when it starts to
 * expire and when it has expired. Confined to the sync loop, like the loop's own state: every
 * method runs on it, and so do its timers.
 */
final class LicenseWatch {
  private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

  /** The longest a license timer sleeps, so that a wall-clock jump is noticed within it. */
  private static final Duration LICENSE_RECHECK = Duration.ofHours(1);

  private final SyncLoop loop;
  private final SyncSettings.Licensing s;

  private LicenseState state = LicenseState.NONE;
  private @Nullable License license;
  private dev.configsync.spi.Scheduler.@Nullable Cancellable timer;
  private @Nullable Instant warnedFor;

  LicenseWatch(SyncLoop loop, SyncSettings.Licensing settings) {
    this.loop = loop;
    this.s = settings;
  }

  LicenseState state() {
    return state;
  }

  @Nullable Instant expiresAt() {
    return license == null ? null : license.expiresAt();
  }

  /** Stops the timer (the client is closing). */
  void cancel() {
    if (timer != null) {
      timer.cancel();
    }
  }

  /**
   * Takes {@code next} as the running license at {@code now}; returns the events the change calls
   * for, stamped {@code now}.
   */
  List<SyncEvent> update(@Nullable License next, Instant now) {
    if (s.verifier() == null) {
      return List.of();
    }
    license = next;
    LicenseState before = state;
    state = LicenseVerifier.stateAt(next, now, s.warning());
    scheduleCheck(now);
    List<SyncEvent> events = new ArrayList<>();
    if (next == null) {
      return events;
    }
    Instant expiresAt = next.expiresAt();
    if (state == LicenseState.EXPIRED) {
      if (before != LicenseState.EXPIRED) {
        log.error(
            "configsync node {}: the license expired at {}; the node STOPS SERVING until a"
                + " configuration with a renewed license arrives",
            loop.nodeId(),
            expiresAt);
        events.add(new SyncEvent.LicenseExpired(now, expiresAt));
      }
      return events;
    }
    if (before == LicenseState.EXPIRED) {
      log.info(
          "configsync node {}: license renewed until {}; serving again", loop.nodeId(), expiresAt);
      events.add(new SyncEvent.LicenseRenewed(now, expiresAt));
    }
    if (state == LicenseState.EXPIRING && !expiresAt.equals(warnedFor)) {
      warnedFor = expiresAt;
      log.warn(
          "configsync node {}: the license expires at {}; renew it before then or the node stops"
              + " serving",
          loop.nodeId(),
          expiresAt);
      events.add(new SyncEvent.LicenseExpiring(now, expiresAt));
    }
    return events;
  }

  private void scheduleCheck(Instant now) {
    if (timer != null) {
      timer.cancel();
      timer = null;
    }
    License running = license;
    if (running == null || state == LicenseState.EXPIRED || loop.isClosed()) {
      return;
    }
    Instant boundary =
        state == LicenseState.VALID ? running.expiresAt().minus(s.warning()) : running.expiresAt();
    Duration delay = Duration.between(now, boundary);
    if (delay.compareTo(LICENSE_RECHECK) > 0) {
      delay = LICENSE_RECHECK;
    }
    if (delay.isNegative() || delay.isZero()) {
      delay = Duration.ofMillis(1);
    }
    timer =
        loop.schedule(
            delay,
            () -> {
              if (loop.isClosed() || !running.equals(license)) {
                return;
              }
              List<SyncEvent> events = update(running, loop.now());
              loop.refreshStatus();
              events.forEach(loop::emit);
            });
  }
}

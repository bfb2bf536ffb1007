package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncState;
import java.time.Duration;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Ties a {@link ConfigSyncClient}'s life to the application context's: starts it when the context
 * starts, in a phase before the web server's, so that the cached configuration runs before the
 * first request is taken; closes it when the context stops, after the web server has stopped taking
 * requests (and after a graceful shutdown has let those under way finish).
 *
 * <p>Starting seeds the client from its cache on the calling thread, then waits at most {@code
 * configsync.startup-wait} for a first configuration when none was found. A client that was already
 * started (a user's own bean, started by its owner) is left as it is. Stopping closes the client
 * for good: a context that is started again does not restart it.
 *
 * <p>Thread-safe.
 */
public final class ConfigSyncLifecycle implements SmartLifecycle {
  /**
   * The phase: before the web server's start-stop phase ({@code SmartLifecycle.DEFAULT_PHASE -
   * 2048}) and its graceful shutdown ({@code DEFAULT_PHASE - 1024}): started earlier, stopped
   * later.
   */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

  private static final Logger log = LoggerFactory.getLogger(ConfigSyncLifecycle.class);

  private final ConfigSyncClient client;
  private final Duration startupWait;
  private volatile boolean running;

  /**
   * A lifecycle for {@code client}.
   *
   * @param startupWait how long {@link #start()} waits for a first configuration when it found
   *     none; zero for not at all
   */
  public ConfigSyncLifecycle(ConfigSyncClient client, Duration startupWait) {
    this.client = Objects.requireNonNull(client, "client");
    this.startupWait = Objects.requireNonNull(startupWait, "startupWait");
  }

  @Override
  public synchronized void start() {
    if (running) {
      return;
    }
    SyncState state = client.status().state();
    if (state == SyncState.NEW) {
      client.start();
    } else if (state == SyncState.CLOSED) {
      log.warn("configsync: the client was closed; a context restart does not reopen it");
      return;
    }
    running = true;
    if (client.current().isEmpty() && !startupWait.isZero()) {
      try {
        if (client.awaitFirstSnapshot(startupWait).isEmpty()) {
          log.warn(
              "configsync: no configuration within configsync.startup-wait ({}); starting without"
                  + " one, the client keeps trying",
              startupWait);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public synchronized void stop() {
    running = false;
    client.close();
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}

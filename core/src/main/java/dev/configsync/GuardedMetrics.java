package dev.configsync;

import dev.configsync.spi.SyncMetrics;
import java.time.Duration;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Calls a user's {@link SyncMetrics}, logging and ignoring what it throws. */
final class GuardedMetrics implements SyncMetrics {
  private static final Logger log = LoggerFactory.getLogger(GuardedMetrics.class);

  private final SyncMetrics delegate;

  GuardedMetrics(SyncMetrics delegate) {
    this.delegate = delegate;
  }

  private void guard(String what, Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      log.warn("configsync metrics failed in {}; syncing goes on", what, e);
    }
  }

  @Override
  public void bind(Supplier<SyncStatus> status) {
    guard("bind", () -> delegate.bind(status));
  }

  @Override
  public void payloadReceived(long bytes) {
    guard("payloadReceived", () -> delegate.payloadReceived(bytes));
  }

  @Override
  public void applied(SnapshotSource source, Duration took) {
    guard("applied", () -> delegate.applied(source, took));
  }

  @Override
  public void rejected(ConfigRejectedException.Reason reason) {
    guard("rejected", () -> delegate.rejected(reason));
  }

  @Override
  public void cacheWrite(Duration took, boolean ok) {
    guard("cacheWrite", () -> delegate.cacheWrite(took, ok));
  }

  @Override
  public void reconnect() {
    guard("reconnect", delegate::reconnect);
  }

  @Override
  public void usageBatchSent(long bytes) {
    guard("usageBatchSent", () -> delegate.usageBatchSent(bytes));
  }
}

package dev.configsync.cp;

import io.netty.channel.Channel;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;

/**
 * The dead-peer timer of one data plane connection ({@code /v1/outlet} and {@code /v1/ingest}): a
 * connection on which the node is silent for the limit (1.5 x heartbeat by default) is reported to
 * the session, which closes it. One timer per connection, re-armed for the time left rather than at
 * every frame. Everything runs on the channel's event loop.
 */
final class Liveness {
  private final Channel channel;
  private final long limitNanos;
  private final BooleanSupplier ended;
  private final BooleanSupplier owedAnswer;
  private final LongConsumer onSilence;
  private long lastHeardNanos;
  private @Nullable ScheduledFuture<?> timer;

  /**
   * @param limit how long the node may be silent
   * @param ended whether the session is closing: the timer then stops
   * @param owedAnswer whether the node waits for the control plane (silence then is not the node's)
   * @param onSilence called with the silence, in nanoseconds, once it reaches the limit
   */
  Liveness(
      Channel channel,
      Duration limit,
      BooleanSupplier ended,
      BooleanSupplier owedAnswer,
      LongConsumer onSilence) {
    this.channel = channel;
    this.limitNanos = limit.toNanos();
    this.ended = ended;
    this.owedAnswer = owedAnswer;
    this.onSilence = onSilence;
  }

  /** Starts counting from now. */
  void start() {
    heard();
    schedule(limitNanos);
  }

  /** The node was heard from now. */
  void heard() {
    lastHeardNanos = System.nanoTime();
  }

  /** Stops the timer (the connection is gone). */
  void stop() {
    ScheduledFuture<?> t = timer;
    if (t != null) {
      t.cancel(false);
    }
  }

  private void schedule(long delayNanos) {
    timer =
        channel.eventLoop().schedule(this::check, Math.max(delayNanos, 1), TimeUnit.NANOSECONDS);
  }

  private void check() {
    if (ended.getAsBoolean() || !channel.isActive()) {
      return;
    }
    long silent = owedAnswer.getAsBoolean() ? 0 : System.nanoTime() - lastHeardNanos;
    if (silent >= limitNanos) {
      onSilence.accept(silent);
    } else {
      schedule(limitNanos - silent);
    }
  }
}

package dev.configsync.cp;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The whole {@code reconfigure} frame of a published configuration. A whole publish knows it at
 * once. An entity edit published ahead of it ({@link ConfigStore#saveChange}) has it made on first
 * {@link #request}, once, on the executor given: by a node that needs the whole frame, by the admin
 * API, or by the publisher when the store's journal is due to be compacted. An edit nobody asks the
 * whole frame of before the next edit never has it made, so a stream of edits costs the control
 * plane what the edits change, not one compression of the whole configuration each.
 *
 * <p>Thread-safe. The frame's bytes are never modified once made.
 */
final class WholeFrame {
  private final CompletableFuture<byte[]> future;
  // The task that makes the frame, until it is started; then null.
  private final AtomicReference<@Nullable Runnable> start;

  private WholeFrame(CompletableFuture<byte[]> future, @Nullable Runnable start) {
    this.future = future;
    this.start = new AtomicReference<>(start);
  }

  /** A frame already made. */
  static WholeFrame of(byte[] frame) {
    return new WholeFrame(CompletableFuture.completedFuture(frame), null);
  }

  /**
   * A frame that {@code make} makes on {@code executor} when first requested; {@code thenMade} runs
   * next on the same thread, once whoever waits for the frame has it. When the executor refuses the
   * task (it is shut down), or {@code make} throws, the future completes exceptionally.
   */
  static WholeFrame lazy(Executor executor, Supplier<byte[]> make, Consumer<byte[]> thenMade) {
    CompletableFuture<byte[]> future = new CompletableFuture<>();
    Runnable task =
        () -> {
          byte[] frame;
          try {
            frame = make.get();
          } catch (RuntimeException | Error e) {
            future.completeExceptionally(e);
            return;
          }
          future.complete(frame);
          thenMade.accept(frame);
        };
    return new WholeFrame(
        future,
        () -> {
          try {
            executor.execute(task);
          } catch (RejectedExecutionException e) {
            future.completeExceptionally(e);
          }
        });
  }

  /** The frame, started now if nobody asked for it before. Never blocks. */
  CompletableFuture<byte[]> request() {
    Runnable first = start.getAndSet(null);
    if (first != null) {
      first.run();
    }
    return future;
  }

  /** The frame if it is made, else null; asks for nothing. */
  byte @Nullable [] ifMade() {
    return future.isDone() && !future.isCompletedExceptionally() ? future.join() : null;
  }
}

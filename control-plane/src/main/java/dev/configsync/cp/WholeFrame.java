package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.HybridProtocol;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
  // The facade's logger: operators filter on it, and what it logs is the server's doing.
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

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

  /**
   * The whole frame of a configuration whose JSON {@code encoding} compresses, with its hashes and
   * timestamp: the caller's {@link IllegalStateException} when it cannot be made.
   */
  static byte[] finish(
      CompletableFuture<HybridProtocol.ReconfigureFrame> encoding,
      ConfigHashes hashes,
      Instant now) {
    try {
      return encoding.join().finish(hashes, now.toEpochMilli() / 1000.0, null);
    } catch (CompletionException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IllegalStateException("the configuration could not be encoded: " + cause, cause);
    } catch (RuntimeException e) {
      throw new IllegalStateException("the configuration could not be encoded: " + e, e);
    }
  }

  /**
   * Makes the whole frame of an entity edit published ahead of it (the encoder thread), logging a
   * failure and a frame over {@code maxPayloadBytes} (nodes took the change already; those that
   * need the whole frame will refuse it).
   */
  static byte[] make(JsonNode config, ConfigHashes hashes, Instant at, long maxPayloadBytes) {
    byte[] frame;
    try {
      frame =
          finish(
              CompletableFuture.completedFuture(
                  HybridProtocol.ReconfigureFrame.begin(ConfigJson.write(config))),
              hashes,
              at);
    } catch (RuntimeException e) {
      log.error(
          "The whole frame of configuration {} (an entity edit in force, its change saved) could"
              + " not be made ({}); nodes that need it are disconnected until a later publish",
          hashes.config(),
          e.toString());
      throw e;
    }
    if (frame.length > maxPayloadBytes) {
      log.error(
          "Configuration {} (an entity edit) compressed to {} bytes, over maxPayloadBytes {}:"
              + " nodes that need the whole frame will refuse it; publish a smaller configuration",
          hashes.config(),
          frame.length,
          maxPayloadBytes);
    }
    return frame;
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

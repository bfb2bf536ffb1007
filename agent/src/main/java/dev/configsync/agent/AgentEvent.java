package dev.configsync.agent;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * Events of the agent itself, printed on stdout next to the client's {@link
 * dev.configsync.SyncEvent}s and formatted by the same rules ({@link EventJson}).
 */
sealed interface AgentEvent {

  /** When it happened. */
  Instant time();

  /** The configuration with this hash is now in the {@code --output} file. */
  record OutputWritten(Instant time, String hash, Path path) implements AgentEvent {}

  /**
   * The license expired, so the {@code --output} file was replaced by the empty configuration
   * ({@code hash} is its hash): the proxy must serve nothing until a renewed license arrives.
   */
  record OutputWithdrawn(Instant time, String hash, Path path, String reason)
      implements AgentEvent {}

  /** The configuration with this hash could not be written to the {@code --output} file. */
  record OutputFailed(Instant time, String hash, Path path, String reason) implements AgentEvent {}

  /** The {@code --on-change} command ran for this hash and exited with {@code exitCode}. */
  record OnChangeFinished(Instant time, String hash, int exitCode, Duration duration)
      implements AgentEvent {}

  /** The {@code --on-change} command could not be started, or was killed after its time limit. */
  record OnChangeFailed(Instant time, String hash, String reason, Duration duration)
      implements AgentEvent {}

  /**
   * A configuration handed over by {@code configsync-agent load} (request {@code id}) was loaded
   * ({@code ok}, and {@code hash} runs now) or refused ({@code error} says why; {@code hash} is the
   * one the file claimed, when it got that far).
   */
  record ManualLoadFinished(
      Instant time,
      @Nullable String hash,
      boolean ok,
      @Nullable String error,
      UUID id,
      boolean force)
      implements AgentEvent {}
}

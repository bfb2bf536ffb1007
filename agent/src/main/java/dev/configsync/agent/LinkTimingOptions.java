package dev.configsync.agent;

import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.Durations;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The link timing flags of {@code configsync-agent run}: {@code --heartbeat}, {@code
 * --reconnect-min} and {@code --reconnect-max}. A picocli mixin; read on the command's thread only.
 */
final class LinkTimingOptions {
  @Option(
      names = "--heartbeat",
      paramLabel = "DURATION",
      defaultValue = "30s",
      converter = Durations.Converter.class,
      description =
          "Ping interval (default ${DEFAULT-VALUE}); the link is declared dead after 1.5x"
              + " without an answer.")
  Duration heartbeat = Duration.ofSeconds(30);

  @Option(
      names = "--reconnect-min",
      paramLabel = "DURATION",
      defaultValue = "5s",
      converter = Durations.Converter.class,
      description = "Shortest delay before reconnecting (default ${DEFAULT-VALUE}).")
  Duration reconnectMin = Duration.ofSeconds(5);

  @Option(
      names = "--reconnect-max",
      paramLabel = "DURATION",
      defaultValue = "10s",
      converter = Durations.Converter.class,
      description = "Longest delay before reconnecting (default ${DEFAULT-VALUE}).")
  Duration reconnectMax = Duration.ofSeconds(10);

  /** Checks that the durations are usable and go together. */
  void check() throws BadArgumentException {
    if (heartbeat.isZero() || heartbeat.isNegative()) {
      throw new BadArgumentException(
          "--heartbeat must be positive, got: " + Durations.format(heartbeat));
    }
    if (reconnectMin.isNegative()) {
      throw new BadArgumentException("--reconnect-min must not be negative, got: " + reconnectMin);
    }
    if (reconnectMax.isZero() || reconnectMax.isNegative()) {
      throw new BadArgumentException(
          "--reconnect-max must be positive, got: " + Durations.format(reconnectMax));
    }
    if (reconnectMax.compareTo(reconnectMin) < 0) {
      throw new BadArgumentException(
          "--reconnect-max ("
              + Durations.format(reconnectMax)
              + ") must not be below --reconnect-min ("
              + Durations.format(reconnectMin)
              + ")");
    }
  }
}

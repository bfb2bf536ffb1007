package dev.configsync.cp.cli;

import static dev.configsync.cp.cli.FlagSettings.setting;
import static dev.configsync.cp.cli.FlagSettings.settingIfGiven;

import dev.configsync.ConfigSyncClient;
import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.ByteSize;
import dev.configsync.cli.Durations;
import dev.configsync.cp.ControlPlaneServer;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The limits of {@code configsync-cp}: payload size, registry size, what one node may declare, and
 * how much the admin API takes. A flag left out keeps the server builder's default. A picocli
 * mixin; read on the command's thread only.
 */
final class LimitOptions {
  @Option(
      names = "--max-payload",
      paramLabel = "BYTES",
      converter = ByteSize.Converter.class,
      description =
          "The largest compressed configuration published (default 16MiB, what nodes accept by"
              + " default); a whole number, optionally with KiB, MiB or GiB.")
  @Nullable Long maxPayload;

  @Option(
      names = "--max-data-planes",
      paramLabel = "N",
      description = "The most data planes the registry lists, connected or not (default 5000).")
  @Nullable Integer maxDataPlanes;

  @Option(
      names = "--max-registry-bytes",
      paramLabel = "BYTES",
      converter = ByteSize.Converter.class,
      description = "The registry's memory budget (default 64MiB).")
  @Nullable Long maxRegistryBytes;

  @Option(
      names = "--max-node-ids-per-certificate",
      paramLabel = "N",
      description = "The most node ids one client certificate may hold (default 0: no cap).")
  @Nullable Integer maxNodeIdsPerCertificate;

  @Option(
      names = "--max-node-labels",
      paramLabel = "N",
      description = "The most labels a node may declare (default 64).")
  @Nullable Integer maxNodeLabels;

  @Option(
      names = "--max-node-plugins",
      paramLabel = "N",
      description = "The most plugins a node may declare (default 256).")
  @Nullable Integer maxNodePlugins;

  @Option(
      names = "--max-admin-connections",
      paramLabel = "N",
      description = "The most admin API connections open at once; one more gets 503 (default 64).")
  @Nullable Integer maxAdminConnections;

  @Option(
      names = "--admin-head-timeout",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long an admin client may take to send a request head; 408 after (default 10s).")
  @Nullable Duration adminHeadTimeout;

  @Option(
      names = "--admin-body-timeout",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long an admin client may take to send a request body; 408 after (default 60s).")
  @Nullable Duration adminBodyTimeout;

  /** The largest compressed configuration published: {@code --max-payload}, or the default. */
  long maxPayloadBytes() {
    Long given = maxPayload;
    return given != null ? given : ConfigSyncClient.DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** Gives the limits to {@code builder}; a refusal names the flag. */
  void applyTo(ControlPlaneServer.Builder builder) throws BadArgumentException {
    long payload = maxPayloadBytes();
    setting("--max-payload", () -> builder.maxPayloadBytes(payload));
    settingIfGiven("--max-data-planes", maxDataPlanes, builder::maxDataPlanes);
    settingIfGiven("--max-registry-bytes", maxRegistryBytes, builder::maxRegistryBytes);
    settingIfGiven(
        "--max-node-ids-per-certificate",
        maxNodeIdsPerCertificate,
        builder::maxNodeIdsPerCertificate);
    settingIfGiven("--max-node-labels", maxNodeLabels, builder::maxNodeLabels);
    settingIfGiven("--max-node-plugins", maxNodePlugins, builder::maxNodePlugins);
    settingIfGiven("--max-admin-connections", maxAdminConnections, builder::maxAdminConnections);
    settingIfGiven("--admin-head-timeout", adminHeadTimeout, builder::adminRequestHeadTimeout);
    settingIfGiven("--admin-body-timeout", adminBodyTimeout, builder::adminRequestBodyTimeout);
  }
}

package dev.configsync;

import org.jspecify.annotations.Nullable;

/**
 * The usage telemetry part of {@link SyncStatus}: what waits to be sent, and what was lost or
 * refused. Immutable; all counts are since the client started.
 *
 * @param link the state of the telemetry connection
 * @param bufferedBatches batches waiting to be sent or acknowledged (the backlog)
 * @param bufferedRecords requests counted in those batches
 * @param pendingKeys (service, route, consumer) keys counted in memory, not yet in a batch
 * @param sentBatches batches written to a connection (a batch re-sent after a reconnect counts
 *     again)
 * @param acknowledgedBatches batches the control plane acknowledged
 * @param lostBatches batches dropped because the buffer was full (oldest first)
 * @param lostRecords requests counted in the dropped batches: usage that will never arrive
 * @param refusedRecords {@link UsageRecorder#record} calls refused: a name missing or too long, a
 *     status outside 100 to 599, or a new key over {@code usageMaxKeys}
 * @param lastError why the telemetry connection last failed, or null
 */
public record UsageStatus(
    UsageLink link,
    int bufferedBatches,
    long bufferedRecords,
    int pendingKeys,
    long sentBatches,
    long acknowledgedBatches,
    long lostBatches,
    long lostRecords,
    long refusedRecords,
    @Nullable String lastError) {

  /** The status of a client that reports no usage. */
  public static final UsageStatus OFF =
      new UsageStatus(UsageLink.OFF, 0, 0, 0, 0, 0, 0, 0, 0, null);
}

package dev.configsync.cp;

import dev.configsync.UsageCount;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One batch of usage counts a data plane sent on {@code /v1/ingest}, as handed to {@link
 * ControlPlaneServer.Builder#onUsage}. Immutable. A batch is identified by {@code (nodeId, stream,
 * seq)}: a forwarder that must not count twice across control plane restarts can dedupe on it.
 *
 * @param nodeId the sending node's {@code node_id}
 * @param stream a random id the node draws each time it starts; {@code seq} counts within it
 * @param seq the batch's number within {@code stream}, from 1
 * @param windowStart the start of the period the counts cover (by the node's clock)
 * @param windowEnd the end of that period
 * @param counts the requests counted, per (service, route, consumer) and status class
 */
public record UsageBatch(
    String nodeId,
    String stream,
    long seq,
    Instant windowStart,
    Instant windowEnd,
    List<UsageCount> counts) {

  /** Copies the list so the record stays immutable. */
  public UsageBatch {
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(stream, "stream");
    counts = List.copyOf(counts);
  }

  /** Requests counted in this batch. */
  public long total() {
    long n = 0;
    for (UsageCount c : counts) {
      n += c.total();
    }
    return n;
  }
}

package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.delta.ChangeSet;
import dev.configsync.internal.delta.ConfigDiff;
import dev.configsync.internal.delta.DeltaFrame;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last published configurations (hash to frozen tree), so that a node that runs one of them can
 * be sent the change to the latest ({@code reconfigure_delta}) instead of the whole configuration.
 * Bounded by a count and by an estimate of bytes; the latest is always kept.
 *
 * <p>The delta frames to the latest are made once per base hash, on the given executor, and kept
 * until the next publish: a thousand nodes on one base cost one diff and one gzip. A delta whose
 * frame is larger than {@code maxDeltaFraction} of the whole frame is not worth it: the answer is
 * then "send the whole frame" (null), kept as well. A publish that knows its change set (an entity
 * edit) brings the frame from its base, made by {@link #changeFrame} from that change set (no
 * diff).
 *
 * <p>Threading: {@link #add} runs under the publisher's lock; {@link #deltaFrame} on any event
 * loop. The versions are guarded by this object's lock (held only to look up or add, never while
 * diffing); the frames of the latest are in a concurrent map.
 */
final class ConfigHistory {
  private static final Logger log = LoggerFactory.getLogger(ConfigHistory.class);

  /**
   * A tree in memory takes several times its JSON, and configurations compress 5 to 10 times: a
   * version is estimated at this many times its compressed frame. Versions made by entity edits
   * share every unchanged node with the one before and cost far less: the estimate errs on the safe
   * side.
   */
  static final int BYTES_PER_FRAME_BYTE = 8;

  private final int maxVersions;
  private final long maxBytes;
  private final double maxDeltaFraction;
  private final ExecutorService executor;

  // Oldest first. Guarded by this.
  private final LinkedHashMap<String, Version> versions = new LinkedHashMap<>();
  private long bytes; // guarded by this
  private volatile @Nullable Latest latest;

  private record Version(JsonNode tree, long estimatedBytes) {}

  /** The latest version and the delta frames to it made so far, by base hash. */
  private record Latest(
      Published published, Map<String, CompletableFuture<byte @Nullable []>> frames) {}

  /**
   * @param maxVersions how many configurations to keep; 0 turns deltas off
   * @param maxBytes the estimated bytes they may take
   * @param maxDeltaFraction the largest delta frame sent, as a fraction of the whole frame
   */
  ConfigHistory(int maxVersions, long maxBytes, double maxDeltaFraction) {
    this.maxVersions = maxVersions;
    this.maxBytes = maxBytes;
    this.maxDeltaFraction = maxDeltaFraction;
    // Diffs and their compression, off the event loops; the thread ends when idle.
    this.executor = ConfigPublisher.idleThread("configsync-cp-delta");
  }

  /** Stops the delta thread (a delta being made finishes; nobody waits for it). */
  void close() {
    executor.shutdown();
  }

  /**
   * A change known when it was published (an entity edit): the {@code reconfigure_delta} frame from
   * {@code baseHash}, made by {@link #changeFrame} from the edit's change set (no diff), or null
   * when it is not worth sending (the whole frame goes).
   */
  // The frame is made once and never modified: shared on purpose, like Published's.
  @SuppressWarnings("ArrayRecordComponent")
  record Change(String baseHash, byte @Nullable [] frame) {}

  /** Adds the newest published configuration (publish order: the caller's lock). */
  void add(Published published) {
    add(published, null);
  }

  /**
   * Adds the newest published configuration, and with {@code change}, starts making the delta frame
   * from its base at once, from the change set (publish order: the caller's lock).
   */
  void add(Published published, @Nullable Change change) {
    if (maxVersions <= 0) {
      return;
    }
    long estimate = (long) published.frameSize() * BYTES_PER_FRAME_BYTE;
    synchronized (this) {
      Version old = versions.remove(published.hash());
      if (old != null) {
        bytes -= old.estimatedBytes();
      }
      versions.put(published.hash(), new Version(published.config(), estimate));
      bytes += estimate;
      Iterator<Map.Entry<String, Version>> oldest = versions.entrySet().iterator();
      while (versions.size() > 1 && (versions.size() > maxVersions || bytes > maxBytes)) {
        bytes -= oldest.next().getValue().estimatedBytes();
        oldest.remove();
      }
    }
    Latest next = new Latest(published, new ConcurrentHashMap<>());
    latest = next;
    if (change != null && !change.baseHash().equals(published.hash())) {
      next.frames().put(change.baseHash(), CompletableFuture.completedFuture(change.frame()));
    }
  }

  /** How many configurations are kept now. */
  synchronized int size() {
    return versions.size();
  }

  /**
   * The {@code reconfigure_delta} frame that takes a node from {@code baseHash} to {@code target},
   * when {@code target} is the latest and {@code baseHash} is kept; null when there is none (the
   * whole frame is to be sent). The future completes with null too when the delta would be larger
   * than the fraction allows, or could not be made.
   */
  @Nullable CompletableFuture<byte @Nullable []> deltaFrame(Published target, String baseHash) {
    Latest l = latest;
    if (l == null
        || l.published().sequence() != target.sequence()
        || baseHash.equals(target.hash())) {
      return null;
    }
    CompletableFuture<byte @Nullable []> made = l.frames().get(baseHash);
    if (made != null) {
      return made; // made for another node on the same base, or from the publish's change set
    }
    JsonNode base;
    synchronized (this) {
      Version v = versions.get(baseHash);
      if (v == null) {
        return null;
      }
      base = v.tree();
    }
    CompletableFuture<byte @Nullable []> mine = new CompletableFuture<>();
    CompletableFuture<byte @Nullable []> frame = l.frames().putIfAbsent(baseHash, mine);
    if (frame != null) {
      return frame; // made (or being made) for another node on the same base
    }
    try {
      executor.execute(() -> mine.complete(diffAndEncode(target, base, baseHash)));
    } catch (RejectedExecutionException closing) {
      mine.complete(null);
    }
    return mine;
  }

  /** The most entities and members a change to {@code target} may touch: the fraction of them. */
  private int changeBudget(JsonNode target) {
    long count = 0;
    for (JsonNode member : target) {
      count += member.isArray() ? Math.max(1, member.size()) : 1;
    }
    return (int) Math.min(Integer.MAX_VALUE, (long) Math.ceil(maxDeltaFraction * count));
  }

  private byte @Nullable [] diffAndEncode(Published target, JsonNode base, String baseHash) {
    try {
      // A change that touches more than the fraction of the target's entities and members would not
      // be sent anyway: give up as soon as the diff finds that many, without making or encoding it.
      ChangeSet changes =
          ConfigDiff.diffWithin(base, target.config(), changeBudget(target.config()));
      if (changes == null) {
        log.debug(
            "Delta {} -> {} changes more than {} of the entities: the whole frame is sent",
            baseHash,
            target.hash(),
            maxDeltaFraction);
        return null;
      }
      return encode(target, baseHash, changes);
    } catch (RuntimeException e) {
      log.warn(
          "The change from configuration {} to {} could not be made ({}); the whole configuration"
              + " is sent",
          baseHash,
          target.hash(),
          e.toString());
      return null;
    }
  }

  private byte @Nullable [] encode(Published target, String baseHash, ChangeSet changes) {
    return changeFrame(
        baseHash,
        target.hashes(),
        target.sequence(),
        target.publishedAt(),
        target.frameSize(),
        changes);
  }

  /**
   * The {@code reconfigure_delta} frame of {@code changes} from {@code baseHash} to the
   * configuration {@code target}, or null when it is larger than the fraction of the whole frame
   * ({@code wholeSize}, exact or estimated) allows or could not be made. Any thread.
   */
  byte @Nullable [] changeFrame(
      String baseHash,
      ConfigHashes target,
      long sequence,
      Instant publishedAt,
      int wholeSize,
      ChangeSet changes) {
    try {
      byte[] frame =
          new DeltaFrame(baseHash, target, sequence, publishedAt.toEpochMilli() / 1000.0, changes)
              .encode();
      if (frame.length > maxDeltaFraction * wholeSize) {
        log.debug(
            "Delta {} -> {} is {} bytes, the whole frame {}: the whole frame is sent",
            baseHash,
            target.config(),
            frame.length,
            wholeSize);
        return null;
      }
      return frame;
    } catch (RuntimeException e) {
      log.warn(
          "The change from configuration {} to {} could not be made ({}); the whole configuration"
              + " is sent",
          baseHash,
          target.config(),
          e.toString());
      return null;
    }
  }
}

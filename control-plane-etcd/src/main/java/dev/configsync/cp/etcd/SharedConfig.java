package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdClient.bytes;
import static dev.configsync.cp.etcd.EtcdClient.text;
import static dev.configsync.cp.etcd.EtcdSession.put;
import static dev.configsync.cp.etcd.EtcdSession.range;
import static dev.configsync.cp.etcd.EtcdSession.readJson;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.configsync.cp.ConfigConflictException;
import dev.configsync.cp.ConfigOutcomeUnknownException;
import dev.configsync.cp.ConfigStore;
import dev.configsync.cp.ConfigVersion;
import dev.configsync.cp.etcd.EtcdClient.Call;
import dev.configsync.cp.etcd.EtcdClient.OutcomeUnknownException;
import dev.configsync.cp.etcd.internal.rpc.Compare;
import dev.configsync.cp.etcd.internal.rpc.KeyValue;
import dev.configsync.cp.etcd.internal.rpc.RangeResponse;
import dev.configsync.cp.etcd.internal.rpc.RequestOp;
import dev.configsync.cp.etcd.internal.rpc.TxnRequest;
import dev.configsync.cp.etcd.internal.rpc.TxnResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The configuration the replicas share, as kept in etcd, and the configurations other replicas
 * publish, from the session's watch. The {@link ConfigStore} half of {@link EtcdConfigStore}.
 *
 * <p><b>Layout.</b> {@code <prefix>config} holds the gzip frame itself when it is at most {@code
 * chunkBytes} (512 KiB), else a manifest (JSON: {@code hash}, {@code sha256}, {@code bytes}, {@code
 * chunks}) of the chunks that hold it, {@code <prefix>~blobs/<sha-256 of the frame>/<n>}, each at
 * most {@code chunkBytes}. {@code <prefix>config-hash} holds the configuration hash; its
 * mod_revision is what a publish compares. {@code <prefix>history/<revision it replaces>} records
 * each publish, {@code <prefix>changes/<revision it replaces>} the change it made (a gzip {@code
 * reconfigure_delta} frame) when its writer gave one that fits. {@link ChunkedFrames} writes and
 * reads the pointer and the chunks and collects the chunks; {@link PublishLog} reads the history
 * and trims it and the change log; this class owns the commit and what the replica knows.
 *
 * <p><b>A publish</b> first writes the chunks of a large frame (one request each: etcd's request
 * limit bounds a chunk, not the configuration; the keys are content-addressed, so writing one again
 * is harmless), then commits in ONE compare-and-set transaction the pointer, the hash, the history
 * entry and the change. Until that commits nothing refers to the chunks: a writer that dies or is
 * refused between the two leaves the previous configuration in force and orphan chunks, which the
 * next publish (of any replica) deletes. After each of its publishes a replica deletes every chunk
 * that is not the new configuration's and was written before its commit ({@link #flush}): a chunk
 * written after it belongs to a publish that has not committed yet (and that can only commit on top
 * of this one), and each deletion compares the chunk's mod_revision, so a chunk written again
 * meanwhile stays.
 *
 * <p><b>Reading</b> (start, watch, reload): the pointer, then its chunks at the pointer's own
 * revision (so never a mix of two configurations), checked against the manifest's size and SHA-256.
 * When etcd compacted that revision away, the latest pointer and its chunks are read instead.
 *
 * <p><b>Threads.</b> What this replica knows of the stored configuration (its revision and hash) is
 * guarded by this object's lock and never held across a call to etcd. {@link #save} is called from
 * one publishing thread at a time (the control plane serializes publishes), {@link #load} once at
 * start, {@link #history} from any thread. The watch side ({@link #onKey}, {@link #endOfBatch})
 * runs on the session's watch thread, reads the chunks there and calls the control plane's listener
 * there, outside the lock; {@link #flush} (history and change-log trimming, chunk collection) runs
 * on the session's scheduler thread.
 */
final class SharedConfig implements EtcdSession.Part {
  private static final Logger log = LoggerFactory.getLogger(SharedConfig.class);
  static final String NO_HASH = "00000000000000000000000000000000";

  /**
   * The largest value a publish writes in one request (a chunk, a small frame, a change): a third
   * of etcd's default request limit (1.5 MiB), so that a commit with a small frame and a change
   * fits with room to spare.
   */
  static final int CHUNK_BYTES = 512 * 1024;

  private final EtcdSession session;
  private final EtcdSettings keys;
  private final int chunkBytes;
  private final ChunkedFrames frames;
  private final PublishLog publishLog;

  // What this replica knows of the stored configuration; guarded by "this".
  private long knownRevision;
  private String knownHash = NO_HASH;
  private long loadedRevision;
  // The chunks to collect after this replica's last publish; guarded by "this".
  private @Nullable Collect collect;
  // The hash this replica is committing now, if any; guarded by "this" (notified when done).
  private @Nullable String committing;

  private volatile ConfigStore.@Nullable Listener listener;
  private volatile boolean historyWritten; // the scheduler trims the history after a publish

  // The watch thread's state: the newest pointer and change of the batch being handed over.
  private @Nullable KeyValue pendingPointer;
  private @Nullable KeyValue pendingChange;

  /** Chunks written before {@code before}, of frames other than {@code keep}, are orphans. */
  private record Collect(long before, String keep) {}

  /** A configuration read from etcd: its frame, its hash and the revision of its pointer. */
  @SuppressWarnings("ArrayRecordComponent") // handed over as it is, never modified
  private record Stored(byte[] payload, String hash, long revision) {}

  SharedConfig(EtcdSession session, int chunkBytes) {
    this.session = session;
    this.keys = session.settings();
    this.chunkBytes = chunkBytes;
    this.frames = new ChunkedFrames(session, chunkBytes);
    this.publishLog = new PublishLog(session);
  }

  /** See {@link EtcdConfigStore#load()}. */
  Optional<byte[]> load() throws IOException {
    Stored stored = null;
    // A replica that starts on a busy machine may need more than one request timeout for its first
    // connections (TLS handshakes in a JVM that has compiled nothing yet): etcd counts as
    // unreachable at start only once it has not answered for unavailableAfter, as it does later.
    long started = System.nanoTime();
    long giveUpAt = started + keys.unavailableAfter().toNanos();
    for (int attempt = 1; ; attempt++) {
      try {
        stored = readLatest();
        break;
      } catch (EtcdClient.EtcdException
          | EtcdClient.TlsRefusedException
          | OutcomeUnknownException answered) {
        throw cannotRead(": " + answered.getMessage(), answered);
      } catch (IOException e) {
        long now = System.nanoTime();
        if (now >= giveUpAt) {
          throw cannotRead(
              " (no answer for "
                  + TimeUnit.NANOSECONDS.toMillis(now - started)
                  + " ms, "
                  + attempt
                  + (attempt == 1 ? " attempt" : " attempts")
                  + "): "
                  + e.getMessage(),
              e);
        }
        log.debug("etcd did not answer the first read (attempt {}): {}", attempt, e.toString());
        try {
          Thread.sleep(Math.min(200, TimeUnit.NANOSECONDS.toMillis(giveUpAt - now) + 1));
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted while reading etcd at start");
        }
      }
    }
    synchronized (this) {
      if (stored == null) {
        knownRevision = 0;
        knownHash = NO_HASH;
        loadedRevision = 0;
        return Optional.empty();
      }
      knownRevision = stored.revision();
      knownHash = stored.hash();
      loadedRevision = stored.revision();
      return Optional.of(stored.payload());
    }
  }

  /** The start-up read's failure: what was read from, then {@code why}. */
  private IOException cannotRead(String why, Exception cause) {
    return new IOException("cannot read the configuration from " + session.describe() + why, cause);
  }

  /** etcd's revision of the configuration {@link #load} returned, 0 when none. */
  synchronized long loadedRevision() {
    return loadedRevision;
  }

  /** The hash of the stored configuration as this replica knows it, or null when none. */
  synchronized @Nullable String knownHash() {
    return knownHash.equals(NO_HASH) ? null : knownHash;
  }

  /** See {@link EtcdConfigStore#save(byte[], String, String, byte[])}. */
  long save(
      byte[] payload, String hash, @Nullable String expectedPreviousHash, byte @Nullable [] delta)
      throws IOException {
    Optional<String> down = session.unavailable();
    if (down.isPresent()) {
      throw new IOException(
          down.get()
              + "; publishing is refused until etcd is back (the data planes keep the"
              + " configuration they have)");
    }
    long revision;
    String known;
    synchronized (this) {
      revision = knownRevision;
      known = knownHash;
    }
    String expected = expectedPreviousHash == null ? NO_HASH : expectedPreviousHash;
    if (!expected.equals(known)) {
      throw new ConfigConflictException(
          known, "etcd holds " + known + " (revision " + revision + "), not " + expected);
    }
    // A large frame goes into chunks first; the commit below only points at them.
    ChunkedFrames.Pointer pointer = frames.write(payload, hash);
    byte[] change = delta != null && delta.length <= chunkBytes ? delta : null;
    if (delta != null && change == null) {
      log.debug(
          "The change to configuration {} is {} bytes, above {}: not kept in the change log",
          hash,
          delta.length,
          chunkBytes);
    }
    // While this replica commits, its watch waits before reading the same configuration back (a
    // large one costs a read of every chunk and a decode by the control plane, only to be ignored).
    synchronized (this) {
      committing = hash;
    }
    try {
      return send(pointer.value(), hash, revision, change, pointer.blob());
    } finally {
      synchronized (this) {
        committing = null;
        notifyAll();
      }
    }
  }

  /** Sends the commit until etcd says whether it replaced {@code revision} (see {@link #save}). */
  private long send(
      ByteString pointer, String hash, long revision, byte @Nullable [] change, String blob)
      throws IOException {
    String replica = keys.replica();
    String entryKey = keys.historyKey(revision);
    TxnRequest request = commit(pointer, hash, revision, change);
    // The compare makes a repeated transaction harmless: at most one write replaces a revision,
    // and the history entry under that revision says which one did.
    for (int attempt = 1; ; attempt++) {
      TxnResponse answer;
      try {
        answer = session.txn(request, Call.ONCE);
      } catch (EtcdClient.EtcdException e) {
        if (e.getMessage() != null && e.getMessage().contains("too large")) {
          if (change != null) {
            // Refused, so not applied: the same commit without its change log entry.
            log.info(
                "etcd refused a publish with its change ({} bytes) as too large; publishing"
                    + " without it (other replicas read the whole configuration)",
                change.length);
            change = null;
            request = commit(pointer, hash, revision, null);
            attempt--;
            continue;
          }
          throw new IOException(
              "etcd refused a publish as larger than it accepts in one request (its"
                  + " --max-request-bytes, 1.5 MiB by default; this store writes at most "
                  + chunkBytes
                  + " bytes of configuration per request, so it is set below that on some"
                  + " member): "
                  + e.getMessage(),
              e);
        }
        throw e;
      } catch (OutcomeUnknownException e) {
        // A member took the write and gave no answer (a leader election, a member dying, quorum
        // lost): ask which write replaced the revision this one expected.
        RangeResponse written;
        try {
          written = session.range(range(entryKey).build());
        } catch (IOException readBack) {
          throw new ConfigOutcomeUnknownException(
              hash,
              e.getMessage()
                  + "; etcd could not be asked afterwards ("
                  + readBack.getMessage()
                  + ")",
              e);
        }
        if (written.getKvsCount() > 0) {
          long now = written.getKvs(0).getModRevision();
          String by = readJson(written.getKvs(0)).path("hash").asText("");
          if (by.equals(hash)) {
            learn(now, hash);
            published(now, blob);
            return now;
          }
          throw new ConfigConflictException(
              by, "etcd holds " + by + " (revision " + now + "), written by another replica");
        }
        if (attempt < 3) {
          // Not applied yet; sending it again is safe (at most one write replaces the revision).
          log.info(
              "etcd did not answer a publish ({}); it is not applied so far, trying again",
              e.getMessage());
          continue;
        }
        throw new ConfigOutcomeUnknownException(
            hash,
            e.getMessage()
                + "; not applied when last asked, but it may still be (it may wait in a cut-off"
                + " member's log)",
            e);
      }
      if (!answer.getSucceeded()) {
        RangeResponse replacedRange = answer.getResponses(1).getResponseRange();
        if (replacedRange.getKvsCount() > 0) {
          KeyValue replaced = replacedRange.getKvs(0);
          JsonNode by = readJson(replaced);
          if (by.path("hash").asText("").equals(hash)
              && by.path("replica").asText("").equals(replica)) {
            long now = replaced.getModRevision();
            log.info(
                "etcd applied an earlier copy of a publish from replica {} (revision {}) that got"
                    + " no clear answer; the publish succeeded",
                replica,
                now);
            learn(now, hash);
            published(now, blob);
            return now;
          }
        }
        RangeResponse storedRange = answer.getResponses(0).getResponseRange();
        String stored =
            storedRange.getKvsCount() == 0 ? NO_HASH : text(storedRange.getKvs(0).getValue());
        long now = storedRange.getKvsCount() == 0 ? 0 : storedRange.getKvs(0).getModRevision();
        throw new ConfigConflictException(
            stored,
            "etcd holds "
                + stored
                + " (revision "
                + now
                + "), this replica expected revision "
                + revision);
      }
      long now = answer.getHeader().getRevision();
      learn(now, hash);
      published(now, blob);
      return now;
    }
  }

  /**
   * The commit of a publish: if the hash key is still at {@code expected}, the pointer, the hash,
   * the history entry and the change; else (in the same transaction) what is stored now and which
   * write replaced the expected revision.
   */
  private TxnRequest commit(
      ByteString pointer, String hash, long expected, byte @Nullable [] change) {
    String entryKey = keys.historyKey(expected);
    TxnRequest.Builder txn = TxnRequest.newBuilder();
    txn.addCompare(
        Compare.newBuilder()
            .setTarget(Compare.CompareTarget.MOD)
            .setKey(bytes(keys.hashKey()))
            .setResult(Compare.CompareResult.EQUAL)
            .setModRevision(expected));
    txn.addSuccess(RequestOp.newBuilder().setRequestPut(put(keys.configKey(), pointer, 0)));
    txn.addSuccess(RequestOp.newBuilder().setRequestPut(put(keys.hashKey(), bytes(hash), 0)));
    txn.addSuccess(RequestOp.newBuilder().setRequestPut(put(entryKey, publishLog.entry(hash), 0)));
    if (change != null) {
      txn.addSuccess(
          RequestOp.newBuilder()
              .setRequestPut(put(keys.changeKey(expected), ByteString.copyFrom(change), 0)));
    }
    // On a failed compare, read what is stored now and which write replaced the expected
    // revision: if that was this publish (an earlier copy of this very transaction, sent again by
    // this loop or by the gateway's failover after an answer that did not say it was applied), the
    // publish succeeded, whatever was written on top of it since.
    txn.addFailure(RequestOp.newBuilder().setRequestRange(range(keys.hashKey())));
    txn.addFailure(RequestOp.newBuilder().setRequestRange(range(entryKey)));
    return txn.build();
  }

  /** After a publish of this replica at {@code revision}: trim, collect orphan chunks (flush). */
  private void published(long revision, String blob) {
    synchronized (this) {
      if (collect == null || collect.before() < revision) {
        collect = new Collect(revision, blob);
      }
    }
    historyWritten = true;
  }

  private synchronized void learn(long revision, String hash) {
    if (revision > knownRevision) {
      knownRevision = revision;
      knownHash = hash;
    }
  }

  /** See {@link EtcdConfigStore#history(int)}. */
  List<ConfigVersion> history(int limit) throws IOException {
    return publishLog.history(limit);
  }

  /**
   * After a publish of this replica: trims the history and the change log ({@link PublishLog#trim})
   * and collects the chunks no configuration needs (see the class comment).
   */
  @Override
  public void flush() throws IOException {
    if (!historyWritten) {
      return;
    }
    historyWritten = false;
    publishLog.trim();
    Collect c;
    synchronized (this) {
      c = collect;
      collect = null;
    }
    if (c != null) {
      try {
        frames.collect(c.before(), c.keep());
      } catch (IOException | RuntimeException e) {
        synchronized (this) {
          if (collect == null) {
            collect = c; // the next round tries again
            historyWritten = true;
          }
        }
        throw e;
      }
    }
  }

  /** See {@link EtcdConfigStore#watch}. */
  void watch(ConfigStore.Listener listener) {
    this.listener = Objects.requireNonNull(listener, "listener");
  }

  // ---- the watch thread ------------------------------------------------------------------------

  @Override
  public void reset() {
    // What this replica knows stays: a reload hands over only what is newer.
  }

  @Override
  public void onKey(String key, KeyValue kv, boolean deleted) {
    if (key.startsWith(keys.changesPrefix())) {
      if (!deleted) {
        pendingChange = kv;
      }
      return;
    }
    if (!key.equals(keys.configKey())) {
      return;
    }
    if (deleted) {
      log.warn("The configuration was deleted from etcd by hand; still serving the last one");
    } else {
      pendingPointer = kv;
    }
  }

  @Override
  public void endOfBatch() {
    KeyValue pointer = pendingPointer;
    KeyValue change = pendingChange;
    pendingPointer = null;
    pendingChange = null;
    if (pointer == null) {
      return;
    }
    String pointed = ChunkedFrames.hashOf(pointer);
    synchronized (this) {
      // This replica's own publish coming back before its commit's answer: wait for the answer.
      long waitUntil = System.nanoTime() + keys.requestTimeout().multipliedBy(8).toNanos();
      while (pointed.equals(committing) && !session.isClosed()) {
        long left = waitUntil - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      if (pointer.getModRevision() <= knownRevision) {
        return; // this replica's own publish, or one it already has: its chunks are not read
      }
    }
    Stored stored;
    try {
      stored = read(pointer);
    } catch (IOException e) {
      // The session goes back to the revision it resumed from and hands this batch over again.
      throw new UncheckedIOException(
          "cannot read the configuration of revision "
              + pointer.getModRevision()
              + " from etcd: "
              + e.getMessage(),
          e);
    }
    // The change written by the same transaction as the pointer is the change to this revision.
    byte[] delta =
        change != null && change.getModRevision() == stored.revision()
            ? change.getValue().toByteArray()
            : null;
    offer(stored, delta);
  }

  /** Hands a configuration newer than the one known to the listener (outside any lock). */
  private void offer(Stored stored, byte @Nullable [] delta) {
    synchronized (this) {
      if (stored.revision() <= knownRevision) {
        return; // this replica's own publish, or one it already has
      }
      knownRevision = stored.revision();
      knownHash = stored.hash();
    }
    ConfigStore.Listener l = listener;
    if (l != null && !session.isClosed()) {
      l.changed(stored.payload(), stored.hash(), stored.revision(), delta);
    }
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** The configuration etcd holds now, or null when none. */
  private @Nullable Stored readLatest() throws IOException {
    IOException last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      RangeResponse answer = session.range(range(keys.configKey()).build());
      if (answer.getKvsCount() == 0) {
        return null;
      }
      KeyValue kv = answer.getKvs(0);
      try {
        return new Stored(
            frames.read(kv, answer.getHeader().getRevision()),
            ChunkedFrames.hashOf(kv),
            kv.getModRevision());
      } catch (EtcdClient.EtcdException | ChunkedFrames.ChunksMissingException e) {
        last = e; // compacted between the two reads, or superseded and collected: read again
      }
    }
    throw Objects.requireNonNull(last);
  }

  /** The configuration {@code pointer} refers to, else (compacted away) the latest one. */
  private Stored read(KeyValue pointer) throws IOException {
    try {
      return new Stored(
          frames.read(pointer, pointer.getModRevision()),
          ChunkedFrames.hashOf(pointer),
          pointer.getModRevision());
    } catch (EtcdClient.EtcdException e) {
      if (e.getMessage() == null || !e.getMessage().contains("compacted")) {
        throw e;
      }
    } catch (ChunkedFrames.ChunksMissingException e) {
      // Only after a compaction: fall through to the latest.
    }
    Stored latest = readLatest();
    if (latest == null) {
      throw new IOException("the configuration was deleted from etcd");
    }
    return latest;
  }
}

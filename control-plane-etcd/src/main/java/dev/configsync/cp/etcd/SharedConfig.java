package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdClient.bytes;
import static dev.configsync.cp.etcd.EtcdClient.text;
import static dev.configsync.cp.etcd.EtcdSession.JSON;
import static dev.configsync.cp.etcd.EtcdSession.put;
import static dev.configsync.cp.etcd.EtcdSession.range;
import static dev.configsync.cp.etcd.EtcdSession.readJson;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import dev.configsync.cp.ConfigConflictException;
import dev.configsync.cp.ConfigOutcomeUnknownException;
import dev.configsync.cp.ConfigStore;
import dev.configsync.cp.ConfigVersion;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.etcd.EtcdClient.Call;
import dev.configsync.cp.etcd.EtcdClient.OutcomeUnknownException;
import dev.configsync.cp.etcd.internal.rpc.Compare;
import dev.configsync.cp.etcd.internal.rpc.DeleteRangeRequest;
import dev.configsync.cp.etcd.internal.rpc.KeyValue;
import dev.configsync.cp.etcd.internal.rpc.RangeRequest;
import dev.configsync.cp.etcd.internal.rpc.RangeResponse;
import dev.configsync.cp.etcd.internal.rpc.RequestOp;
import dev.configsync.cp.etcd.internal.rpc.TxnRequest;
import dev.configsync.cp.etcd.internal.rpc.TxnResponse;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The configuration the replicas share, as kept in etcd: the gzip frame and its hash ({@code
 * <prefix>config}, {@code <prefix>config-hash}), written by a compare-and-set transaction with its
 * entry in the publish history ({@code <prefix>history/<revision it replaces>}); and the
 * configurations other replicas publish, from the session's watch. The {@link ConfigStore} half of
 * {@link EtcdConfigStore}.
 *
 * <p><b>Threads.</b> What this replica knows of the stored configuration (its revision and hash) is
 * guarded by this object's lock and never held across a call to etcd. {@link #save} is called from
 * one publishing thread at a time (the control plane serializes publishes), {@link #load} once at
 * start, {@link #history} from any thread. The watch side ({@link #onKey}, {@link #endOfBatch})
 * runs on the session's watch thread and calls the control plane's listener there, outside the
 * lock; {@link #flush} (history trimming) runs on the session's scheduler thread.
 */
final class SharedConfig implements EtcdSession.Part {
  private static final Logger log = LoggerFactory.getLogger(SharedConfig.class);
  static final String NO_HASH = "00000000000000000000000000000000";

  /** How many publish history entries are kept in etcd. */
  static final int HISTORY_KEPT = ControlPlaneServer.MAX_HISTORY;

  private final EtcdSession session;
  private final EtcdSettings keys;

  // What this replica knows of the stored configuration; guarded by "this".
  private long knownRevision;
  private String knownHash = NO_HASH;

  private volatile ConfigStore.@Nullable Listener listener;
  private volatile boolean historyWritten; // the scheduler trims the history after a publish

  // The watch thread's state: the newest configuration of the batch being handed over.
  private byte @Nullable [] pending;
  private long pendingRevision;

  SharedConfig(EtcdSession session) {
    this.session = session;
    this.keys = session.settings();
  }

  /** See {@link EtcdConfigStore#load()}. */
  Optional<byte[]> load() throws IOException {
    RangeResponse answer;
    try {
      answer = session.range(range(keys.configKey()).build());
    } catch (IOException e) {
      throw new IOException(
          "cannot read the configuration from " + session.describe() + ": " + e.getMessage(), e);
    }
    synchronized (this) {
      if (answer.getKvsCount() == 0) {
        knownRevision = 0;
        knownHash = NO_HASH;
        return Optional.empty();
      }
      KeyValue kv = answer.getKvs(0);
      knownRevision = kv.getModRevision();
      byte[] payload = kv.getValue().toByteArray();
      knownHash = hashOf(payload);
      return Optional.of(payload);
    }
  }

  /** The hash of the stored configuration as this replica knows it, or null when none. */
  synchronized @Nullable String knownHash() {
    return knownHash.equals(NO_HASH) ? null : knownHash;
  }

  /** See {@link EtcdConfigStore#save(byte[], String, String)}. */
  long save(byte[] payload, String hash, @Nullable String expectedPreviousHash) throws IOException {
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
    String replica = keys.replica();
    String entryKey = keys.historyKey(revision);
    ObjectNode entry = JSON.createObjectNode();
    entry
        .put("hash", hash)
        .put("replica", replica)
        .put("published_at", session.clock().instant().toString());
    TxnRequest.Builder txn = TxnRequest.newBuilder();
    txn.addCompare(
        Compare.newBuilder()
            .setTarget(Compare.CompareTarget.MOD)
            .setKey(bytes(keys.hashKey()))
            .setResult(Compare.CompareResult.EQUAL)
            .setModRevision(revision));
    txn.addSuccess(
        RequestOp.newBuilder()
            .setRequestPut(put(keys.configKey(), ByteString.copyFrom(payload), 0)));
    txn.addSuccess(RequestOp.newBuilder().setRequestPut(put(keys.hashKey(), bytes(hash), 0)));
    txn.addSuccess(RequestOp.newBuilder().setRequestPut(put(entryKey, bytes(entry.toString()), 0)));
    // On a failed compare, read in the same transaction what is stored now and which write
    // replaced the expected revision: if that was this publish (an earlier copy of this very
    // transaction, sent again by this loop or by the gateway's failover after an answer that did
    // not say it was applied), the publish succeeded, whatever was written on top of it since.
    txn.addFailure(RequestOp.newBuilder().setRequestRange(range(keys.hashKey())));
    txn.addFailure(RequestOp.newBuilder().setRequestRange(range(entryKey)));
    TxnRequest request = txn.build();
    // The compare makes a repeated transaction harmless: at most one write replaces a revision,
    // and the history entry under that revision says which one did.
    for (int attempt = 1; ; attempt++) {
      TxnResponse answer;
      try {
        answer = session.txn(request, Call.ONCE);
      } catch (EtcdClient.EtcdException e) {
        if (e.getMessage() != null && e.getMessage().contains("too large")) {
          throw new IOException(
              "the compressed configuration ("
                  + payload.length
                  + " bytes) is larger than etcd accepts in one request (its --max-request-bytes,"
                  + " 1.5 MiB by default; raise it on every member)",
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
            historyWritten = true;
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
      historyWritten = true;
      return now;
    }
  }

  private synchronized void learn(long revision, String hash) {
    if (revision > knownRevision) {
      knownRevision = revision;
      knownHash = hash;
    }
  }

  /** See {@link EtcdConfigStore#history(int)}. */
  List<ConfigVersion> history(int limit) throws IOException {
    RangeResponse answer = session.range(historyRange().setLimit(Math.max(1, limit)).build());
    List<ConfigVersion> versions = new ArrayList<>();
    for (KeyValue kv : answer.getKvsList()) {
      JsonNode entry = readJson(kv);
      Instant at;
      try {
        at = Instant.parse(entry.path("published_at").asText(""));
      } catch (DateTimeParseException e) {
        at = Instant.EPOCH; // written by hand or by an incompatible version
      }
      versions.add(
          new ConfigVersion(
              entry.path("hash").asText(NO_HASH),
              kv.getModRevision(),
              at,
              entry.path("replica").asText("")));
    }
    return List.copyOf(versions);
  }

  /** Deletes the history entries beyond the newest {@link #HISTORY_KEPT} after a publish. */
  @Override
  public void flush() throws IOException {
    if (!historyWritten) {
      return;
    }
    historyWritten = false;
    RangeResponse listed =
        session.range(historyRange().setKeysOnly(true).setLimit(HISTORY_KEPT + 1).build());
    if (listed.getKvsCount() <= HISTORY_KEPT) {
      return;
    }
    // Everything from the start of the prefix up to and including the oldest one listed.
    byte[] last = listed.getKvs(HISTORY_KEPT).getKey().toByteArray();
    byte[] end = Arrays.copyOf(last, last.length + 1);
    var unused =
        session.deleteRange(
            DeleteRangeRequest.newBuilder()
                .setKey(bytes(keys.historyPrefix()))
                .setRangeEnd(ByteString.copyFrom(end))
                .build());
  }

  /** The publish history, newest first. */
  private RangeRequest.Builder historyRange() {
    return RangeRequest.newBuilder()
        .setKey(bytes(keys.historyPrefix()))
        .setRangeEnd(EtcdClient.prefixEnd(keys.historyPrefix()))
        .setSortOrder(RangeRequest.SortOrder.DESCEND)
        .setSortTarget(RangeRequest.SortTarget.KEY);
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
    if (!key.equals(keys.configKey())) {
      return;
    }
    if (deleted) {
      log.warn("The configuration was deleted from etcd by hand; still serving the last one");
    } else {
      pending = kv.getValue().toByteArray();
      pendingRevision = kv.getModRevision();
    }
  }

  @Override
  public void endOfBatch() {
    byte[] payload = pending;
    if (payload != null) {
      pending = null;
      offer(pendingRevision, payload);
    }
  }

  /** Hands a configuration newer than the one known to the listener (outside any lock). */
  private void offer(long revision, byte[] payload) {
    String hash = hashOf(payload);
    synchronized (this) {
      if (revision <= knownRevision) {
        return; // this replica's own publish, or one it already has
      }
      knownRevision = revision;
      knownHash = hash;
    }
    ConfigStore.Listener l = listener;
    if (l != null && !session.isClosed()) {
      l.changed(payload, hash, revision);
    }
  }

  /** The {@code config_hash} inside a stored frame (the control plane verifies it again). */
  private static String hashOf(byte[] payload) {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(payload))) {
      JsonNode message = JSON.readTree(in);
      String hash = message.path("config_hash").asText("");
      return hash.isEmpty() ? NO_HASH : hash;
    } catch (IOException e) {
      return NO_HASH; // a damaged frame: the control plane says so when it decodes it
    }
  }
}

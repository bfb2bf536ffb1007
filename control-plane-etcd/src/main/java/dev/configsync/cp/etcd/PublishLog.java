package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdClient.bytes;
import static dev.configsync.cp.etcd.EtcdSession.JSON;
import static dev.configsync.cp.etcd.EtcdSession.readJson;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import dev.configsync.cp.ConfigVersion;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.etcd.internal.rpc.DeleteRangeRequest;
import dev.configsync.cp.etcd.internal.rpc.KeyValue;
import dev.configsync.cp.etcd.internal.rpc.RangeRequest;
import dev.configsync.cp.etcd.internal.rpc.RangeResponse;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The publish history ({@code <prefix>history/<revision it replaces>}) and the change log ({@code
 * <prefix>changes/<revision it replaces>}) of {@link SharedConfig}: the format of a history entry
 * (JSON: {@code hash}, {@code replica}, {@code published_at}), reading the history newest first,
 * and trimming both to their newest entries. Both kinds of key end with a zero-padded revision, so
 * they sort by age. The entries themselves are written by {@link SharedConfig}'s commit, in the
 * same transaction as the configuration they record.
 *
 * <p><b>Threads.</b> No state beyond its settings and no lock: {@link #history} runs on any thread,
 * {@link #trim} on the session's scheduler thread, {@link #entry} on the publishing thread.
 */
final class PublishLog {
  /** How many publish history entries are kept in etcd. */
  static final int HISTORY_KEPT = ControlPlaneServer.MAX_HISTORY;

  /** How many changes the change log keeps. */
  static final int CHANGES_KEPT = 16;

  private final EtcdSession session;
  private final EtcdSettings keys;

  PublishLog(EtcdSession session) {
    this.session = session;
    this.keys = session.settings();
  }

  /** The history entry of a publish of {@code hash} by this replica, stamped now. */
  ByteString entry(String hash) {
    ObjectNode entry = JSON.createObjectNode();
    entry
        .put("hash", hash)
        .put("replica", keys.replica())
        .put("published_at", session.clock().instant().toString());
    return bytes(entry.toString());
  }

  /** See {@link EtcdConfigStore#history(int)}. */
  List<ConfigVersion> history(int limit) throws IOException {
    RangeResponse answer =
        session.range(newestFirst(keys.historyPrefix()).setLimit(Math.max(1, limit)).build());
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
              entry.path("hash").asText(SharedConfig.NO_HASH),
              kv.getModRevision(),
              at,
              entry.path("replica").asText("")));
    }
    return List.copyOf(versions);
  }

  /**
   * Deletes the history entries beyond the newest {@link #HISTORY_KEPT} and the changes beyond the
   * newest {@link #CHANGES_KEPT}.
   */
  void trim() throws IOException {
    trim(keys.historyPrefix(), HISTORY_KEPT);
    trim(keys.changesPrefix(), CHANGES_KEPT);
  }

  /** Deletes the keys under {@code prefix} beyond the newest {@code kept} (keys sort by age). */
  private void trim(String prefix, int kept) throws IOException {
    RangeResponse listed =
        session.range(newestFirst(prefix).setKeysOnly(true).setLimit(kept + 1).build());
    if (listed.getKvsCount() <= kept) {
      return;
    }
    // Everything from the start of the prefix up to and including the oldest one listed.
    byte[] last = listed.getKvs(kept).getKey().toByteArray();
    byte[] end = Arrays.copyOf(last, last.length + 1);
    var unused =
        session.deleteRange(
            DeleteRangeRequest.newBuilder()
                .setKey(bytes(prefix))
                .setRangeEnd(ByteString.copyFrom(end))
                .build());
  }

  /** The keys under {@code prefix}, newest first (their names end with a zero-padded revision). */
  private static RangeRequest.Builder newestFirst(String prefix) {
    return RangeRequest.newBuilder()
        .setKey(bytes(prefix))
        .setRangeEnd(EtcdClient.prefixEnd(prefix))
        .setSortOrder(RangeRequest.SortOrder.DESCEND)
        .setSortTarget(RangeRequest.SortTarget.KEY);
  }
}

package dev.configsync.cp.etcd;

import static dev.configsync.cp.etcd.EtcdClient.bytes;
import static dev.configsync.cp.etcd.EtcdClient.text;
import static dev.configsync.cp.etcd.EtcdSession.JSON;
import static dev.configsync.cp.etcd.EtcdSession.put;
import static dev.configsync.cp.etcd.EtcdSession.readJson;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import dev.configsync.cp.etcd.EtcdClient.Call;
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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code <prefix>config} holds, and the chunks of a large frame: the pointer format of {@link
 * SharedConfig} (see its class comment for the layout and why publishes and reads go this way).
 *
 * <p>A pointer is the gzip frame itself when it is at most {@code chunkBytes}, else a manifest
 * (JSON: {@code hash}, {@code sha256}, {@code bytes}, {@code chunks}) of the chunks {@code
 * <prefix>~blobs/<sha-256 of the frame>/<n>} that hold it. This class writes the chunks of a frame
 * and makes its pointer ({@link #write}), reads a pointer back whole and checked ({@link #read},
 * {@link #hashOf}), and deletes the chunks no configuration needs any more ({@link #collect}). It
 * never writes the pointer itself: the commit does, in one transaction with the hash and history.
 *
 * <p><b>Threads.</b> It keeps no state of its own beyond its settings, so any thread may call it,
 * and it takes no lock: {@link SharedConfig} calls it outside its own (from the publishing thread,
 * the watch thread and the scheduler thread).
 */
final class ChunkedFrames {
  // Logged as SharedConfig, the part of the store this belongs to.
  private static final Logger log = LoggerFactory.getLogger(SharedConfig.class);

  /** Chunk deletions per transaction (etcd allows 128 operations in one by default). */
  private static final int DELETES_PER_TXN = 64;

  private final EtcdSession session;
  private final EtcdSettings keys;
  private final int chunkBytes;

  /**
   * The value to commit under {@code <prefix>config}, and the SHA-256 of the frame whose chunks it
   * points at ({@code ""} when it holds the frame itself).
   */
  record Pointer(ByteString value, String blob) {}

  /** Chunks a manifest refers to are not all there (collected after a compaction). */
  static final class ChunksMissingException extends IOException {
    private static final long serialVersionUID = 1L;

    ChunksMissingException(String message) {
      super(message);
    }
  }

  ChunkedFrames(EtcdSession session, int chunkBytes) {
    this.session = session;
    this.keys = session.settings();
    this.chunkBytes = chunkBytes;
  }

  /**
   * The pointer to {@code payload}: the frame itself when it fits in one chunk; else its chunks are
   * written first, one request each (idempotent: the same key always holds the same bytes), and the
   * pointer is their manifest. Nothing refers to the chunks until the pointer is committed.
   */
  Pointer write(byte[] payload, String hash) throws IOException {
    if (payload.length <= chunkBytes) {
      return new Pointer(ByteString.copyFrom(payload), "");
    }
    String blob = sha256(payload);
    int chunks = (payload.length + chunkBytes - 1) / chunkBytes;
    for (int n = 0; n < chunks; n++) {
      int from = n * chunkBytes;
      int length = Math.min(chunkBytes, payload.length - from);
      session.put(put(keys.chunkKey(blob, n), ByteString.copyFrom(payload, from, length), 0));
    }
    ObjectNode manifest = JSON.createObjectNode();
    manifest
        .put("hash", hash)
        .put("sha256", blob)
        .put("bytes", payload.length)
        .put("chunks", chunks);
    return new Pointer(bytes(manifest.toString()), blob);
  }

  /**
   * The frame a pointer holds or refers to, its chunks read at {@code revision} (so never a mix of
   * two configurations) and checked against the manifest's size and SHA-256.
   *
   * @throws ChunksMissingException when chunks are missing at that revision (collected after a
   *     compaction: the caller reads the latest pointer instead)
   * @throws EtcdClient.EtcdException when etcd refuses the read, for one because {@code revision}
   *     was compacted away
   */
  byte[] read(KeyValue pointer, long revision) throws IOException {
    byte[] value = pointer.getValue().toByteArray();
    if (isGzip(value)) {
      return value;
    }
    JsonNode manifest = readJson(pointer);
    String blob = manifest.path("sha256").asText("");
    long size = manifest.path("bytes").asLong(-1);
    int chunks = manifest.path("chunks").asInt(-1);
    if (blob.isEmpty() || size < 0 || chunks < 0) {
      throw new IOException(
          "the configuration in etcd is neither a gzip frame nor a manifest of chunks");
    }
    RangeResponse answer =
        session.range(
            RangeRequest.newBuilder()
                .setKey(bytes(keys.blobPrefix(blob)))
                .setRangeEnd(EtcdClient.prefixEnd(keys.blobPrefix(blob)))
                .setRevision(revision)
                .build());
    long total = 0;
    for (KeyValue kv : answer.getKvsList()) {
      total += kv.getValue().size();
    }
    if (answer.getKvsCount() != chunks || total != size || size > Integer.MAX_VALUE) {
      throw new ChunksMissingException(
          "configuration "
              + blob
              + " has "
              + answer.getKvsCount()
              + " of its "
              + chunks
              + " chunks ("
              + total
              + " of "
              + size
              + " bytes) at revision "
              + revision);
    }
    byte[] frame = new byte[(int) size];
    int at = 0;
    for (KeyValue kv : answer.getKvsList()) {
      kv.getValue().copyTo(frame, at);
      at += kv.getValue().size();
    }
    if (!sha256(frame).equals(blob)) {
      throw new IOException("the chunks of configuration " + blob + " do not add up to it");
    }
    return frame;
  }

  /**
   * Deletes the chunks written before {@code before} of frames other than {@code keep} ({@code ""}:
   * none kept): those of the configurations a publish replaced, and the orphans of publishes that
   * never committed. Each deletion is conditional on the chunk's mod_revision still being below
   * {@code before}: a chunk written again since, by a publish under way, stays.
   */
  void collect(long before, String keep) throws IOException {
    String prefix = keys.blobsPrefix();
    RangeResponse listed =
        session.range(
            RangeRequest.newBuilder()
                .setKey(bytes(prefix))
                .setRangeEnd(EtcdClient.prefixEnd(prefix))
                .setKeysOnly(true)
                .build());
    List<ByteString> doomed = new ArrayList<>();
    String kept = keep.isEmpty() ? "" : keys.blobPrefix(keep);
    for (KeyValue kv : listed.getKvsList()) {
      if (kv.getModRevision() < before && (kept.isEmpty() || !text(kv.getKey()).startsWith(kept))) {
        doomed.add(kv.getKey());
      }
    }
    int deleted = 0;
    for (int from = 0; from < doomed.size(); from += DELETES_PER_TXN) {
      TxnRequest.Builder txn = TxnRequest.newBuilder();
      for (ByteString key : doomed.subList(from, Math.min(doomed.size(), from + DELETES_PER_TXN))) {
        txn.addCompare(
            Compare.newBuilder()
                .setTarget(Compare.CompareTarget.MOD)
                .setKey(key)
                .setResult(Compare.CompareResult.LESS)
                .setModRevision(before));
        txn.addSuccess(
            RequestOp.newBuilder()
                .setRequestDeleteRange(DeleteRangeRequest.newBuilder().setKey(key)));
      }
      // Harmless to repeat: deleting a deleted key changes nothing.
      TxnResponse answer = session.txn(txn.build(), Call.IDEMPOTENT);
      if (answer.getSucceeded()) {
        deleted += txn.getSuccessCount();
      }
    }
    if (deleted > 0) {
      log.debug("Deleted {} chunk(s) of configurations no longer in force", deleted);
    }
  }

  /**
   * The configuration hash of what a pointer refers to, without reading any chunk: the manifest's
   * {@code hash}, or the {@code config_hash} inside a small frame; {@link SharedConfig#NO_HASH}
   * when it has none.
   */
  static String hashOf(KeyValue pointer) {
    byte[] value = pointer.getValue().toByteArray();
    if (isGzip(value)) {
      return hashOfFrame(value);
    }
    String hash = readJson(pointer).path("hash").asText("");
    return hash.isEmpty() ? SharedConfig.NO_HASH : hash;
  }

  /** The {@code config_hash} inside a small frame (the control plane verifies it again). */
  private static String hashOfFrame(byte[] payload) {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(payload))) {
      JsonNode message = JSON.readTree(in);
      String hash = message.path("config_hash").asText("");
      return hash.isEmpty() ? SharedConfig.NO_HASH : hash;
    } catch (IOException e) {
      return SharedConfig.NO_HASH; // a damaged frame: the control plane says so when it decodes it
    }
  }

  private static boolean isGzip(byte[] value) {
    return value.length >= 2 && value[0] == (byte) 0x1f && value[1] == (byte) 0x8b;
  }

  /** The hex SHA-256 of {@code bytes}: the name of a frame's chunks. */
  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}

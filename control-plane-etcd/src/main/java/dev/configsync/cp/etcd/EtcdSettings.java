package dev.configsync.cp.etcd;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * The checked settings of one {@link EtcdConfigStore} (what its {@link EtcdConfigStore.Builder}
 * gathered), and the etcd keys they imply. Immutable.
 */
record EtcdSettings(
    List<URI> endpoints,
    String prefix,
    String replica,
    Duration leaseTtl,
    Duration requestTimeout,
    Duration flushInterval,
    Duration unavailableAfter,
    @Nullable SSLContext ssl) {

  /** The chunks' place under the prefix; see {@link #blobsPrefix}. */
  static final String BLOBS = "~blobs/";

  EtcdSettings {
    endpoints = List.copyOf(endpoints);
  }

  /**
   * The stored configuration: its gzip frame itself when it is small, else the manifest of the
   * chunks that hold it (see {@link SharedConfig}).
   */
  String configKey() {
    return prefix + "config";
  }

  /**
   * Where the chunks of large frames are kept: {@code <prefix>~blobs/<sha-256>/<n>}. The {@code ~}
   * sorts after every other key under the prefix, so that the watch and the reload, which cover
   * {@code [prefix, prefix~)}, never carry the chunks: a replica reads them once, when it needs
   * them.
   */
  String blobsPrefix() {
    return prefix + BLOBS;
  }

  /** The prefix of the chunks of the frame whose SHA-256 is {@code sha256}. */
  String blobPrefix(String sha256) {
    return blobsPrefix() + sha256 + "/";
  }

  /** Chunk {@code n} of a frame (zero-padded: keys sort). */
  String chunkKey(String sha256, int n) {
    return blobPrefix(sha256) + String.format(Locale.ROOT, "%06d", n);
  }

  /** The first key after everything the watch and the reload cover (the chunks are after it). */
  String watchedEnd() {
    return prefix + "~";
  }

  /** The change log: one {@code reconfigure_delta} frame per publish that had one. */
  String changesPrefix() {
    return prefix + "changes/";
  }

  /** The change written by the publish that replaced {@code revision} (as its history entry). */
  String changeKey(long revision) {
    return byRevision(changesPrefix(), revision);
  }

  /** The stored frame's hash; its mod_revision is what a publish compares. */
  String hashKey() {
    return prefix + "config-hash";
  }

  String historyPrefix() {
    return prefix + "history/";
  }

  /** The history entry of the write that replaced {@code revision} (zero-padded: keys sort). */
  String historyKey(long revision) {
    return byRevision(historyPrefix(), revision);
  }

  /** {@code prefix} and a revision, zero-padded so that keys sort by revision. */
  private static String byRevision(String prefix, long revision) {
    return prefix + String.format(Locale.ROOT, "%020d", revision);
  }

  String nodesPrefix() {
    return prefix + "nodes/";
  }

  /** The key of one of this replica's data planes. */
  String nodeKey(String nodeId) {
    return nodesPrefix() + replica + "/" + nodeId;
  }

  String replicasPrefix() {
    return prefix + "replicas/";
  }

  String aggregatesPrefix() {
    return prefix + "aggregates/";
  }
}

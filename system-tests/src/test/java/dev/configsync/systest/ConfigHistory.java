package dev.configsync.systest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.cp.etcd.EtcdCluster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * The configurations etcd committed, in revision order, read from the history of the store's {@code
 * <prefix>config} key, and the checks that compare what the processes said and did with it. Each
 * check adds what it finds wrong to {@link #violations()}, so that one run reports every broken
 * promise at once.
 */
final class ConfigHistory {
  /** One committed configuration: etcd's revision, its hash and the test's publish id in it. */
  record Committed(long revision, String hash, String id) {}

  private final List<Committed> committed;
  private final Map<String, Committed> byHash = new HashMap<>();
  private final Map<String, Committed> byId = new HashMap<>();
  private final List<String> violations = new ArrayList<>();

  private ConfigHistory(List<Committed> committed) {
    this.committed = List.copyOf(committed);
    for (Committed c : committed) {
      byHash.putIfAbsent(c.hash(), c);
      byId.putIfAbsent(c.id(), c);
    }
  }

  /**
   * Reads every version of {@code key} from {@code etcd} (the fixture lists them newest first; kept
   * here oldest first, in revision order).
   */
  static ConfigHistory read(EtcdCluster etcd, String key) throws IOException {
    List<Committed> committed = new ArrayList<>();
    List<EtcdCluster.Version> oldestFirst = new ArrayList<>(etcd.history(key));
    Collections.reverse(oldestFirst);
    for (EtcdCluster.Version v : oldestFirst) {
      JsonNode message = decode(v.value());
      committed.add(
          new Committed(
              v.revision(),
              message.path("config_hash").asText(),
              message.path("config_table").path("systest").path("version").asText("")));
    }
    return new ConfigHistory(committed);
  }

  /** The stored frame: a gzip {@code reconfigure} message (or, failing that, plain JSON). */
  private static JsonNode decode(byte[] value) throws IOException {
    boolean gzip = value.length > 2 && (value[0] & 0xff) == 0x1f && (value[1] & 0xff) == 0x8b;
    try (InputStream in =
        gzip
            ? new GZIPInputStream(new ByteArrayInputStream(value))
            : new ByteArrayInputStream(value)) {
      return AdminClient.JSON.readTree(in);
    }
  }

  List<Committed> committed() {
    return committed;
  }

  Committed latest() {
    return committed.get(committed.size() - 1);
  }

  List<String> violations() {
    return violations;
  }

  /**
   * Every publish answered 200 is in the history, with the hash it was answered; no publish
   * answered "not published" is. Unknown outcomes may be either.
   */
  void checkPublishes(List<PublishJournal.Attempt> attempts) {
    for (PublishJournal.Attempt a : attempts) {
      Committed c = byId.get(a.id());
      switch (a.outcome()) {
        case PUBLISHED -> {
          if (c == null) {
            violations.add(
                "publish " + describe(a) + " was answered 200 but etcd never committed it");
          } else if (a.hash() != null && !a.hash().equals(c.hash())) {
            violations.add(
                "publish "
                    + describe(a)
                    + " was answered hash "
                    + a.hash()
                    + " but etcd holds "
                    + c.hash()
                    + " for it");
          }
        }
        case NOT_PUBLISHED -> {
          if (c != null) {
            violations.add(
                "publish "
                    + describe(a)
                    + " was answered as not published, yet etcd committed it at revision "
                    + c.revision());
          }
        }
        case UNKNOWN -> {
          // Either way is right: the answer did not claim anything.
        }
      }
    }
  }

  /**
   * {@code observer} ran (or served) {@code hashes} in this order: each must be a committed
   * configuration, and none may be older (by etcd's revision) than one before it.
   */
  void checkOrder(String observer, List<String> hashes) {
    Committed newest = null;
    for (String hash : hashes) {
      Committed c = byHash.get(hash);
      if (c == null) {
        violations.add(observer + " ran " + hash + ", which etcd never committed");
        continue;
      }
      if (newest != null && c.revision() < newest.revision()) {
        violations.add(
            observer
                + " went back from "
                + newest.hash()
                + " (revision "
                + newest.revision()
                + ") to the older "
                + c.hash()
                + " (revision "
                + c.revision()
                + ")");
      }
      if (newest == null || c.revision() > newest.revision()) {
        newest = c;
      }
    }
  }

  /** The id and answer of {@code a}, for messages. */
  static String describe(PublishJournal.Attempt a) {
    return a.id()
        + " on "
        + a.replica()
        + " (sent "
        + a.sent()
        + ", answered "
        + a.answered()
        + ": "
        + (a.status() == 0 ? a.detail() : a.status() + " " + a.detail())
        + ")";
  }
}

package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.DeltaFrame;
import dev.configsync.internal.delta.DeltaRejectedException;
import dev.configsync.internal.delta.IndexedConfig;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's replay of a store's journal: the changes saved ahead of their whole payload
 * ({@link ConfigStore#saveChange}), applied in order to the stored payload, into one whole payload.
 * The same checks as a node's: each change's base must be the configuration reached so far, and
 * each result must have the hashes its change announces; replay stops, with a WARN, at the last
 * configuration that passed them. Stateless.
 */
final class JournalReplay {
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  private JournalReplay() {}

  /**
   * The whole payload of the newest configuration {@code changes} make from {@code payload}.
   *
   * @param maxInflatedBytes the most any payload or change may inflate to
   * @param where the store, for the log
   * @throws IOException when {@code payload} itself cannot be read (the caller's error message
   *     names the store)
   */
  static byte[] replay(byte[] payload, List<byte[]> changes, long maxInflatedBytes, String where)
      throws IOException {
    JsonNode message = Json.readFrozen(Gzip.decompress(payload, maxInflatedBytes));
    JsonNode table = message.path("config_table");
    if (!table.isObject()) {
      throw new IOException("not a reconfigure message with a config_table object");
    }
    IndexedConfig config = IndexedConfig.of(table);
    double timestamp = message.path("timestamp").asDouble(0);
    int applied = 0;
    for (byte[] change : changes) {
      try {
        DeltaFrame frame =
            DeltaFrame.parse(Json.readFrozen(Gzip.decompress(change, maxInflatedBytes)));
        if (!frame.baseHash().equals(config.hashes().config())) {
          throw new IOException(
              "its base "
                  + frame.baseHash()
                  + " is not the configuration reached, "
                  + config.hashes().config());
        }
        config = config.apply(frame.changes(), frame.hashes()).config();
        timestamp = frame.timestampSeconds();
        applied++;
      } catch (IOException | DeltaRejectedException | IllegalArgumentException e) {
        log.warn(
            "Stopped replaying the journal of {} at change {} of {} ({}); starting on the"
                + " configuration reached, {}",
            where,
            applied + 1,
            changes.size(),
            e.getMessage(),
            config.hashes().config());
        break;
      }
    }
    log.info(
        "Replayed {} change(s) saved ahead of their whole payload in {}: configuration {}",
        applied,
        where,
        config.hashes().config());
    return HybridProtocol.reconfigure(config.table(), config.hashes(), timestamp, null);
  }
}

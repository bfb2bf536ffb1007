package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.zip.GZIPOutputStream;

/**
 * The {@code reconfigure_delta} message of configsync's negotiated protocol extension (see {@code
 * docs/protocol.md}, "Incremental sync"): a change set from the configuration with {@code
 * base_hash} to the one with {@code config_hash} and {@code hashes}.
 *
 * <pre>{@code
 * {"type":"reconfigure_delta","base_hash":"<32 hex>","config_hash":"<32 hex>",
 *  "hashes":{"config":..,"routes":..,..},"version":7,"timestamp":1700000000.123,
 *  "changes":{<ChangeSet#toJson>}}
 * }</pre>
 *
 * <p>Sent as gzip of that JSON, in one binary frame, like {@code reconfigure}. Immutable.
 *
 * @param baseHash the configuration the change set applies to
 * @param hashes the hashes of the result (its {@code config} is the target {@code config_hash})
 * @param version the control plane's version of the target configuration (informational)
 * @param timestampSeconds when the target was published, seconds since the epoch with a fraction
 * @param changes the change set
 */
public record DeltaFrame(
    String baseHash,
    ConfigHashes hashes,
    long version,
    double timestampSeconds,
    ChangeSet changes) {

  /** The message type. */
  public static final String TYPE = "reconfigure_delta";

  /**
   * The version of the extension this code speaks, announced in {@code basic_info} as {@code
   * "configsync":{"delta":1}}.
   */
  public static final int VERSION = 1;

  /** The member of {@code basic_info} that holds configsync's extensions. */
  public static final String EXTENSION_MEMBER = "configsync";

  /** The member of {@link #EXTENSION_MEMBER} that announces this extension's version. */
  public static final String DELTA_MEMBER = "delta";

  /** The target configuration's hash. */
  public String targetHash() {
    return hashes.config();
  }

  /** The message as JSON. */
  public ObjectNode toJson() {
    ObjectNode root = Json.WRITER.createObjectNode();
    root.put("type", TYPE);
    root.put("base_hash", baseHash);
    HybridProtocol.putHashes(root, hashes);
    root.put("version", version);
    root.put("timestamp", timestampSeconds);
    root.set("changes", changes.toJson());
    return root;
  }

  /** The message as the gzip payload of one binary frame. */
  public byte[] encode() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
    try (GZIPOutputStream gzip = new GZIPOutputStream(out, 8192)) {
      Json.WRITER.writeValue(gzip, toJson());
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen in memory
    }
    return out.toByteArray();
  }

  /**
   * Reads a {@code reconfigure_delta} message (already inflated and parsed, with the decoder's
   * limits). Members it does not know are ignored, as in {@code reconfigure}; the change set's are
   * not (see {@link ChangeSet#fromJson}).
   *
   * @throws DeltaRejectedException (MALFORMED) when it is not a well-formed message of this type
   */
  public static DeltaFrame parse(JsonNode message) {
    if (!message.isObject() || !TYPE.equals(message.path("type").asText(null))) {
      throw ChangeSet.malformed("not a " + TYPE + " message");
    }
    String base = hash(message, "base_hash");
    String target = hash(message, "config_hash");
    JsonNode h = message.path("hashes");
    if (!h.isObject()) {
      throw ChangeSet.malformed("hashes is not an object");
    }
    ConfigHashes hashes =
        new ConfigHashes(
            hash(h, "config"),
            hash(h, "routes"),
            hash(h, "services"),
            hash(h, "plugins"),
            hash(h, "upstreams"),
            hash(h, "targets"));
    if (!hashes.config().equals(target)) {
      throw ChangeSet.malformed("config_hash and hashes.config differ");
    }
    JsonNode version = message.path("version");
    JsonNode timestamp = message.path("timestamp");
    return new DeltaFrame(
        base,
        hashes,
        version.canConvertToLong() ? version.longValue() : 0,
        timestamp.isNumber() ? timestamp.doubleValue() : Double.NaN,
        ChangeSet.fromJson(message.path("changes")));
  }

  private static String hash(JsonNode parent, String name) {
    JsonNode value = parent.path(name);
    if (!value.isTextual() || !ConfigHash.isValidHash(value.textValue())) {
      throw ChangeSet.malformed(name + " is not 32 lowercase hex characters");
    }
    return value.textValue();
  }
}

package dev.configsync.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.delta.DeltaFrame;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;
import org.jspecify.annotations.Nullable;

/**
 * The messages of Kong's hybrid-mode protocol, version 1, as configsync writes them. Not API. See
 * {@code docs/protocol.md}.
 */
public final class HybridProtocol {
  /** The path of the configuration WebSocket. */
  public static final String OUTLET_PATH = "/v1/outlet";

  /** The path of the usage telemetry WebSocket. */
  public static final String INGEST_PATH = "/v1/ingest";

  /** Message type of a batch of usage counts (data plane to control plane, gzip JSON). */
  public static final String TYPE_USAGE = "usage";

  /**
   * Message type a configsync control plane sends first on {@code /v1/ingest} (plain JSON) to say
   * it acknowledges usage batches. A configsync extension: Kong's control plane sends nothing.
   */
  public static final String TYPE_INGEST_HELLO = "ingest_hello";

  /** Message type of the acknowledgement of one usage batch (configsync extension). */
  public static final String TYPE_ACK = "ack";

  /** Message type of the first data-plane frame. */
  public static final String TYPE_BASIC_INFO = "basic_info";

  /** Message type of a configuration push. */
  public static final String TYPE_RECONFIGURE = "reconfigure";

  /** Message type of a data plane's report of a configuration it could not apply. */
  public static final String TYPE_ERROR = "error";

  /** Length of a ping payload: one hash in hex. */
  public static final int PING_PAYLOAD_LENGTH = 32;

  private HybridProtocol() {}

  /**
   * The {@code basic_info} message: the node's capabilities (Kong's plugins) sorted by name, and
   * its labels, as plain JSON.
   */
  public static byte[] basicInfo(Map<String, String> capabilities, Map<String, String> labels) {
    return basicInfo(capabilities, labels, false);
  }

  /**
   * As {@link #basicInfo(Map, Map)}; with {@code deltas}, it also announces configsync's
   * incremental sync ({@code "configsync":{"delta":1}}), which Kong's control planes ignore.
   */
  public static byte[] basicInfo(
      Map<String, String> capabilities, Map<String, String> labels, boolean deltas) {
    ObjectNode root = Json.WRITER.createObjectNode();
    root.put("type", TYPE_BASIC_INFO);
    ArrayNode plugins = root.putArray("plugins");
    new TreeMap<>(capabilities)
        .forEach((name, version) -> plugins.addObject().put("name", name).put("version", version));
    ObjectNode labelNode = root.putObject("labels");
    new TreeMap<>(labels).forEach(labelNode::put);
    if (deltas) {
      root.putObject(DeltaFrame.EXTENSION_MEMBER).put(DeltaFrame.DELTA_MEMBER, DeltaFrame.VERSION);
    }
    return toBytes(root);
  }

  /** The payload of a ping: the running configuration's hash, or 32 zeros when there is none. */
  public static byte[] pingPayload(@Nullable String hash) {
    return (hash == null ? ConfigHash.NONE : hash).getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * The error report a data plane may send about a configuration it could not apply (a Kong 3.2+
   * extension, off by default).
   */
  public static byte[] errorReport(
      String name, String message, @Nullable String configHash, String source) {
    return errorReport(name, message, configHash, source, false);
  }

  /**
   * The member of an error report by which a node that negotiated incremental sync asks for the
   * whole configuration: {@code "configsync":{"send_full":true}} (configsync extension).
   */
  public static final String SEND_FULL = "send_full";

  /**
   * As {@link #errorReport(String, String, String, String)}; with {@code sendFull}, it also asks a
   * configsync control plane for the whole configuration at once (a {@code reconfigure_delta} did
   * not apply).
   */
  public static byte[] errorReport(
      String name, String message, @Nullable String configHash, String source, boolean sendFull) {
    ObjectNode root = Json.WRITER.createObjectNode();
    root.put("type", TYPE_ERROR);
    ObjectNode error = root.putObject("error");
    error.put("name", name);
    error.put("source", source);
    error.put("message", message);
    if (configHash != null) {
      error.put("config_hash", configHash);
    }
    if (sendFull) {
      root.putObject(DeltaFrame.EXTENSION_MEMBER).put(SEND_FULL, true);
    }
    return toBytes(root);
  }

  /**
   * The gzip payload of a {@code reconfigure} message for {@code configTable}, with its hash
   * computed here. {@code timestampSeconds} is seconds since the epoch, with a fraction.
   */
  public static byte[] reconfigure(JsonNode configTable, double timestampSeconds) {
    return reconfigure(configTable, timestampSeconds, null);
  }

  /**
   * Field a node adds to the {@code reconfigure} messages it builds itself (configsync extension,
   * outside {@code config_table}, so the hash is unaffected): {@code "manual"} for a configuration
   * loaded by hand, so that it is still known as such after a restart.
   */
  public static final String ORIGIN_FIELD = "configsync_origin";

  /** As {@link #reconfigure(JsonNode, double)}, marking the message's origin when not null. */
  public static byte[] reconfigure(
      JsonNode configTable, double timestampSeconds, @Nullable String origin) {
    return reconfigure(configTable, ConfigHash.configHashes(configTable), timestampSeconds, origin);
  }

  /** As {@link #reconfigure(JsonNode, double, String)}, with {@code hashes} already computed. */
  public static byte[] reconfigure(
      JsonNode configTable, ConfigHashes hashes, double timestampSeconds, @Nullable String origin) {
    return ReconfigureFrame.begin(toBytes(configTable)).finish(hashes, timestampSeconds, origin);
  }

  /**
   * A {@code reconfigure} frame compressed in two steps, so that the costly part can run while the
   * configuration's hashes are still being computed: {@link #begin} compresses the message up to
   * and including {@code config_table} (the configuration's JSON, as given), {@link #finish} adds
   * the hashes, the timestamp and the origin and closes the gzip stream.
   *
   * <p>The message is {@code {"type":"reconfigure","config_table":<json>,"config_hash":..,
   * "hashes":{..},"timestamp":..[,"configsync_origin":..]}}. Not thread-safe: {@code finish} may
   * run on another thread than {@code begin} only after a happens-before edge (a future's result,
   * for example), and at most once.
   */
  public static final class ReconfigureFrame {
    private static final byte[] HEAD =
        ("{\"type\":\"" + TYPE_RECONFIGURE + "\",\"config_table\":")
            .getBytes(StandardCharsets.US_ASCII);

    private final ByteArrayOutputStream out;
    private final GZIPOutputStream gzip;

    private ReconfigureFrame(ByteArrayOutputStream out, GZIPOutputStream gzip) {
      this.out = out;
      this.gzip = gzip;
    }

    /**
     * Compresses the start of the message with {@code configJson} as its {@code config_table}.
     *
     * @param configJson one JSON value in UTF-8, as written by Jackson (the caller's guarantee: it
     *     is copied into the message as it is)
     */
    public static ReconfigureFrame begin(byte[] configJson) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(256, configJson.length / 4));
      try {
        GZIPOutputStream gzip = new GZIPOutputStream(out, 64 * 1024);
        gzip.write(HEAD);
        gzip.write(configJson);
        return new ReconfigureFrame(out, gzip);
      } catch (IOException e) {
        throw new UncheckedIOException(e); // cannot happen in memory
      }
    }

    /** Adds the rest of the message and returns the whole compressed frame. */
    public byte[] finish(ConfigHashes hashes, double timestampSeconds, @Nullable String origin) {
      ObjectNode tail = Json.WRITER.createObjectNode();
      putHashes(tail, hashes);
      tail.put("timestamp", timestampSeconds);
      if (origin != null) {
        tail.put(ORIGIN_FIELD, origin);
      }
      byte[] rest = toBytes(tail); // {"config_hash":...}: its '{' becomes the ',' after the table
      try {
        gzip.write(',');
        gzip.write(rest, 1, rest.length - 1);
        gzip.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e); // cannot happen in memory
      }
      return out.toByteArray();
    }
  }

  /**
   * Puts a message's {@code config_hash} and its {@code hashes} object (the six granular hashes, in
   * Kong's order) into {@code message}.
   */
  public static void putHashes(ObjectNode message, ConfigHashes hashes) {
    message.put("config_hash", hashes.config());
    ObjectNode h = message.putObject("hashes");
    h.put("config", hashes.config());
    h.put("routes", hashes.routes());
    h.put("services", hashes.services());
    h.put("plugins", hashes.plugins());
    h.put("upstreams", hashes.upstreams());
    h.put("targets", hashes.targets());
  }

  private static byte[] toBytes(JsonNode node) {
    try {
      return Json.WRITER.writeValueAsBytes(node);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree could not be written", e);
    }
  }
}

package dev.configsync;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.DeltaFrame;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;

/**
 * Turns a {@code reconfigure} payload (gzip of JSON) into a verified snapshot, or a typed
 * rejection. Every check runs before anything is allocated in proportion to what the payload
 * claims: the compressed size first, then the inflated size while inflating, then Jackson's limits
 * while parsing. Stateless and thread-safe.
 */
final class PayloadDecoder {
  private final long maxPayloadBytes;
  private final long maxInflatedBytes;

  private final @Nullable Executor inflater;

  PayloadDecoder(long maxPayloadBytes, long maxInflatedBytes) {
    this(maxPayloadBytes, maxInflatedBytes, null);
  }

  /**
   * @param inflater where payloads larger than {@link #INFLATE_AHEAD_BYTES} are inflated, ahead of
   *     the parse on the calling thread; null to inflate on the calling thread
   */
  PayloadDecoder(long maxPayloadBytes, long maxInflatedBytes, @Nullable Executor inflater) {
    this.maxPayloadBytes = maxPayloadBytes;
    this.maxInflatedBytes = maxInflatedBytes;
    this.inflater = inflater;
  }

  /** Below this compressed size a second thread costs more than it saves. */
  static final int INFLATE_AHEAD_BYTES = 64 * 1024;

  private InputStream inflate(byte[] payload) throws IOException {
    Executor e = inflater;
    if (e != null && payload.length >= INFLATE_AHEAD_BYTES) {
      try {
        return Gzip.inflatingAhead(payload, maxInflatedBytes, e);
      } catch (RejectedExecutionException closing) {
        // The client is closing: inflate here, as without an inflater.
      }
    }
    return Gzip.inflating(payload, maxInflatedBytes);
  }

  ConfigSnapshot decode(byte[] payload, SnapshotSource source, Instant now)
      throws ConfigRejectedException {
    return verify(read(payload), payload, source, now);
  }

  /**
   * Inflates and parses a payload, within the limits, into a frozen message of any type ({@code
   * reconfigure} or {@code reconfigure_delta}); {@link #verify} checks a {@code reconfigure}.
   */
  JsonNode read(byte[] payload) throws ConfigRejectedException {
    if (payload.length > maxPayloadBytes) {
      throw reject(
          Reason.PAYLOAD_TOO_LARGE,
          null,
          "payload of " + payload.length + " bytes exceeds the maximum of " + maxPayloadBytes,
          null);
    }
    JsonNode message;
    try (InputStream in = inflate(payload)) {
      message = Json.readFrozen(in, () -> Gzip.inflating(payload, maxInflatedBytes));
      Gzip.drain(in); // reach the gzip trailer, so that its CRC is checked
    } catch (Gzip.InflatedTooLargeException e) {
      throw reject(
          Reason.INFLATED_TOO_LARGE,
          null,
          "payload inflates to more than " + maxInflatedBytes + " bytes",
          e);
    } catch (JsonProcessingException e) {
      throw reject(
          Reason.BAD_JSON, null, "payload is not valid JSON: " + Json.describeWithoutContent(e), e);
    } catch (EOFException e) {
      // GZIPInputStream's EOFException often has no message; say what it means.
      throw reject(Reason.BAD_GZIP, null, "payload is not valid gzip: it is truncated", e);
    } catch (IOException e) {
      throw reject(Reason.BAD_GZIP, null, "payload is not valid gzip: " + e.getMessage(), e);
    }
    return message;
  }

  /** Whether a message {@link #read} gave is a {@code reconfigure_delta}. */
  static boolean isDelta(JsonNode message) {
    return DeltaFrame.TYPE.equals(message.path("type").asText(null));
  }

  static ConfigSnapshot verify(
      JsonNode message, byte[] payload, SnapshotSource source, Instant now) {
    if (!message.isObject()) {
      throw reject(Reason.BAD_MESSAGE, null, "message is not a JSON object", null);
    }
    JsonNode type = message.path("type");
    if (!HybridProtocol.TYPE_RECONFIGURE.equals(type.asText(null))) {
      throw reject(
          Reason.BAD_MESSAGE,
          null,
          "message type is " + describe(type) + ", expected \"reconfigure\"",
          null);
    }
    JsonNode claimed = message.path("config_hash");
    @Nullable String claimedHash = null;
    if (!claimed.isMissingNode() && !claimed.isNull()) {
      if (!claimed.isTextual() || !ConfigHash.isValidHash(claimed.textValue())) {
        throw reject(
            Reason.BAD_MESSAGE,
            null,
            "config_hash is " + describe(claimed) + ", expected 32 lowercase hex characters",
            null);
      }
      claimedHash = claimed.textValue();
    }
    JsonNode table = message.path("config_table");
    if (!table.isObject()) {
      throw reject(
          Reason.BAD_MESSAGE,
          claimedHash,
          "config_table is " + describe(table) + ", expected an object",
          null);
    }
    ConfigHashes hashes = ConfigHash.configHashes(table);
    if (claimedHash != null && !claimedHash.equals(hashes.config())) {
      throw reject(
          Reason.HASH_MISMATCH,
          claimedHash,
          "config_hash " + claimedHash + " does not match the content (" + hashes.config() + ")",
          null);
    }
    // A configuration loaded by hand stays MANUAL across restarts, until the control plane's
    // replaces it.
    SnapshotSource effective =
        source == SnapshotSource.CACHE
                && "manual".equals(message.path(HybridProtocol.ORIGIN_FIELD).asText(null))
            ? SnapshotSource.MANUAL
            : source;
    return new ConfigSnapshot(
        hashes, effective, timestamp(message.path("timestamp"), now), table, payload);
  }

  private static Instant timestamp(JsonNode node, Instant fallback) {
    return node.isNumber() ? timestamp(node.doubleValue(), fallback) : fallback;
  }

  /** Seconds since the epoch as an instant; {@code fallback} for NaN or nonsense. */
  static Instant timestamp(double seconds, Instant fallback) {
    // Beyond about year 5000 (or NaN) the field is nonsense; keep the time of receipt instead.
    if (!(Math.abs(seconds) < 1e11)) {
      return fallback;
    }
    long whole = (long) Math.floor(seconds);
    long nanos = Math.round((seconds - whole) * 1e9);
    return Instant.ofEpochSecond(whole, nanos);
  }

  private static String describe(JsonNode node) {
    if (node.isMissingNode()) {
      return "missing";
    }
    if (node.isTextual()) {
      String text = node.textValue();
      return text.length() > 40 ? "a string of " + text.length() + " characters" : '"' + text + '"';
    }
    return "a JSON " + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
  }

  private static ConfigRejectedException reject(
      Reason reason, @Nullable String hash, String message, @Nullable Throwable cause) {
    return new ConfigRejectedException(reason, hash, message, cause);
  }
}

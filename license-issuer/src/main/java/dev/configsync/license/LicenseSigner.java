package dev.configsync.license;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.License;
import dev.configsync.internal.CanonicalJson;
import dev.configsync.internal.Ed25519Keys;
import dev.configsync.internal.Json;
import java.io.UncheckedIOException;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.time.LocalDate;
import java.util.Base64;
import java.util.UUID;

/**
 * Signs licenses with an Ed25519 private key, the way a configsync data plane verifies them.
 *
 * <p>A license document is
 *
 * <pre>{@code
 * {"license":{"version":1,"signature":"<base64>","payload":{"customer":"...",
 *   "dataplanes":"N","license_creation_date":"YYYY-MM-DD","license_expiration_date":"YYYY-MM-DD",
 *   "license_key":"...","product_subscription":"..."}}}
 * }</pre>
 *
 * <p>where {@code signature} is the standard base64 (RFC 4648 section 4, with padding) of the
 * 64-byte Ed25519 signature (RFC 8032, pure Ed25519, no context) of the {@linkplain CanonicalJson
 * canonical} UTF-8 bytes of the {@code payload} object: keys sorted, no whitespace, integers only.
 * Only {@code payload} is signed.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class LicenseSigner {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private final PrivateKey privateKey;

  /**
   * Creates a signer.
   *
   * @throws IllegalArgumentException when {@code privateKey} is not an Ed25519 private key
   */
  public LicenseSigner(PrivateKey privateKey) {
    this.privateKey = Ed25519Keys.requirePrivate(privateKey);
  }

  /** A new random Ed25519 key pair. */
  public static KeyPair generateKeyPair() {
    try {
      return KeyPairGenerator.getInstance(Ed25519Keys.ALGORITHM).generateKeyPair();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JDK has no Ed25519 (it is standard since Java 15)", e);
    }
  }

  /**
   * {@code key} as a {@code -----BEGIN PUBLIC KEY-----} PEM block (X.509 SubjectPublicKeyInfo),
   * with a trailing newline; what a data plane is configured with.
   *
   * @throws IllegalArgumentException when {@code key} is not an Ed25519 public key
   */
  public static String publicKeyPem(PublicKey key) {
    return Ed25519Keys.writePublicKey(key);
  }

  /**
   * {@code key} as an unencrypted {@code -----BEGIN PRIVATE KEY-----} PEM block (PKCS#8), with a
   * trailing newline. Keep it secret.
   *
   * @throws IllegalArgumentException when {@code key} is not an Ed25519 private key or cannot be
   *     exported
   */
  public static String privateKeyPem(PrivateKey key) {
    return Ed25519Keys.writePrivateKey(key);
  }

  /**
   * Reads the first {@code -----BEGIN PRIVATE KEY-----} block (unencrypted PKCS#8) of {@code pem},
   * such as {@code openssl genpkey -algorithm ed25519} writes.
   *
   * @throws IllegalArgumentException when there is no such block or it holds no Ed25519 key
   */
  public static PrivateKey readPrivateKeyPem(String pem) {
    return Ed25519Keys.readPrivateKey(pem);
  }

  /**
   * Reads the first {@code -----BEGIN PUBLIC KEY-----} block (X.509 SubjectPublicKeyInfo) of {@code
   * pem}, such as {@code openssl pkey -pubout} writes.
   *
   * @throws IllegalArgumentException when there is no such block or it holds no Ed25519 key
   */
  public static PublicKey readPublicKeyPem(String pem) {
    return Ed25519Keys.readPublicKey(pem);
  }

  /**
   * The signed license document for {@code license}. The payload has {@code customer}, {@code
   * license_key}, {@code product_subscription}, {@code license_creation_date} and {@code
   * license_expiration_date} as strings, and {@code dataplanes} as a decimal string unless it is
   * -1. A data plane that verifies the document gets back a {@link License} equal to this one.
   *
   * @throws IllegalArgumentException when a date's year is outside 0..9999 (it would not fit {@code
   *     YYYY-MM-DD}); the message names the date
   */
  public ObjectNode sign(License license) {
    checkYear("createdOn", license.createdOn());
    checkYear("expiresOn", license.expiresOn());
    ObjectNode payload = NODES.objectNode();
    payload.put("customer", license.customer());
    if (license.dataplanes() >= 0) {
      payload.put("dataplanes", Integer.toString(license.dataplanes()));
    }
    payload.put("license_creation_date", license.createdOn().toString());
    payload.put("license_expiration_date", license.expiresOn().toString());
    payload.put("license_key", license.licenseKey());
    payload.put("product_subscription", license.product());
    return signPayload(payload);
  }

  private static void checkYear(String name, LocalDate date) {
    if (date.getYear() < 0 || date.getYear() > 9999) {
      throw new IllegalArgumentException(name + " must have a year from 0 to 9999: " + date);
    }
  }

  /**
   * {@link #sign} written as compact JSON.
   *
   * @throws IllegalArgumentException as {@link #sign} does
   */
  public String signToJson(License license) {
    return toJson(sign(license));
  }

  /**
   * The signed license document for any payload object, for payloads with more fields than {@link
   * License} has (Kong's {@code admin_seats} or {@code support_plan}, say). A data plane accepts
   * the license only if the payload also has the fields {@link #sign} writes, with valid values.
   * {@code payload} is copied, not kept.
   *
   * @throws IllegalArgumentException when {@code payload} has no canonical form (it holds a
   *     non-integer number, say; see {@link CanonicalJson})
   */
  public ObjectNode signPayload(ObjectNode payload) {
    byte[] signed = CanonicalJson.canonicalBytes(payload);
    byte[] signature;
    try {
      Signature ed25519 = Ed25519Keys.newSignature();
      ed25519.initSign(privateKey);
      ed25519.update(signed);
      signature = ed25519.sign();
    } catch (InvalidKeyException | SignatureException e) {
      throw new IllegalStateException("Ed25519 signing failed: " + e.getMessage(), e);
    }
    ObjectNode document = NODES.objectNode();
    ObjectNode license = document.putObject("license");
    license.put("version", 1);
    license.put("signature", Base64.getEncoder().encodeToString(signature));
    license.set("payload", payload.deepCopy());
    return document;
  }

  /**
   * A copy of {@code configTable} with its {@code licenses} set to the one entry {@code
   * [{"id":"<uuid>","payload":"<licenseDocument as a JSON string>"}]}, replacing any licenses it
   * had; what a control plane publishes. The id is the name-based (version 3) UUID of the UTF-8
   * bytes of the document's {@code license_key} ({@link UUID#nameUUIDFromBytes}), so that
   * re-publishing a license keeps its id. {@code configTable} is not changed.
   *
   * @throws IllegalArgumentException when {@code configTable} is not an object, or {@code
   *     licenseDocument} has no {@code license.payload.license_key} string
   */
  public static ObjectNode withLicense(JsonNode configTable, JsonNode licenseDocument) {
    if (!configTable.isObject()) {
      throw new IllegalArgumentException(
          "the configuration table must be a JSON object, not " + configTable.getNodeType());
    }
    JsonNode key = licenseDocument.path("license").path("payload").path("license_key");
    if (!key.isTextual()) {
      throw new IllegalArgumentException(
          "the license document has no license.payload.license_key string");
    }
    ObjectNode copy = (ObjectNode) configTable.deepCopy();
    ObjectNode entry = copy.putArray("licenses").addObject();
    entry.put("id", UUID.nameUUIDFromBytes(key.textValue().getBytes(UTF_8)).toString());
    entry.put("payload", toJson(licenseDocument));
    return copy;
  }

  private static String toJson(JsonNode node) {
    try {
      return Json.WRITER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}

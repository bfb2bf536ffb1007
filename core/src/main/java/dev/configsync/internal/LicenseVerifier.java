package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.License;
import dev.configsync.LicenseException;
import dev.configsync.LicenseException.Reason;
import dev.configsync.LicenseState;
import java.io.IOException;
import java.math.BigInteger;
import java.security.InvalidKeyException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds and verifies the license in a configuration. Not API.
 *
 * <p>The license travels in {@code config_table.licenses}, an array whose elements are objects with
 * a {@code payload} field holding the license document, either as a JSON string or as an embedded
 * object:
 *
 * <pre>{@code
 * "licenses":[{"id":"...","payload":"{\"license\":{\"version\":1,\"signature\":\"...\",\"payload\":{...}}}"}]
 * }</pre>
 *
 * <p>The document is {@code {"license":{"version":1,"signature":"<base64>","payload":{...}}}};
 * {@code version} is the number 1 (the string {@code "1"}, as Kong writes it, is accepted too);
 * {@code signature} is the standard base64 of a 64-byte Ed25519 signature over the {@linkplain
 * CanonicalJson canonical bytes} of {@code payload}. The signature is checked before any payload
 * field is read. The payload must then have non-blank strings {@code customer} and {@code
 * license_key}, and {@code license_creation_date} and {@code license_expiration_date} as {@code
 * YYYY-MM-DD} strings with the expiry not before the creation; {@code product_subscription} is an
 * optional string; {@code dataplanes} is optional and, when present, a non-negative integer that
 * fits an {@code int}, as a string of ASCII digits or as a JSON integer. Other payload fields are
 * signed but not read.
 *
 * <p>When {@code licenses} has several entries, each is verified on its own; entries that fail are
 * ignored (and logged at WARN) as long as one passes, and of those that pass the one with the
 * latest {@code license_expiration_date} wins, the first in array order on a tie. The verifier has
 * no clock: an expired license that verifies is returned, and {@link #stateAt} says it is expired.
 * When no entry passes, the failure of the first entry is thrown with the failures of the others
 * {@linkplain Throwable#getSuppressed() suppressed}.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class LicenseVerifier {
  private static final Logger log = LoggerFactory.getLogger(LicenseVerifier.class);
  private static final Pattern DATE = Pattern.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}");
  private static final Pattern DIGITS = Pattern.compile("[0-9]{1,10}");
  private static final int SIGNATURE_BYTES = 64;

  private final PublicKey publicKey;

  /**
   * Creates a verifier for licenses signed by the private half of {@code publicKey}.
   *
   * @throws IllegalArgumentException when {@code publicKey} is not an Ed25519 public key
   */
  public LicenseVerifier(PublicKey publicKey) {
    this.publicKey = Ed25519Keys.requirePublic(publicKey);
  }

  /**
   * A verifier for the Ed25519 public key in the first {@code -----BEGIN PUBLIC KEY-----} block
   * (X.509 SubjectPublicKeyInfo) of {@code pem}.
   *
   * @throws IllegalArgumentException when there is no such block or it holds no Ed25519 key
   */
  public static LicenseVerifier fromPem(String pem) {
    return new LicenseVerifier(Ed25519Keys.readPublicKey(pem));
  }

  /**
   * The verified license in {@code configTable} (a configuration's {@code config_table}).
   *
   * @throws LicenseException when {@code licenses} is absent, {@code null} or empty ({@link
   *     Reason#MISSING}), or no entry of it holds a license that is well formed and correctly
   *     signed
   */
  public License verify(JsonNode configTable) throws LicenseException {
    JsonNode licenses = configTable.isObject() ? configTable.get("licenses") : null;
    if (licenses == null || licenses.isNull() || (licenses.isArray() && licenses.isEmpty())) {
      throw new LicenseException(
          Reason.MISSING,
          "the configuration carries no license (config_table.licenses is absent or empty): "
              + "upload a license to the control plane, or turn licensing off on this node");
    }
    if (!licenses.isArray()) {
      throw new LicenseException(
          Reason.MALFORMED,
          "config_table.licenses is a "
              + licenses.getNodeType()
              + ", not an array: the control plane publishes licenses in a form configsync does"
              + " not know; publish them as an array of {\"payload\": <license document>}");
    }
    License best = null;
    List<LicenseException> failures = new ArrayList<>();
    for (int i = 0; i < licenses.size(); i++) {
      try {
        License license = verifyEntry(i, licenses.get(i));
        if (best == null || license.expiresOn().isAfter(best.expiresOn())) {
          best = license;
        }
      } catch (LicenseException e) {
        failures.add(e);
      }
    }
    if (best == null) {
      LicenseException first = failures.get(0);
      for (int i = 1; i < failures.size(); i++) {
        first.addSuppressed(failures.get(i));
      }
      throw first;
    }
    for (LicenseException failure : failures) {
      log.warn("Ignoring a license entry ({}): {}", failure.reason(), failure.getMessage());
    }
    return best;
  }

  /**
   * Where {@code license} stands at {@code now}: {@link LicenseState#EXPIRED} from {@link
   * License#expiresAt()} on; {@link LicenseState#EXPIRING} from {@code expiresAt - warnBefore}
   * (inclusive) until then; {@link LicenseState#VALID} before; {@link LicenseState#NONE} when
   * {@code license} is null.
   *
   * @param warnBefore how long before the expiry to warn; zero for no warning window
   * @throws IllegalArgumentException when {@code warnBefore} is negative
   */
  public static LicenseState stateAt(@Nullable License license, Instant now, Duration warnBefore) {
    if (warnBefore.isNegative()) {
      throw new IllegalArgumentException("warnBefore must not be negative: " + warnBefore);
    }
    if (license == null) {
      return LicenseState.NONE;
    }
    Instant expiresAt = license.expiresAt();
    if (!now.isBefore(expiresAt)) {
      return LicenseState.EXPIRED;
    }
    // Both instants lie within Instant's range, so the gap fits a Duration and nothing overflows.
    Duration left = Duration.between(now, expiresAt);
    return left.compareTo(warnBefore) <= 0 ? LicenseState.EXPIRING : LicenseState.VALID;
  }

  private License verifyEntry(int index, @Nullable JsonNode entry) {
    String where = "config_table.licenses[" + index + "]";
    if (entry == null || !entry.isObject()) {
      throw malformed(where, "is not an object");
    }
    JsonNode document = document(where, entry.get("payload"));
    JsonNode license = document.get("license");
    if (license == null || !license.isObject()) {
      throw malformed(where, "has no \"license\" object in its document");
    }
    checkVersion(where, license.get("version"));
    byte[] signature = signature(where, license.get("signature"));
    JsonNode payload = license.get("payload");
    if (payload == null || !payload.isObject()) {
      throw malformed(where, "has no license.payload object");
    }
    byte[] signed;
    try {
      signed = CanonicalJson.canonicalBytes(payload);
    } catch (IllegalArgumentException e) {
      throw malformed(where, "has a payload that cannot be signed: " + e.getMessage());
    }
    if (!verifies(signed, signature)) {
      throw new LicenseException(
          Reason.BAD_SIGNATURE,
          where
              + ": the license signature does not verify against this node's license public key."
              + " Either the license was changed after it was signed, or it was signed with another"
              + " key: check that the node is configured with the public key that matches the"
              + " control plane's signing key, or re-issue the license");
    }
    return fields(where, payload);
  }

  private static JsonNode document(String where, @Nullable JsonNode payload) {
    if (payload == null || payload.isNull()) {
      throw malformed(where, "has no \"payload\" field");
    }
    if (payload.isObject()) {
      return payload;
    }
    if (!payload.isTextual()) {
      throw malformed(
          where, "has a payload that is a " + payload.getNodeType() + ", not a string or object");
    }
    try {
      return Json.readFrozen(payload.textValue().getBytes(UTF_8));
    } catch (IOException e) {
      throw new LicenseException(
          Reason.MALFORMED,
          where + ": the payload string is not valid JSON; re-issue the license",
          e);
    }
  }

  private static void checkVersion(String where, @Nullable JsonNode version) {
    if (version == null || version.isNull()) {
      throw malformed(where, "has no license.version");
    }
    boolean one =
        (version.isIntegralNumber() && version.bigIntegerValue().equals(BigInteger.ONE))
            || (version.isTextual() && version.textValue().equals("1"));
    if (!one) {
      throw new LicenseException(
          Reason.UNSUPPORTED_VERSION,
          where
              + ": license version "
              + (version.toString().length() <= 20 ? version.toString() : "(a long value)")
              + " is not supported (configsync knows version 1); use a license issued for"
              + " version 1, or a configsync release that knows the newer version");
    }
  }

  private static byte[] signature(String where, @Nullable JsonNode signature) {
    if (signature == null || !signature.isTextual()) {
      throw malformed(where, "has no license.signature string");
    }
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(signature.textValue());
    } catch (IllegalArgumentException e) {
      throw new LicenseException(
          Reason.MALFORMED,
          where + ": license.signature is not standard base64; re-issue the license",
          e);
    }
    if (!Base64.getEncoder().encodeToString(bytes).equals(signature.textValue())) {
      // The decoder ignores the unused low bits of the last character before the padding, so
      // several strings decode to the same signature. Only the one encoding is accepted: a
      // changed license must never verify, not even in bits that carry nothing.
      throw malformed(
          where, "has a license.signature that is not in canonical standard base64 (with padding)");
    }
    if (bytes.length != SIGNATURE_BYTES) {
      throw malformed(
          where,
          "has a license.signature of "
              + bytes.length
              + " bytes; an Ed25519 signature has "
              + SIGNATURE_BYTES);
    }
    return bytes;
  }

  private boolean verifies(byte[] signed, byte[] signature) {
    try {
      Signature ed25519 = Ed25519Keys.newSignature();
      ed25519.initVerify(publicKey);
      ed25519.update(signed);
      return ed25519.verify(signature);
    } catch (SignatureException e) {
      // The JDK throws for some byte strings that are not signatures at all; still a bad one.
      return false;
    } catch (InvalidKeyException e) {
      throw new IllegalStateException("the key was checked when the verifier was made", e);
    }
  }

  private static License fields(String where, JsonNode payload) {
    String customer = requiredText(where, payload, "customer");
    String key = requiredText(where, payload, "license_key");
    LocalDate createdOn = date(where, payload, "license_creation_date");
    LocalDate expiresOn = date(where, payload, "license_expiration_date");
    if (expiresOn.isBefore(createdOn)) {
      throw malformed(
          where,
          "expires ("
              + expiresOn
              + ") before it was created ("
              + createdOn
              + ") according to its own payload");
    }
    String product = "";
    JsonNode productNode = payload.get("product_subscription");
    if (productNode != null && !productNode.isNull()) {
      if (!productNode.isTextual()) {
        throw malformed(where, "has a product_subscription that is not a string");
      }
      product = productNode.textValue();
    }
    return new License(customer, key, product, dataplanes(where, payload), createdOn, expiresOn);
  }

  private static String requiredText(String where, JsonNode payload, String field) {
    JsonNode node = payload.get(field);
    if (node == null || !node.isTextual() || node.textValue().isBlank()) {
      throw malformed(where, "has no " + field + " (a non-blank string) in its payload");
    }
    return node.textValue();
  }

  private static LocalDate date(String where, JsonNode payload, String field) {
    JsonNode node = payload.get(field);
    if (node == null || !node.isTextual() || !DATE.matcher(node.textValue()).matches()) {
      throw malformed(where, "has no " + field + " as a YYYY-MM-DD string in its payload");
    }
    try {
      return LocalDate.parse(node.textValue());
    } catch (DateTimeParseException e) {
      throw new LicenseException(
          Reason.MALFORMED,
          where + ": " + field + " " + node.textValue() + " is not a date; re-issue the license",
          e);
    }
  }

  private static int dataplanes(String where, JsonNode payload) {
    JsonNode node = payload.get("dataplanes");
    if (node == null || node.isNull()) {
      return -1;
    }
    BigInteger value = null;
    if (node.isTextual() && DIGITS.matcher(node.textValue()).matches()) {
      value = new BigInteger(node.textValue());
    } else if (node.isIntegralNumber()) {
      value = node.bigIntegerValue();
    }
    if (value == null
        || value.signum() < 0
        || value.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
      throw malformed(
          where,
          "has a dataplanes value that is not a whole number from 0 to " + Integer.MAX_VALUE);
    }
    return value.intValueExact();
  }

  private static LicenseException malformed(String where, String what) {
    return new LicenseException(
        Reason.MALFORMED, where + " " + what + "; re-issue the license with a configsync signer");
  }
}

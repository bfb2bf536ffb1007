package dev.configsync.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.License;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Just enough license issuing for core's own tests of verification. The real issuer ({@code
 * LicenseSigner}) lives in the license-issuer module, which depends on core, so core's tests cannot
 * use it (a reactor cycle). That the verifier accepts what the real signer writes is checked with a
 * document it wrote ({@code LicenseVerifierTest.KNOWN_DOCUMENT}) and, across modules, by the
 * issuer's, agent's and system tests.
 */
public final class TestLicenseSigner {
  private final PrivateKey key;

  public TestLicenseSigner(PrivateKey key) {
    this.key = key;
  }

  public static KeyPair generateKeyPair() {
    try {
      return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new AssertionError(e);
    }
  }

  /** The signed document for {@code license}'s fields, as a control plane receives it. */
  public ObjectNode sign(License license) {
    Map<String, String> fields = new LinkedHashMap<>();
    fields.put("customer", license.customer());
    fields.put("license_key", license.licenseKey());
    fields.put("product_subscription", license.product());
    fields.put("license_creation_date", license.createdOn().toString());
    fields.put("license_expiration_date", license.expiresOn().toString());
    if (license.dataplanes() != -1) {
      fields.put("dataplanes", String.valueOf(license.dataplanes()));
    }
    return signPayload(Json.WRITER.valueToTree(fields));
  }

  /** {@code {"license":{"version":1,"signature":...,"payload":payload}}}, signed with the key. */
  public ObjectNode signPayload(ObjectNode payload) {
    try {
      Signature ed25519 = Signature.getInstance("Ed25519");
      ed25519.initSign(key);
      ed25519.update(CanonicalJson.canonicalBytes(payload));
      String signature = Base64.getEncoder().encodeToString(ed25519.sign());
      return Json.WRITER.valueToTree(
          Map.of("license", Map.of("version", 1, "signature", signature, "payload", payload)));
    } catch (GeneralSecurityException e) {
      throw new AssertionError(e);
    }
  }

  public String signToJson(License license) {
    return json(sign(license));
  }

  /** A copy of {@code configTable} whose only license entry carries {@code document}. */
  public static ObjectNode withLicense(JsonNode configTable, JsonNode document) {
    ObjectNode copy = configTable.deepCopy();
    copy.putArray("licenses").addObject().put("id", "test").put("payload", json(document));
    return copy;
  }

  private static String json(JsonNode node) {
    try {
      return Json.WRITER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }
}

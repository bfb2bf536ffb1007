package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.License;
import dev.configsync.LicenseException;
import dev.configsync.LicenseException.Reason;
import dev.configsync.LicenseState;
import java.io.IOException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Base64;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class LicenseVerifierTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static final KeyPair KEYS = TestLicenseSigner.generateKeyPair();
  private static final KeyPair OTHER_KEYS = TestLicenseSigner.generateKeyPair();
  private static final TestLicenseSigner SIGNER = new TestLicenseSigner(KEYS.getPrivate());
  private static final LicenseVerifier VERIFIER = new LicenseVerifier(KEYS.getPublic());

  private static final License TERMS =
      new License(
          "Example Company, Inc",
          "00141000017ODj3AAG_a1V41000004wT0OEAU",
          "Konnect Enterprise",
          5,
          LocalDate.of(2024, 1, 1),
          LocalDate.of(2024, 12, 31));

  private static final License EXPECTED =
      new License(
          "Example Company, Inc",
          "00141000017ODj3AAG_a1V41000004wT0OEAU",
          "Konnect Enterprise",
          5,
          LocalDate.of(2024, 1, 1),
          LocalDate.of(2024, 12, 31));

  /** The document the RFC 8032 test-1 key signs for these terms (see LicenseSignerTest). */
  private static final String KNOWN_DOCUMENT =
      "{\"license\":{\"version\":1,\"signature\":\"mvjX2imvZ1w7GDylBtAPP+/Mha+C4OVHVm2GdRUVTqezo9Co"
          + "CNbfAANs3vW++ibDCwziosOkKfbN+8HlS23MAg==\",\"payload\":{\"customer\":\"Example Company,"
          + " Inc\",\"dataplanes\":\"1\",\"license_creation_date\":\"2024-01-01\","
          + "\"license_expiration_date\":\"2024-12-31\",\"license_key\":"
          + "\"00141000017ODj3AAG_a1V41000004wT0OEAU\",\"product_subscription\":\"Konnect"
          + " Enterprise\"}}}";

  private static final String RFC8032_PUBLIC_PEM =
      """
      -----BEGIN PUBLIC KEY-----
      MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
      -----END PUBLIC KEY-----
      """;

  // ---------------------------------------------------------------- verifying

  @Test
  void signThenVerifyRoundTrip() {
    JsonNode table = received(TestLicenseSigner.withLicense(table(), SIGNER.sign(TERMS)));

    assertThat(VERIFIER.verify(table)).isEqualTo(EXPECTED);
  }

  @Test
  void verifiesTheKnownAnswerDocumentWithAPemKey() {
    LicenseVerifier verifier = LicenseVerifier.fromPem(RFC8032_PUBLIC_PEM);

    License license =
        verifier.verify(received(tableWithEntry(MAPPER.getNodeFactory().textNode(KNOWN_DOCUMENT))));

    assertThat(license.dataplanes()).isEqualTo(1);
    assertThat(license.expiresAt()).isEqualTo(Instant.parse("2025-01-01T00:00:00Z"));
  }

  @Test
  void payloadAsStringAndAsEmbeddedObjectBothVerify() {
    ObjectNode document = SIGNER.sign(TERMS);

    JsonNode asString =
        received(tableWithEntry(MAPPER.getNodeFactory().textNode(document.toString())));
    JsonNode asObject = received(tableWithEntry(document));

    assertThat(asString.at("/licenses/0/payload").isTextual()).isTrue();
    assertThat(asObject.at("/licenses/0/payload").isObject()).isTrue();
    assertThat(VERIFIER.verify(asString)).isEqualTo(EXPECTED);
    assertThat(VERIFIER.verify(asObject)).isEqualTo(EXPECTED);
  }

  @Test
  void reorderedKeysAndWhitespaceStillVerify() {
    String signature = SIGNER.sign(TERMS).at("/license/signature").textValue();
    String reordered =
        """
        {
          "license" : {
            "payload" : {
              "product_subscription" : "Konnect Enterprise",
              "license_key" : "00141000017ODj3AAG_a1V41000004wT0OEAU",
              "license_expiration_date" : "2024-12-31",
              "license_creation_date" : "2024-01-01",
              "dataplanes" : "5",
              "customer" : "Example Company, Inc"
            },
            "signature" : "%s",
            "version" : 1
          }
        }
        """
            .formatted(signature);

    JsonNode asString = received(tableWithEntry(MAPPER.getNodeFactory().textNode(reordered)));
    JsonNode asObject =
        received("{ \"licenses\" : [ { \"id\" : \"x\", \"payload\" : " + reordered + " } ] }");

    assertThat(VERIFIER.verify(asString)).isEqualTo(EXPECTED);
    assertThat(VERIFIER.verify(asObject)).isEqualTo(EXPECTED);
  }

  @Test
  void tamperedPayloadFieldIsABadSignature() {
    ObjectNode document = SIGNER.sign(TERMS);
    ((ObjectNode) document.at("/license/payload")).put("license_expiration_date", "2099-12-31");

    assertReason(tableWithEntry(document), Reason.BAD_SIGNATURE)
        .hasMessageContaining("config_table.licenses[0]")
        .hasMessageContaining("public key")
        .hasMessageNotContaining(TERMS.licenseKey());
  }

  @Test
  void addedOrRemovedPayloadFieldIsABadSignature() {
    ObjectNode added = SIGNER.sign(TERMS);
    ((ObjectNode) added.at("/license/payload")).put("admin_seats", "100");
    ObjectNode removed = SIGNER.sign(TERMS);
    ((ObjectNode) removed.at("/license/payload")).remove("dataplanes");

    assertReason(tableWithEntry(added), Reason.BAD_SIGNATURE);
    assertReason(tableWithEntry(removed), Reason.BAD_SIGNATURE);
  }

  @Test
  void signatureFromAnotherKeyIsABadSignature() {
    ObjectNode document = new TestLicenseSigner(OTHER_KEYS.getPrivate()).sign(TERMS);

    assertReason(TestLicenseSigner.withLicense(table(), document), Reason.BAD_SIGNATURE);
  }

  @Test
  void signatureThatIsNotBase64OfSixtyFourBytesIsMalformed() {
    for (String signature :
        List.of("not base64!", "", "AAAA", Base64.getEncoder().encodeToString(new byte[65]))) {
      ObjectNode document = SIGNER.sign(TERMS);
      ((ObjectNode) document.get("license")).put("signature", signature);

      assertReason(tableWithEntry(document), Reason.MALFORMED)
          .hasMessageContaining("license.signature");
    }
  }

  /**
   * An Ed25519 signature is 64 bytes, 88 base64 characters ending in {@code ==}: the character
   * before the padding carries 2 bits and 4 unused ones, which the JDK's decoder ignores. Setting
   * them must not leave a changed license that still verifies (a flaky failure of the byte-flip
   * property below found this).
   */
  @Test
  void signatureWithUnusedBitsSetIsMalformed() {
    ObjectNode document = SIGNER.sign(TERMS);
    ObjectNode license = (ObjectNode) document.get("license");
    String canonical = license.get("signature").textValue();
    assertThat(canonical).hasSize(88).endsWith("==");
    char last = canonical.charAt(85);
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int value = alphabet.indexOf(last);
    for (int unused = 1; unused < 16; unused++) {
      String variant =
          canonical.substring(0, 85) + alphabet.charAt(value ^ unused) + canonical.substring(86);
      assertThat(Base64.getDecoder().decode(variant))
          .as("the JDK decodes the variant to the same signature")
          .isEqualTo(Base64.getDecoder().decode(canonical));
      license.put("signature", variant);

      assertReason(tableWithEntry(document), Reason.MALFORMED)
          .hasMessageContaining("canonical standard base64");
    }
  }

  @Test
  void missingLicensesAreMissing() {
    assertReason(table(), Reason.MISSING)
        .hasMessageContaining("upload a license to the control plane");
    assertReason(received("{\"licenses\":null}"), Reason.MISSING);
    assertReason(received("{\"licenses\":[]}"), Reason.MISSING);
    assertReason(received("null"), Reason.MISSING);
    assertReason(received("[]"), Reason.MISSING);
  }

  @Test
  void malformedEntriesAreMalformed() {
    assertReason(received("{\"licenses\":{}}"), Reason.MALFORMED).hasMessageContaining("array");
    assertReason(received("{\"licenses\":[\"x\"]}"), Reason.MALFORMED);
    assertReason(received("{\"licenses\":[null]}"), Reason.MALFORMED);
    assertReason(received("{\"licenses\":[{\"id\":\"x\"}]}"), Reason.MALFORMED)
        .hasMessageContaining("payload");
    assertReason(received("{\"licenses\":[{\"payload\":42}]}"), Reason.MALFORMED);
    assertReason(received("{\"licenses\":[{\"payload\":\"{not json\"}]}"), Reason.MALFORMED)
        .hasMessageContaining("not valid JSON");
    assertReason(received("{\"licenses\":[{\"payload\":\"{}\"}]}"), Reason.MALFORMED)
        .hasMessageContaining("\"license\"");
    assertReason(received("{\"licenses\":[{\"payload\":{\"license\":[]}}]}"), Reason.MALFORMED);

    ObjectNode noPayload = SIGNER.sign(TERMS);
    ((ObjectNode) noPayload.get("license")).remove("payload");
    assertReason(tableWithEntry(noPayload), Reason.MALFORMED);

    ObjectNode noVersion = SIGNER.sign(TERMS);
    ((ObjectNode) noVersion.get("license")).remove("version");
    assertReason(tableWithEntry(noVersion), Reason.MALFORMED);
  }

  @Test
  void payloadWithAFloatHasNoCanonicalFormAndIsMalformed() {
    ObjectNode document = SIGNER.sign(TERMS);
    ((ObjectNode) document.at("/license/payload")).put("ratio", 1.5);

    assertReason(tableWithEntry(document), Reason.MALFORMED).hasMessageContaining("not an integer");
  }

  @Test
  void onlyVersionOneIsSupportedAsNumberOrString() {
    ObjectNode two = SIGNER.sign(TERMS);
    ((ObjectNode) two.get("license")).put("version", 2);
    ObjectNode kongStyle = SIGNER.sign(TERMS);
    ((ObjectNode) kongStyle.get("license")).put("version", "1");

    assertReason(tableWithEntry(two), Reason.UNSUPPORTED_VERSION).hasMessageContaining("version 2");
    assertThat(VERIFIER.verify(received(tableWithEntry(kongStyle)))).isEqualTo(EXPECTED);
  }

  @Test
  void signedPayloadsWithBadFieldsAreMalformed() {
    assertReason(signedWith("customer", "  "), Reason.MALFORMED).hasMessageContaining("customer");
    assertReason(signedWithout("license_key"), Reason.MALFORMED)
        .hasMessageContaining("license_key");
    assertReason(signedWith("license_creation_date", "2024-02-30"), Reason.MALFORMED);
    assertReason(signedWith("license_expiration_date", "31/12/2024"), Reason.MALFORMED);
    assertReason(signedWith("license_expiration_date", "+10000-01-01"), Reason.MALFORMED);
    assertReason(signedWith("license_expiration_date", "2023-12-31"), Reason.MALFORMED)
        .hasMessageContaining("before it was created");
    assertReason(signedWith("dataplanes", "many"), Reason.MALFORMED)
        .hasMessageContaining("dataplanes");
    assertReason(signedWith("dataplanes", "-1"), Reason.MALFORMED);
    assertReason(signedWith("dataplanes", "2147483648"), Reason.MALFORMED);
    assertReason(signedWith("dataplanes", ""), Reason.MALFORMED);
  }

  @Test
  void optionalFieldsAndExtraSignedFields() {
    ObjectNode payload = payload(TERMS);
    payload.remove("dataplanes");
    payload.remove("product_subscription");
    payload.put("admin_seats", "1");
    payload.putObject("limits").put("max_routes", 1000).putArray("regions").add("eu").add(true);
    ObjectNode numeric = payload(TERMS);
    numeric.put("dataplanes", 7);

    License license =
        VERIFIER.verify(TestLicenseSigner.withLicense(table(), SIGNER.signPayload(payload)));

    assertThat(license.dataplanes()).isEqualTo(-1);
    assertThat(license.product()).isEmpty();
    assertThat(
            VERIFIER
                .verify(TestLicenseSigner.withLicense(table(), SIGNER.signPayload(numeric)))
                .dataplanes())
        .isEqualTo(7);
  }

  @Test
  void amongSeveralLicensesTheVerifiedOneWithTheLatestExpiryWins() {
    License later = withExpiry(TERMS, LocalDate.of(2026, 6, 30));
    License latestButForged = withExpiry(TERMS, LocalDate.of(2099, 1, 1));
    ArrayNode licenses = MAPPER.createArrayNode();
    licenses.addObject().put("payload", "{garbage");
    licenses.addObject().put("payload", SIGNER.signToJson(TERMS));
    licenses
        .addObject()
        .put("payload", new TestLicenseSigner(OTHER_KEYS.getPrivate()).signToJson(latestButForged));
    licenses.addObject().set("payload", SIGNER.sign(later));
    licenses
        .addObject()
        .put("payload", SIGNER.signToJson(withExpiry(TERMS, LocalDate.of(2025, 1, 1))));
    ObjectNode table = table();
    table.set("licenses", licenses);

    assertThat(VERIFIER.verify(received(table)).expiresOn()).isEqualTo(LocalDate.of(2026, 6, 30));
  }

  @Test
  void onATieTheFirstWins() {
    License second =
        new License("Second", "another-license-key", "p", 1, TERMS.createdOn(), TERMS.expiresOn());
    ArrayNode licenses = MAPPER.createArrayNode();
    licenses.addObject().set("payload", SIGNER.sign(TERMS));
    licenses.addObject().set("payload", SIGNER.sign(second));
    ObjectNode table = table();
    table.set("licenses", licenses);

    assertThat(VERIFIER.verify(table).customer()).isEqualTo(TERMS.customer());
  }

  @Test
  void whenNoneVerifiesTheFirstFailureIsThrownWithTheOthersSuppressed() {
    ArrayNode licenses = MAPPER.createArrayNode();
    licenses
        .addObject()
        .put("payload", new TestLicenseSigner(OTHER_KEYS.getPrivate()).signToJson(TERMS));
    licenses.addObject().put("payload", "{garbage");
    ObjectNode table = table();
    table.set("licenses", licenses);

    LicenseException e = catchThrowableOfType(LicenseException.class, () -> VERIFIER.verify(table));

    assertThat(e.reason()).isEqualTo(Reason.BAD_SIGNATURE);
    assertThat(e.getSuppressed()).singleElement().isInstanceOf(LicenseException.class);
    assertThat(((LicenseException) e.getSuppressed()[0]).reason()).isEqualTo(Reason.MALFORMED);
    assertThat(e.getSuppressed()[0]).hasMessageContaining("config_table.licenses[1]");
  }

  @Test
  void refusesKeysThatAreNotEd25519() throws Exception {
    KeyPair ed448 = KeyPairGenerator.getInstance("Ed448").generateKeyPair();
    KeyPair rsa = KeyPairGenerator.getInstance("RSA").generateKeyPair();

    assertThatThrownBy(() -> new LicenseVerifier(ed448.getPublic()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new LicenseVerifier(rsa.getPublic()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an Ed25519 key");
    assertThatThrownBy(() -> LicenseVerifier.fromPem("no pem here"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------- states

  @Test
  void statesAtExactBoundaries() {
    Instant expiresAt = Instant.parse("2025-01-01T00:00:00Z");
    Duration warn = Duration.ofDays(30);
    Instant windowOpens = expiresAt.minus(warn);

    assertThat(EXPECTED.expiresAt()).isEqualTo(expiresAt);
    assertThat(state(windowOpens.minusNanos(1), warn)).isEqualTo(LicenseState.VALID);
    assertThat(state(windowOpens, warn)).isEqualTo(LicenseState.EXPIRING);
    assertThat(state(Instant.parse("2024-12-31T23:59:59.999999999Z"), warn))
        .isEqualTo(LicenseState.EXPIRING);
    assertThat(state(expiresAt, warn)).isEqualTo(LicenseState.EXPIRED);
    assertThat(state(expiresAt.plusNanos(1), warn)).isEqualTo(LicenseState.EXPIRED);
    assertThat(state(Instant.parse("2024-01-01T00:00:00Z"), warn)).isEqualTo(LicenseState.VALID);
  }

  @Test
  void zeroWarningMeansValidUntilTheLastNanosecond() {
    Instant expiresAt = EXPECTED.expiresAt();

    assertThat(state(expiresAt.minusNanos(1), Duration.ZERO)).isEqualTo(LicenseState.VALID);
    assertThat(state(expiresAt, Duration.ZERO)).isEqualTo(LicenseState.EXPIRED);
  }

  @Test
  void extremeInstantsAndDurationsDoNotOverflow() {
    Duration forever = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);

    assertThat(state(Instant.MIN, forever)).isEqualTo(LicenseState.EXPIRING);
    assertThat(state(Instant.MIN, Duration.ofDays(1))).isEqualTo(LicenseState.VALID);
    assertThat(state(Instant.MAX, forever)).isEqualTo(LicenseState.EXPIRED);
  }

  @Test
  void noLicenseIsNoneAndANegativeWindowIsRefused() {
    assertThat(LicenseVerifier.stateAt(null, Instant.EPOCH, Duration.ofDays(1)))
        .isEqualTo(LicenseState.NONE);
    assertThatThrownBy(() -> state(Instant.EPOCH, Duration.ofNanos(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------- properties

  @Property(tries = 400)
  void flippingAnySignatureByteFailsVerification(
      @ForAll @IntRange(max = 63) int index,
      @ForAll @IntRange(min = 1, max = 255) int mask,
      @ForAll boolean payloadAsString) {
    ObjectNode document = SIGNER.sign(TERMS);
    ObjectNode license = (ObjectNode) document.get("license");
    byte[] signature = Base64.getDecoder().decode(license.get("signature").textValue());
    signature[index] ^= (byte) mask;
    license.put("signature", Base64.getEncoder().encodeToString(signature));

    assertReason(entryFor(document, payloadAsString), Reason.BAD_SIGNATURE);
  }

  @Property(tries = 400)
  void flippingAnyByteOfAnyPayloadValueFailsVerification(
      @ForAll @IntRange(max = 5) int field,
      @ForAll @IntRange(max = 1000) int position,
      @ForAll @IntRange(min = 1, max = 255) int mask,
      @ForAll boolean payloadAsString) {
    ObjectNode document = SIGNER.sign(TERMS);
    ObjectNode payload = (ObjectNode) document.at("/license/payload");
    String name = fieldNames(payload).get(field);
    byte[] value = payload.get(name).textValue().getBytes(UTF_8);
    value[position % value.length] ^= (byte) mask;
    String flipped = new String(value, UTF_8);
    payload.put(name, flipped);

    assertThat(flipped).isNotEqualTo(SIGNER.sign(TERMS).at("/license/payload/" + name).textValue());
    assertReason(entryFor(document, payloadAsString), Reason.BAD_SIGNATURE);
  }

  /** Any one-byte change in the payload as published (a string), wherever it falls, is refused. */
  @Property(tries = 400)
  void flippingAnyByteOfThePublishedPayloadFailsVerification(
      @ForAll @IntRange(max = 10_000) int position,
      @ForAll @IntRange(min = 1, max = 255) int mask) {
    String json = SIGNER.signToJson(TERMS);
    int start = json.indexOf("\"payload\":") + "\"payload\":".length();
    int end = json.length() - 2; // the payload object is the last member: ...}}}
    byte[] bytes = json.getBytes(UTF_8);
    bytes[start + position % (end - start)] ^= (byte) mask;
    ObjectNode table = table();
    table.putArray("licenses").addObject().put("payload", new String(bytes, UTF_8));

    assertThatThrownBy(() -> VERIFIER.verify(table)).isInstanceOf(LicenseException.class);
  }

  // ---------------------------------------------------------------- helpers

  private static LicenseState state(Instant now, Duration warnBefore) {
    return LicenseVerifier.stateAt(EXPECTED, now, warnBefore);
  }

  private static org.assertj.core.api.AbstractThrowableAssert<?, ? extends Throwable> assertReason(
      JsonNode table, Reason reason) {
    LicenseException e = catchThrowableOfType(LicenseException.class, () -> VERIFIER.verify(table));
    assertThat(e).as("verification should fail with %s", reason).isNotNull();
    assertThat(e.reason()).as(e.getMessage()).isEqualTo(reason);
    return assertThat((Throwable) e);
  }

  private static ObjectNode table() {
    ObjectNode table = MAPPER.createObjectNode();
    table.put("_format_version", "3.0");
    table.putArray("services");
    return table;
  }

  private static ObjectNode tableWithEntry(JsonNode payload) {
    ObjectNode table = table();
    ObjectNode entry = table.putArray("licenses").addObject();
    entry.put("id", "a5b5c5d5-0000-4000-8000-000000000000");
    entry.set("payload", payload);
    return table;
  }

  private static JsonNode entryFor(JsonNode document, boolean asString) {
    return received(
        tableWithEntry(
            asString ? MAPPER.getNodeFactory().textNode(document.toString()) : document));
  }

  /** {@code table} as a data plane receives it: serialized, then parsed into a frozen tree. */
  private static JsonNode received(JsonNode table) {
    return received(table.toString());
  }

  private static JsonNode received(String json) {
    try {
      return Json.readFrozen(json.getBytes(UTF_8));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static ObjectNode payload(License terms) {
    return (ObjectNode) SIGNER.sign(terms).at("/license/payload").deepCopy();
  }

  private static JsonNode signedWith(String field, String value) {
    ObjectNode payload = payload(TERMS);
    payload.put(field, value);
    return tableWithEntry(SIGNER.signPayload(payload));
  }

  private static JsonNode signedWithout(String field) {
    ObjectNode payload = payload(TERMS);
    payload.remove(field);
    return tableWithEntry(SIGNER.signPayload(payload));
  }

  private static License withExpiry(License terms, LocalDate expiresOn) {
    return new License(
        terms.customer(),
        terms.licenseKey(),
        terms.product(),
        terms.dataplanes(),
        terms.createdOn(),
        expiresOn);
  }

  private static List<String> fieldNames(JsonNode object) {
    return object.properties().stream().map(java.util.Map.Entry::getKey).toList();
  }
}

package dev.configsync.license;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.License;
import dev.configsync.internal.CanonicalJson;
import dev.configsync.internal.Json;
import java.io.IOException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.time.LocalDate;
import java.util.Base64;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class LicenseSignerTest {

  /** RFC 8032 section 7.1, test 1: the secret key 9d61b19d...7f60, as openssl writes it. */
  static final String RFC8032_PRIVATE_PEM =
      """
      -----BEGIN PRIVATE KEY-----
      MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
      -----END PRIVATE KEY-----
      """;

  /** Its public key d75a9801...511a, from {@code openssl pkey -pubout}. */
  static final String RFC8032_PUBLIC_PEM =
      """
      -----BEGIN PUBLIC KEY-----
      MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
      -----END PUBLIC KEY-----
      """;

  static final License KONG_LIKE =
      new License(
          "Example Company, Inc",
          "00141000017ODj3AAG_a1V41000004wT0OEAU",
          "Konnect Enterprise",
          1,
          LocalDate.of(2024, 1, 1),
          LocalDate.of(2024, 12, 31));

  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Test
  void signsTheCanonicalPayloadAsOpensslDoes() throws IOException {
    // Known answer: printf '%s' "$CANONICAL" | openssl pkeyutl -sign -rawin -inkey k.pem | base64
    LicenseSigner signer = new LicenseSigner(LicenseSigner.readPrivateKeyPem(RFC8032_PRIVATE_PEM));

    ObjectNode document = signer.sign(KONG_LIKE);

    assertThat(CanonicalJson.canonicalString(document.path("license").path("payload")))
        .isEqualTo(
            "{\"customer\":\"Example Company, Inc\",\"dataplanes\":\"1\","
                + "\"license_creation_date\":\"2024-01-01\",\"license_expiration_date\":\"2024-12-31\","
                + "\"license_key\":\"00141000017ODj3AAG_a1V41000004wT0OEAU\","
                + "\"product_subscription\":\"Konnect Enterprise\"}");
    assertThat(document.path("license").path("signature").textValue())
        .isEqualTo(
            "mvjX2imvZ1w7GDylBtAPP+/Mha+C4OVHVm2GdRUVTqezo9CoCNbfAANs3vW++ibDCwziosOkKfbN+8HlS23MAg==");
    assertThat(document.path("license").path("version").intValue()).isEqualTo(1);
    assertThat(MAPPER.readTree(signer.signToJson(KONG_LIKE))).isEqualTo(document);
  }

  @Test
  void signatureVerifiesWithPlainJdkEd25519() throws Exception {
    KeyPair keys = LicenseSigner.generateKeyPair();
    ObjectNode document = new LicenseSigner(keys.getPrivate()).sign(KONG_LIKE);

    Signature verifier = Signature.getInstance("Ed25519");
    verifier.initVerify(keys.getPublic());
    verifier.update(CanonicalJson.canonicalBytes(document.path("license").path("payload")));

    assertThat(
            verifier.verify(
                Base64.getDecoder().decode(document.path("license").path("signature").textValue())))
        .isTrue();
  }

  @Test
  void dataplanesMinusOneIsLeftOut() {
    License terms =
        new License("c", "key", "", -1, LocalDate.of(2024, 1, 1), LocalDate.of(2024, 1, 1));

    JsonNode payload =
        new LicenseSigner(LicenseSigner.generateKeyPair().getPrivate())
            .sign(terms)
            .path("license")
            .path("payload");

    assertThat(payload.has("dataplanes")).isFalse();
    assertThat(payload.path("product_subscription").textValue()).isEmpty();
  }

  @Test
  void pemRoundTrip() {
    KeyPair keys = LicenseSigner.generateKeyPair();

    String publicPem = LicenseSigner.publicKeyPem(keys.getPublic());
    String privatePem = LicenseSigner.privateKeyPem(keys.getPrivate());

    assertThat(publicPem)
        .startsWith("-----BEGIN PUBLIC KEY-----\n")
        .endsWith("-----END PUBLIC KEY-----\n");
    assertThat(privatePem)
        .startsWith("-----BEGIN PRIVATE KEY-----\n")
        .endsWith("-----END PRIVATE KEY-----\n");
    PublicKey publicKey = LicenseSigner.readPublicKeyPem(publicPem);
    PrivateKey privateKey = LicenseSigner.readPrivateKeyPem(privatePem);
    assertThat(publicKey.getEncoded()).isEqualTo(keys.getPublic().getEncoded());
    assertThat(privateKey.getEncoded()).isEqualTo(keys.getPrivate().getEncoded());
    assertThat(LicenseSigner.publicKeyPem(publicKey)).isEqualTo(publicPem);
    assertThat(LicenseSigner.privateKeyPem(privateKey)).isEqualTo(privatePem);
  }

  @Test
  void readsOpensslPemsWithCrlfAndSurroundingText() {
    String messy =
        "a certificate bundle\r\n"
            + RFC8032_PRIVATE_PEM.replace("\n", "\r\n")
            + "\r\n"
            + RFC8032_PUBLIC_PEM.replace("\n", "\r\n")
            + "trailer";

    PublicKey publicKey = LicenseSigner.readPublicKeyPem(messy);
    LicenseSigner.readPrivateKeyPem(messy);

    assertThat(LicenseSigner.publicKeyPem(publicKey)).isEqualTo(RFC8032_PUBLIC_PEM);
  }

  @Test
  void refusesPemsWithoutAnEd25519Key() throws Exception {
    KeyPairGenerator ec = KeyPairGenerator.getInstance("EC");
    KeyPair ecKeys = ec.generateKeyPair();
    String ecPublicPem =
        "-----BEGIN PUBLIC KEY-----\n"
            + Base64.getMimeEncoder().encodeToString(ecKeys.getPublic().getEncoded())
            + "\n-----END PUBLIC KEY-----\n";

    assertThatThrownBy(() -> LicenseSigner.readPublicKeyPem(ecPublicPem))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Ed25519");
    assertThatThrownBy(() -> LicenseSigner.readPublicKeyPem(RFC8032_PRIVATE_PEM))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("BEGIN PUBLIC KEY");
    assertThatThrownBy(
            () ->
                LicenseSigner.readPrivateKeyPem(
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("encrypted");
    assertThatThrownBy(
            () ->
                LicenseSigner.readPublicKeyPem(
                    "-----BEGIN PUBLIC KEY-----\nM=C=o\n-----END PUBLIC KEY-----"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("base64");
    assertThatThrownBy(() -> new LicenseSigner(ecKeys.getPrivate()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an Ed25519 key");
    assertThatThrownBy(() -> LicenseSigner.publicKeyPem(ecKeys.getPublic()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refusesEd448Keys() throws Exception {
    KeyPair ed448 = KeyPairGenerator.getInstance("Ed448").generateKeyPair();

    assertThatThrownBy(() -> new LicenseSigner(ed448.getPrivate()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void licensesAreCheckedAndDatesMustFitYyyyMmDd() {
    LocalDate day = LocalDate.of(2024, 6, 1);
    LicenseSigner signer = new LicenseSigner(LicenseSigner.generateKeyPair().getPrivate());

    assertThatThrownBy(() -> new License(" ", "key", "p", 1, day, day))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("customer");
    assertThatThrownBy(() -> new License("c", "", "p", 1, day, day))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("licenseKey");
    assertThatThrownBy(() -> new License("c", "k", "p", 1, day, day.minusDays(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("before createdOn");
    assertThatThrownBy(() -> new License("c", "k", "p", -2, day, day))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dataplanes");
    assertThatThrownBy(
            () -> signer.sign(new License("c", "k", "p", 1, day, LocalDate.of(10_000, 1, 1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expiresOn")
        .hasMessageContaining("0 to 9999");
    assertThatThrownBy(
            () -> signer.sign(new License("c", "k", "p", 1, LocalDate.of(-1, 1, 1), day)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("createdOn")
        .hasMessageContaining("0 to 9999");
    assertThat(new License("c", "k", "", 0, day, day).expiresOn()).isEqualTo(day);
  }

  @Test
  void licenseToStringMasksTheKey() {
    assertThat(KONG_LIKE.toString())
        .contains("****OEAU")
        .contains("Example Company, Inc")
        .doesNotContain("00141000017ODj3AAG");
  }

  @Test
  void withLicensePublishesTheDocumentAsAStringAndLeavesTheTableAlone() throws IOException {
    JsonNode table =
        Json.readFrozen(
            "{\"_format_version\":\"3.0\",\"services\":[],\"licenses\":[{\"id\":\"old\",\"payload\":\"x\"}]}"
                .getBytes(UTF_8));
    ObjectNode document =
        new LicenseSigner(LicenseSigner.generateKeyPair().getPrivate()).sign(KONG_LIKE);

    ObjectNode published = LicenseSigner.withLicense(table, document);

    assertThat(published.path("_format_version").textValue()).isEqualTo("3.0");
    assertThat(published.path("licenses")).hasSize(1);
    JsonNode entry = published.path("licenses").get(0);
    assertThat(entry.path("id").textValue())
        .isEqualTo(
            UUID.nameUUIDFromBytes("00141000017ODj3AAG_a1V41000004wT0OEAU".getBytes(UTF_8))
                .toString());
    assertThat(MAPPER.readTree(entry.path("payload").textValue())).isEqualTo(document);
    assertThat(table.path("licenses").get(0).path("id").textValue()).isEqualTo("old");
  }

  @Test
  void withLicenseRefusesNonObjectsAndDocumentsWithoutAKey() {
    ObjectNode document =
        new LicenseSigner(LicenseSigner.generateKeyPair().getPrivate()).sign(KONG_LIKE);

    assertThatThrownBy(() -> LicenseSigner.withLicense(MAPPER.createArrayNode(), document))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> LicenseSigner.withLicense(MAPPER.createObjectNode(), MAPPER.createObjectNode()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("license_key");
  }
}

package dev.configsync.okhttp;

import static dev.configsync.okhttp.TestPki.ca;
import static dev.configsync.okhttp.TestPki.intermediate;
import static dev.configsync.okhttp.TestPki.leafEc;
import static dev.configsync.okhttp.TestPki.leafRsa;
import static dev.configsync.okhttp.TestPki.traditionalKeyPem;
import static dev.configsync.okhttp.TestPki.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.tls.PemMaterial;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Security;
import java.security.cert.X509Certificate;
import java.util.Locale;
import okhttp3.tls.HeldCertificate;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PKCS8Generator;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMEncryptorBuilder;
import org.bouncycastle.operator.OutputEncryptor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TlsConfigTest {
  private static HeldCertificate ca;
  private static HeldCertificate otherCa;
  private static HeldCertificate rsaClient;
  private static HeldCertificate ecClient;

  @TempDir Path dir;

  @BeforeAll
  static void makePki() {
    ca = ca("test-ca");
    otherCa = ca("other-ca");
    rsaClient = leafRsa("dp-rsa", ca);
    ecClient = leafEc("dp-ec", ca);
  }

  private HeldCertificate client(String algorithm) {
    return algorithm.equals("RSA") ? rsaClient : ecClient;
  }

  @ParameterizedTest(name = "{0} key as {1}")
  @CsvSource({
    "RSA, PKCS8, BEGIN PRIVATE KEY",
    "RSA, TRADITIONAL, BEGIN RSA PRIVATE KEY",
    "EC, PKCS8, BEGIN PRIVATE KEY",
    "EC, TRADITIONAL, BEGIN EC PRIVATE KEY"
  })
  void loadsRsaAndEcKeysInPkcs8AndTraditionalForms(
      String algorithm, String form, String expectedHeader) {
    HeldCertificate client = client(algorithm);
    String keyPem = form.equals("PKCS8") ? client.privateKeyPkcs8Pem() : traditionalKeyPem(client);
    assertThat(keyPem).contains("-----" + expectedHeader + "-----");

    TlsConfig config =
        TlsConfig.pki(
            write(dir, "dp.crt", client.certificatePem()),
            write(dir, "dp.key", keyPem),
            write(dir, "ca.pem", ca.certificatePem()));

    assertThat(config.certificateChain()).containsExactly(client.certificate());
    assertThat(config.trustedCertificates()).containsExactly(ca.certificate());
    assertThat(config.keyManager().getPrivateKey(clientAlias(config))).isNotNull();
    assertThat(config.toString())
        .contains("CN=dp-" + algorithm.toLowerCase(Locale.ROOT), algorithm)
        .doesNotContain("PRIVATE");
  }

  private static String clientAlias(TlsConfig config) {
    String[] aliases =
        config
            .keyManager()
            .getClientAliases(config.certificateChain().get(0).getPublicKey().getAlgorithm(), null);
    assertThat(aliases).hasSize(1);
    return aliases[0];
  }

  @Test
  void trustsOnlyTheGivenCasAndNoPlatformRoots() {
    TlsConfig config =
        TlsConfig.pkiFromPem(
            ecClient.certificatePem(),
            ecClient.privateKeyPkcs8Pem(),
            ca.certificatePem() + otherCa.certificatePem());
    assertThat(config.trustedCertificates())
        .containsExactly(ca.certificate(), otherCa.certificate());
    assertThat(config.trustManager().getAcceptedIssuers())
        .containsExactlyInAnyOrder(ca.certificate(), otherCa.certificate());
  }

  @Test
  void doesNotRegisterBouncyCastleAsAJcaProvider() {
    TlsConfig.pkiFromPem(
        rsaClient.certificatePem(), traditionalKeyPem(rsaClient), ca.certificatePem());
    assertThat(Security.getProvider("BC")).isNull();
  }

  @Test
  void chainFileMayHoldIntermediatesLeafFirst() {
    HeldCertificate intermediate = intermediate("issuing-ca", ca);
    HeldCertificate leaf = leafEc("dp-chained", intermediate);
    TlsConfig config =
        TlsConfig.pkiFromPem(
            leaf.certificatePem() + intermediate.certificatePem(),
            leaf.privateKeyPkcs8Pem(),
            ca.certificatePem());
    assertThat(config.certificateChain())
        .containsExactly(leaf.certificate(), intermediate.certificate());
    X509Certificate[] sent = config.keyManager().getCertificateChain(clientAlias(config));
    assertThat(sent).containsExactly(leaf.certificate(), intermediate.certificate());
  }

  @Test
  void keyAndCertificatesMayShareOneFile() {
    String combined = ecClient.certificatePem() + traditionalKeyPem(ecClient);
    Path file = write(dir, "dp.pem", combined);
    TlsConfig config = TlsConfig.pki(file, file, write(dir, "ca.pem", ca.certificatePem()));
    assertThat(config.certificateChain()).containsExactly(ecClient.certificate());
  }

  // ---- refusals ----

  @Test
  void mismatchedKeyIsRefused() {
    Path cert = write(dir, "dp.crt", ecClient.certificatePem());
    Path otherKey = write(dir, "other.key", leafEc("someone-else", ca).privateKeyPkcs8Pem());
    Path caFile = write(dir, "ca.pem", ca.certificatePem());

    assertThatThrownBy(() -> TlsConfig.pki(cert, otherKey, caFile))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(cert + " and " + otherKey + ": cert and key do not match")
        .hasMessageContaining("does not belong to CN=dp-ec");
  }

  @Test
  void keyOfAnotherAlgorithmIsRefused() {
    Path cert = write(dir, "dp.crt", ecClient.certificatePem());
    Path rsaKey = write(dir, "rsa.key", rsaClient.privateKeyPkcs8Pem());
    assertThatThrownBy(() -> TlsConfig.pki(cert, rsaKey, write(dir, "ca.pem", ca.certificatePem())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cert and key do not match")
        .hasMessageContaining("holds an EC public key, the private key is RSA");
  }

  @Test
  void chainWithLeafNotFirstIsRefusedWithAHint() {
    HeldCertificate intermediate = intermediate("issuing-ca", ca);
    HeldCertificate leaf = leafEc("dp-chained", intermediate);
    assertThatThrownBy(
            () ->
                TlsConfig.pkiFromPem(
                    intermediate.certificatePem() + leaf.certificatePem(),
                    leaf.privateKeyPkcs8Pem(),
                    ca.certificatePem()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "certificate chain PEM and private key PEM: cert and key do not match")
        .hasMessageContaining("belongs to certificate #2")
        .hasMessageContaining("the leaf certificate must come first");
  }

  @Test
  void missingFilesAreRefusedNamingTheFile() {
    Path cert = write(dir, "dp.crt", ecClient.certificatePem());
    Path key = write(dir, "dp.key", ecClient.privateKeyPkcs8Pem());
    Path caFile = write(dir, "ca.pem", ca.certificatePem());
    Path missing = dir.resolve("nope.pem");

    assertThatThrownBy(() -> TlsConfig.pki(missing, key, caFile))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(missing + ": cannot read file (NoSuchFileException");
    assertThatThrownBy(() -> TlsConfig.pki(cert, missing, caFile))
        .hasMessageStartingWith(missing + ": cannot read file");
    assertThatThrownBy(() -> TlsConfig.pki(cert, key, missing))
        .hasMessageStartingWith(missing + ": cannot read file");
    assertThatThrownBy(() -> TlsConfig.pki(cert, key, dir))
        .as("a directory")
        .hasMessageStartingWith(dir + ": cannot read file");
  }

  @Test
  void garbageIsRefusedNamingTheFileAndWhatWasExpected() {
    Path cert = write(dir, "dp.crt", ecClient.certificatePem());
    Path key = write(dir, "dp.key", ecClient.privateKeyPkcs8Pem());
    Path caFile = write(dir, "ca.pem", ca.certificatePem());
    Path garbage = write(dir, "garbage.pem", "this is not PEM at all\n");
    Path empty = write(dir, "empty.pem", "");

    assertThatThrownBy(() -> TlsConfig.pki(cert, garbage, caFile))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            garbage
                + ": no private key found; expected PKCS#8 'BEGIN PRIVATE KEY', PKCS#1 'BEGIN RSA"
                + " PRIVATE KEY' or SEC1 'BEGIN EC PRIVATE KEY'");
    assertThatThrownBy(() -> TlsConfig.pki(cert, key, empty))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(empty + ": no certificate found; expected 'BEGIN CERTIFICATE'");
    assertThatThrownBy(() -> TlsConfig.pki(garbage, key, caFile))
        .hasMessageStartingWith(garbage + ": no certificate found");
    assertThatThrownBy(() -> TlsConfig.pki(cert, cert, caFile))
        .as("a certificate where the key should be")
        .hasMessageStartingWith(cert + ": no private key found");
    assertThatThrownBy(() -> TlsConfig.pki(cert, key, key))
        .as("a key where the CA should be")
        .hasMessageStartingWith(key + ": no certificate found");
  }

  @Test
  void corruptPemBodyIsRefusedAsMalformed() {
    String pem = ca.certificatePem();
    String corrupt = pem.replace(pem.substring(40, 60), "!!!!not*base64!!!!!!");
    Path caFile = write(dir, "ca.pem", corrupt);
    assertThatThrownBy(
            () ->
                TlsConfig.pki(
                    write(dir, "dp.crt", ecClient.certificatePem()),
                    write(dir, "dp.key", ecClient.privateKeyPkcs8Pem()),
                    caFile))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(caFile + ": ");
  }

  @Test
  void derFileIsRefusedWithAHint() throws Exception {
    Path der = dir.resolve("ca.der");
    Files.write(der, ca.certificate().getEncoded());
    assertThatThrownBy(
            () ->
                TlsConfig.pki(
                    write(dir, "dp.crt", ecClient.certificatePem()),
                    write(dir, "dp.key", ecClient.privateKeyPkcs8Pem()),
                    der))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(der + ": looks like binary DER; PEM text ('-----BEGIN ...') is expected");
  }

  @Test
  void curvelessSec1KeyIsRefusedWithAnExplanation() {
    String curveless = TestPki.curvelessSec1KeyPem(ecClient);
    assertThat(curveless).contains("-----BEGIN EC PRIVATE KEY-----");
    assertThatThrownBy(
            () -> TlsConfig.pkiFromPem(ecClient.certificatePem(), curveless, ca.certificatePem()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "private key PEM: the SEC1 'BEGIN EC PRIVATE KEY' block names no curve");
  }

  @Test
  void encryptedTraditionalKeyIsRefusedWithoutAPassphrase() throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(
          rsaClient.keyPair().getPrivate(),
          new JcePEMEncryptorBuilder("AES-128-CBC")
              .setProvider(new BouncyCastleProvider()) // An instance: not registered globally.
              .build("secret".toCharArray()));
    }
    assertThat(out.toString()).contains("Proc-Type: 4,ENCRYPTED");
    assertThatThrownBy(
            () ->
                TlsConfig.pkiFromPem(
                    rsaClient.certificatePem(), out.toString(), ca.certificatePem()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("private key PEM: the private key is encrypted");
  }

  @Test
  void encryptedPkcs8KeyIsRefusedWithoutAPassphrase() throws Exception {
    OutputEncryptor encryptor =
        new JceOpenSSLPKCS8EncryptorBuilder(PKCS8Generator.AES_256_CBC)
            .setProvider(new BouncyCastleProvider())
            .setPassword("secret".toCharArray())
            .build();
    String pem =
        TestPki.pem(new JcaPKCS8Generator(ecClient.keyPair().getPrivate(), encryptor).generate());
    assertThat(pem).contains("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    Path key = write(dir, "dp.key", pem);
    assertThatThrownBy(
            () ->
                TlsConfig.pki(
                    write(dir, "dp.crt", ecClient.certificatePem()),
                    key,
                    write(dir, "ca.pem", ca.certificatePem())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(key + ": the private key is encrypted");
  }

  @Test
  void twoKeysAreRefused() {
    assertThatThrownBy(
            () ->
                TlsConfig.pkiFromPem(
                    ecClient.certificatePem(),
                    ecClient.privateKeyPkcs8Pem() + rsaClient.privateKeyPkcs8Pem(),
                    ca.certificatePem()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("private key PEM: more than one private key found; expected exactly one");
  }

  // ---- server name and reload ----

  @Test
  void serverNameOverride() {
    TlsConfig config =
        TlsConfig.pkiFromPem(
            ecClient.certificatePem(), ecClient.privateKeyPkcs8Pem(), ca.certificatePem());
    assertThat(config.serverName()).isNull();
    TlsConfig named = config.withServerName("cp.internal.example");
    assertThat(named.serverName()).isEqualTo("cp.internal.example");
    assertThat(config.serverName()).as("original unchanged").isNull();
    assertThat(named.trustManager()).isSameAs(config.trustManager());
    assertThatThrownBy(() -> config.withServerName(""))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> config.withServerName("cp example"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void reloadRereadsTheFilesAndKeepsTheServerName() {
    Path cert = write(dir, "dp.crt", ecClient.certificatePem());
    Path key = write(dir, "dp.key", ecClient.privateKeyPkcs8Pem());
    Path caFile = write(dir, "ca.pem", ca.certificatePem());
    TlsConfig first = TlsConfig.pki(cert, key, caFile).withServerName("cp");
    assertThat(first.sourcePaths()).containsExactly(cert, key, caFile);

    HeldCertificate rotated = leafRsa("dp-rotated", ca);
    write(dir, "dp.crt", rotated.certificatePem());
    write(dir, "dp.key", traditionalKeyPem(rotated));
    TlsConfig second = first.reload();

    assertThat(second.certificateChain()).containsExactly(rotated.certificate());
    assertThat(second.serverName()).isEqualTo("cp");
    assertThat(second.sourcePaths()).containsExactly(cert, key, caFile);
    assertThat(first.certificateChain())
        .as("old config unchanged")
        .containsExactly(ecClient.certificate());
  }

  @Test
  void reloadOfAHalfDoneRotationFailsAndLeavesTheOldConfigUsable() {
    Path cert = write(dir, "dp.crt", ecClient.certificatePem());
    Path key = write(dir, "dp.key", ecClient.privateKeyPkcs8Pem());
    TlsConfig config = TlsConfig.pki(cert, key, write(dir, "ca.pem", ca.certificatePem()));

    write(dir, "dp.crt", leafEc("dp-new", ca).certificatePem()); // Key not replaced yet.
    assertThatThrownBy(config::reload)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cert and key do not match");
    assertThat(config.certificateChain()).containsExactly(ecClient.certificate());
  }

  @Test
  void reloadOfAPemBuiltConfigReturnsIt() {
    TlsConfig config =
        TlsConfig.pkiFromPem(
            ecClient.certificatePem(), ecClient.privateKeyPkcs8Pem(), ca.certificatePem());
    assertThat(config.sourcePaths()).isEmpty();
    assertThat(config.reload()).isSameAs(config);
  }

  // ---- encrypted keys ----

  private static String encryptedPkcs8(HeldCertificate held, String passphrase) throws Exception {
    OutputEncryptor encryptor =
        new JceOpenSSLPKCS8EncryptorBuilder(PKCS8Generator.AES_256_CBC)
            .setProvider(new BouncyCastleProvider()) // An instance: not registered globally.
            .setPassword(passphrase.toCharArray())
            .build();
    return TestPki.pem(new JcaPKCS8Generator(held.keyPair().getPrivate(), encryptor).generate());
  }

  private static String encryptedTraditional(HeldCertificate held, String passphrase)
      throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(
          held.keyPair().getPrivate(),
          new JcePEMEncryptorBuilder("AES-256-CBC")
              .setProvider(new BouncyCastleProvider())
              .build(passphrase.toCharArray()));
    }
    return out.toString();
  }

  @Test
  void encryptedKeysAreDecryptedWithThePassphrase() throws Exception {
    Path caFile = write(dir, "ca.pem", ca.certificatePem());
    TlsConfig pkcs8 =
        TlsConfig.pki(
            write(dir, "ec.crt", ecClient.certificatePem()),
            write(dir, "ec.key", encryptedPkcs8(ecClient, "correct horse")),
            caFile,
            "correct horse".toCharArray());
    assertThat(pkcs8.certificateChain()).containsExactly(ecClient.certificate());
    TlsConfig traditional =
        TlsConfig.pki(
            write(dir, "rsa.crt", rsaClient.certificatePem()),
            write(dir, "rsa.key", encryptedTraditional(rsaClient, "correct horse")),
            caFile,
            "correct horse".toCharArray());
    assertThat(traditional.certificateChain()).containsExactly(rsaClient.certificate());
    assertThat(traditional.toString()).doesNotContain("correct horse");
  }

  @Test
  void aWrongPassphraseNamesTheFile() throws Exception {
    Path key = write(dir, "dp.key", encryptedPkcs8(ecClient, "right"));
    assertThatThrownBy(
            () ->
                TlsConfig.pki(
                    write(dir, "dp.crt", ecClient.certificatePem()),
                    key,
                    write(dir, "ca.pem", ca.certificatePem()),
                    "wrong".toCharArray()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            key
                + ": cannot decrypt the private key: the passphrase is wrong (or the key file is"
                + " damaged)");
  }

  @Test
  void reloadDecryptsTheRotatedKeyWithTheKeptPassphrase() throws Exception {
    char[] passphrase = "s3cret".toCharArray();
    Path cert = write(dir, "dp.crt", ecClient.certificatePem());
    Path key = write(dir, "dp.key", encryptedPkcs8(ecClient, "s3cret"));
    TlsConfig first =
        TlsConfig.pki(cert, key, write(dir, "ca.pem", ca.certificatePem()), passphrase);
    java.util.Arrays.fill(passphrase, '\0'); // the caller wipes its copy

    HeldCertificate rotated = leafRsa("dp-rotated", ca);
    write(dir, "dp.crt", rotated.certificatePem());
    write(dir, "dp.key", encryptedTraditional(rotated, "s3cret"));
    assertThat(first.reload().certificateChain()).containsExactly(rotated.certificate());
  }

  // ---- shared mode ----

  @Test
  void sharedModeTrustsExactlyItsOwnCertificate() {
    HeldCertificate cluster = new HeldCertificate.Builder().commonName("kong_clustering").build();
    HeldCertificate other = new HeldCertificate.Builder().commonName("kong_clustering").build();
    TlsConfig shared =
        TlsConfig.shared(
            write(dir, "cluster.crt", cluster.certificatePem()),
            write(dir, "cluster.key", cluster.privateKeyPkcs8Pem()));

    assertThat(shared.mode()).isEqualTo(TlsConfig.Mode.SHARED);
    assertThat(shared.trustedCertificates()).containsExactly(cluster.certificate());
    assertThat(shared.sourcePaths()).hasSize(2);
    assertThat(shared.toString())
        .contains("mode=shared", "sha256 " + PemMaterial.sha256Fingerprint(cluster.certificate()))
        .doesNotContain("PRIVATE");
    X509Certificate[] theirs = {other.certificate()};
    assertThatThrownBy(() -> shared.trustManager().checkServerTrusted(theirs, "ECDHE_ECDSA"))
        .hasMessageStartingWith(
            "control plane certificate does not match the shared cluster certificate");
    assertThatCode(
            () ->
                shared
                    .trustManager()
                    .checkServerTrusted(
                        new X509Certificate[] {cluster.certificate()}, "ECDHE_ECDSA"))
        .doesNotThrowAnyException();
    assertThat(
            TlsConfig.pki(
                    write(dir, "dp.crt", ecClient.certificatePem()),
                    write(dir, "dp.key", ecClient.privateKeyPkcs8Pem()),
                    write(dir, "ca.pem", ca.certificatePem()))
                .mode())
        .isEqualTo(TlsConfig.Mode.PKI);
  }

  @Test
  void sharedModeReloadPinsTheNewCertificate() {
    HeldCertificate first = new HeldCertificate.Builder().commonName("kong_clustering").build();
    HeldCertificate second = new HeldCertificate.Builder().commonName("kong_clustering").build();
    Path cert = write(dir, "cluster.crt", first.certificatePem());
    Path key = write(dir, "cluster.key", first.privateKeyPkcs8Pem());
    TlsConfig config = TlsConfig.shared(cert, key).withServerName("cp.example.com");

    write(dir, "cluster.crt", second.certificatePem());
    write(dir, "cluster.key", second.privateKeyPkcs8Pem());
    TlsConfig reloaded = config.reload();

    assertThat(reloaded.mode()).isEqualTo(TlsConfig.Mode.SHARED);
    assertThat(reloaded.serverName()).isEqualTo("cp.example.com");
    assertThat(reloaded.trustedCertificates()).containsExactly(second.certificate());
    assertThat(config.trustedCertificates()).containsExactly(first.certificate());
  }

  @Test
  void sharedModeFromPemNamesTheArgumentAtFault() {
    HeldCertificate cluster = new HeldCertificate.Builder().commonName("kong_clustering").build();
    assertThatThrownBy(() -> TlsConfig.sharedFromPem(cluster.certificatePem(), "garbage"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("private key PEM: ");
    assertThatThrownBy(() -> TlsConfig.sharedFromPem("", cluster.privateKeyPkcs8Pem()))
        .hasMessageStartingWith("shared certificate PEM: no certificate found");
    assertThat(
            TlsConfig.sharedFromPem(cluster.certificatePem(), cluster.privateKeyPkcs8Pem())
                .reload()
                .mode())
        .isEqualTo(TlsConfig.Mode.SHARED);
  }
}

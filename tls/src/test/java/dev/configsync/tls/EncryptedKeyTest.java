package dev.configsync.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.interfaces.ECPrivateKey;
import java.util.Objects;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Encrypted keys as OpenSSL 3 writes them (see src/test/resources/keys/README.md). */
class EncryptedKeyTest {
  private static final char[] PASSPHRASE = "s3cret".toCharArray();

  private static String resource(String name) {
    try (InputStream in =
        Objects.requireNonNull(EncryptedKeyTest.class.getResourceAsStream("/keys/" + name), name)) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static PrivateKey plain(String file) {
    return PemMaterial.privateKey(
        resource(file.startsWith("ec") ? "ec-plain.pem" : "rsa-plain.pem"), "plain");
  }

  /** SEC1 and PKCS#8 encodings of one EC key differ (optional public key), so compare values. */
  private static void assertSameKey(PrivateKey actual, PrivateKey expected) {
    assertThat(actual.getAlgorithm()).isEqualTo(expected.getAlgorithm());
    if (expected instanceof ECPrivateKey ec) {
      assertThat(((ECPrivateKey) actual).getS()).isEqualTo(ec.getS());
      assertThat(((ECPrivateKey) actual).getParams().getCurve())
          .isEqualTo(ec.getParams().getCurve());
    } else {
      assertThat(actual.getEncoded()).isEqualTo(expected.getEncoded());
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "ec-pkcs8-aes256.pem, BEGIN ENCRYPTED PRIVATE KEY",
    "ec-pkcs8-scrypt.pem, BEGIN ENCRYPTED PRIVATE KEY",
    "rsa-pkcs8-pbe-sha1-3des.pem, BEGIN ENCRYPTED PRIVATE KEY",
    "rsa-pkcs8-aes128-sha1.pem, BEGIN ENCRYPTED PRIVATE KEY",
    "ec-legacy-aes128.pem, 'Proc-Type: 4,ENCRYPTED'",
    "rsa-legacy-des3.pem, 'Proc-Type: 4,ENCRYPTED'",
    "rsa-legacy-aes256.pem, 'Proc-Type: 4,ENCRYPTED'"
  })
  void decryptsWithTheRightPassphrase(String file, String marker) {
    String pem = resource(file);
    assertThat(pem).contains(marker);
    char[] passphrase = PASSPHRASE.clone();
    PrivateKey key = PemMaterial.privateKey(pem, file, passphrase);
    assertSameKey(key, plain(file));
    assertThat(passphrase).isEqualTo(PASSPHRASE); // not wiped behind the caller's back
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "ec-pkcs8-aes256.pem",
        "ec-pkcs8-scrypt.pem",
        "rsa-pkcs8-pbe-sha1-3des.pem",
        "rsa-pkcs8-aes128-sha1.pem",
        "ec-legacy-aes128.pem",
        "rsa-legacy-des3.pem",
        "rsa-legacy-aes256.pem"
      })
  void aWrongPassphraseIsNamedAsSuch(String file) {
    assertThatThrownBy(() -> PemMaterial.privateKey(resource(file), file, "wrong".toCharArray()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            file
                + ": cannot decrypt the private key: the passphrase is wrong (or the key file is"
                + " damaged)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ec-pkcs8-aes256.pem", "rsa-legacy-des3.pem"})
  void aMissingPassphraseIsNamedAsSuch(String file) {
    assertThatThrownBy(() -> PemMaterial.privateKey(resource(file), file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            file
                + ": the private key is encrypted and no passphrase was given; give the passphrase")
        .hasMessageContaining("--key-passphrase-file");
    assertThatThrownBy(() -> PemMaterial.privateKey(resource(file), file, null))
        .hasMessageStartingWith(file + ": the private key is encrypted and no passphrase");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ec-plain.pem", "rsa-plain.pem"})
  void anUnencryptedKeyIgnoresAPassphrase(String file) {
    assertSameKey(PemMaterial.privateKey(resource(file), file, PASSPHRASE), plain(file));
  }
}

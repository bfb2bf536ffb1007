package dev.configsync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemFlagsTest {
  @TempDir static Path dir;
  static Path cert;
  static Path key;
  static Path combined;
  static Path ca;

  @BeforeAll
  static void files() throws Exception {
    HeldCertificate authority = new HeldCertificate.Builder().certificateAuthority(0).build();
    HeldCertificate node = new HeldCertificate.Builder().signedBy(authority).build();
    cert = Files.writeString(dir.resolve("node.crt"), node.certificatePem());
    key = Files.writeString(dir.resolve("node.key"), node.privateKeyPkcs8Pem());
    combined =
        Files.writeString(
            dir.resolve("node.pem"), node.certificatePem() + node.privateKeyPkcs8Pem());
    ca = Files.writeString(dir.resolve("ca.crt"), authority.certificatePem());
  }

  @Test
  void acceptsEachFileInItsRole() {
    assertThatCode(() -> PemFlags.certKeyAndCa(cert, key, ca, null)).doesNotThrowAnyException();
  }

  @Test
  void aCombinedFileServesAsCertAndKey() {
    assertThatCode(() -> PemFlags.certKeyAndCa(combined, combined, ca, null))
        .doesNotThrowAnyException();
  }

  @Test
  void keyFileGivenAsCertAndKeyNamesCert() {
    // The same file for both flags: the message names a file that both name, so only the flag
    // says which role failed. It holds a key only, so --cert is wrong, not --key.
    assertThatThrownBy(() -> PemFlags.certKeyAndCa(key, key, ca, null))
        .isInstanceOf(BadArgumentException.class)
        .hasMessageStartingWith("--cert: " + key + ": no certificate found");
  }

  @Test
  void certificateFileGivenAsCertAndKeyNamesKey() {
    assertThatThrownBy(() -> PemFlags.certKeyAndCa(cert, cert, ca, null))
        .isInstanceOf(BadArgumentException.class)
        .hasMessageStartingWith("--key: " + cert + ": no private key found");
  }

  @Test
  void aKeyGivenAsCaNamesCa() {
    assertThatThrownBy(() -> PemFlags.certKeyAndCa(cert, key, key, null))
        .isInstanceOf(BadArgumentException.class)
        .hasMessageStartingWith("--ca: " + key + ": no certificate found");
  }

  @Test
  void aMissingFileIsNamedAfterItsFlag() {
    Path missing = dir.resolve("missing.crt");
    assertThatThrownBy(() -> PemFlags.certificates("--etcd-ca", missing))
        .isInstanceOf(BadArgumentException.class)
        .hasMessageStartingWith("--etcd-ca: " + missing + ": cannot read file");
  }

  @Test
  void tlsContextChecksEachFileBeforeBuilding() {
    assertThatThrownBy(
            () ->
                PemFlags.tlsContext(
                    key,
                    key,
                    ca,
                    null,
                    () -> {
                      throw new AssertionError("built from a file refused in its role");
                    }))
        .isInstanceOf(BadArgumentException.class)
        .hasMessageStartingWith("--cert: " + key + ": no certificate found");
  }

  @Test
  void whatTheContextRefusesAfterTheFilesPassedConcernsThePair() {
    assertThatThrownBy(
            () ->
                PemFlags.tlsContext(
                    cert,
                    key,
                    ca,
                    null,
                    () -> {
                      throw new IllegalArgumentException("the key does not match the certificate");
                    }))
        .isInstanceOf(BadArgumentException.class)
        .hasMessage("--cert/--key: the key does not match the certificate");
  }

  @Test
  void tlsContextReturnsWhatWasBuilt() throws Exception {
    assertThat(PemFlags.tlsContext(combined, combined, ca, null, () -> "context"))
        .isEqualTo("context");
  }
}

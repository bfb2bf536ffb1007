package dev.configsync.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.Objects;
import org.junit.jupiter.api.Test;

class FingerprintTest {
  @Test
  void matchesWhatOpensslPrints() throws IOException {
    String pem;
    try (InputStream in =
        Objects.requireNonNull(FingerprintTest.class.getResourceAsStream("/keys/cluster.crt"))) {
      pem = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
    X509Certificate cluster = PemMaterial.certificates(pem, "cluster.crt").get(0);
    // openssl x509 -in cluster.crt -noout -fingerprint -sha256, colons removed, lower case
    assertThat(PemMaterial.sha256Fingerprint(cluster))
        .isEqualTo("7e7dadba4db479cd037b10df0b0cdbabca792c7b19c2f7ce5a609989f738bbe4");
    assertThat(PemMaterial.describe(cluster))
        .startsWith("subject 'CN=kong_clustering', issuer 'CN=kong_clustering', serial ")
        .endsWith(", sha256 7e7dadba4db479cd037b10df0b0cdbabca792c7b19c2f7ce5a609989f738bbe4");
  }
}

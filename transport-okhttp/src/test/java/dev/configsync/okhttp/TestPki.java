package dev.configsync.okhttp;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.interfaces.ECPrivateKey;
import okhttp3.tls.HeldCertificate;
import org.bouncycastle.asn1.ASN1Object;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;

/** Test certificates made on the fly with okhttp-tls, and PEM helpers. */
final class TestPki {
  private TestPki() {}

  static HeldCertificate ca(String name) {
    return new HeldCertificate.Builder().certificateAuthority(1).commonName(name).build();
  }

  static HeldCertificate intermediate(String name, HeldCertificate issuer) {
    return new HeldCertificate.Builder()
        .certificateAuthority(0)
        .commonName(name)
        .signedBy(issuer)
        .build();
  }

  static HeldCertificate leafEc(String name, HeldCertificate issuer) {
    return new HeldCertificate.Builder()
        .commonName(name)
        .addSubjectAlternativeName("127.0.0.1")
        .signedBy(issuer)
        .build();
  }

  static HeldCertificate leafRsa(String name, HeldCertificate issuer) {
    return new HeldCertificate.Builder()
        .rsa2048()
        .commonName(name)
        .addSubjectAlternativeName("127.0.0.1")
        .signedBy(issuer)
        .build();
  }

  /**
   * The private key in its traditional form, as OpenSSL writes it: PKCS#1 ('BEGIN RSA PRIVATE KEY')
   * for RSA, SEC1 ('BEGIN EC PRIVATE KEY') with the curve and public key for EC.
   */
  static String traditionalKeyPem(HeldCertificate held) {
    PrivateKey key = held.keyPair().getPrivate();
    if (key instanceof ECPrivateKey ec) {
      // Not JcaPEMWriter: for a JDK EC key it writes SEC1 without the curve (see
      // curvelessSec1KeyPem), which neither OpenSSL nor the JDK can load.
      PrivateKeyInfo pkcs8 = PrivateKeyInfo.getInstance(ec.getEncoded());
      SubjectPublicKeyInfo spki =
          SubjectPublicKeyInfo.getInstance(held.keyPair().getPublic().getEncoded());
      org.bouncycastle.asn1.sec.ECPrivateKey sec1 =
          new org.bouncycastle.asn1.sec.ECPrivateKey(
              ec.getParams().getOrder().bitLength(),
              ec.getS(),
              spki.getPublicKeyData(),
              pkcs8.getPrivateKeyAlgorithm().getParameters());
      return pem(new PemObject("EC PRIVATE KEY", encoded(sec1)));
    }
    return curvelessSec1KeyPem(held); // For RSA, JcaPEMWriter writes plain PKCS#1.
  }

  /**
   * What Bouncy Castle's JcaPEMWriter writes for a JDK private key: PKCS#1 for RSA, and for EC a
   * SEC1 block whose optional curve parameters (and public key) are left out.
   */
  static String curvelessSec1KeyPem(HeldCertificate held) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(held.keyPair().getPrivate());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  private static byte[] encoded(ASN1Object object) {
    try {
      return object.getEncoded();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String pem(PemObject object) {
    StringWriter out = new StringWriter();
    try (PemWriter writer = new PemWriter(out)) {
      writer.writeObject(object);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  static Path write(Path dir, String name, String content) {
    try {
      return Files.writeString(dir.resolve(name), content, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

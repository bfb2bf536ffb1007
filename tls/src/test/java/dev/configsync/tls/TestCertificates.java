package dev.configsync.tls;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** Certificates made on the fly with Bouncy Castle's builder and the JDK's providers. */
record TestCertificates(X509Certificate certificate, KeyPair keyPair) {
  private static final AtomicLong SERIAL = new AtomicLong(1);

  static KeyPair ecKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new AssertionError(e);
    }
  }

  /** A self-signed CA certificate valid for a day around now. */
  static TestCertificates ca(String name) {
    KeyPair keys = ecKeyPair();
    return new TestCertificates(
        sign(name, keys, name, keys, true, Instant.now().minusSeconds(60), Duration.ofDays(1)),
        keys);
  }

  /** A self-signed end-entity certificate (like a shared cluster certificate). */
  static TestCertificates selfSigned(String name, Instant notBefore, Duration validity) {
    KeyPair keys = ecKeyPair();
    return new TestCertificates(sign(name, keys, name, keys, false, notBefore, validity), keys);
  }

  /** An end-entity certificate issued by this one. */
  TestCertificates issue(String name, Instant notBefore, Duration validity) {
    KeyPair keys = ecKeyPair();
    String issuer = certificate.getSubjectX500Principal().getName();
    return new TestCertificates(
        sign(name, keys, issuer, keyPair, false, notBefore, validity), keys);
  }

  TestCertificates issue(String name) {
    return issue(name, Instant.now().minusSeconds(60), Duration.ofDays(1));
  }

  private static X509Certificate sign(
      String subject,
      KeyPair subjectKeys,
      String issuer,
      KeyPair issuerKeys,
      boolean ca,
      Instant notBefore,
      Duration validity) {
    try {
      JcaX509v3CertificateBuilder builder =
          new JcaX509v3CertificateBuilder(
              new X500Principal(issuer.contains("=") ? issuer : "CN=" + issuer),
              BigInteger.valueOf(SERIAL.getAndIncrement()),
              Date.from(notBefore),
              Date.from(notBefore.plus(validity)),
              new X500Principal("CN=" + subject),
              subjectKeys.getPublic());
      if (ca) {
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      }
      return new JcaX509CertificateConverter()
          .getCertificate(
              builder.build(
                  new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}

package dev.configsync.tls;

import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.jspecify.annotations.Nullable;

/**
 * Parses PEM certificates and private keys into JDK objects, with error messages that name the
 * source and say what is wrong. Uses Bouncy Castle's PEM parser and converters without registering
 * Bouncy Castle as a JCA provider: the resulting keys and certificates come from the JDK's own
 * providers.
 *
 * <p>Every method is stateless and thread-safe, and throws {@link IllegalArgumentException} for
 * unreadable, malformed or unsuitable input.
 *
 * <p>Not API: shared by the OkHttp transport and the control plane; may change in any release.
 */
public final class PemMaterial {
  /** PEM files larger than this are refused, so a wrong path (a device, a log) fails fast. */
  public static final int MAX_PEM_FILE_BYTES = 1 << 20;

  private static final String EXPECTED_KEY_FORMATS =
      "expected PKCS#8 'BEGIN PRIVATE KEY', PKCS#1 'BEGIN RSA PRIVATE KEY' or SEC1 'BEGIN EC"
          + " PRIVATE KEY'";

  private PemMaterial() {}

  /**
   * Reads a PEM file as text.
   *
   * @throws IllegalArgumentException naming {@code path} if it cannot be read, is larger than
   *     {@value #MAX_PEM_FILE_BYTES} bytes, or looks like binary DER rather than PEM text
   */
  public static String readFile(Path path) {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(path)) {
      bytes = in.readNBytes(MAX_PEM_FILE_BYTES + 1);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          path
              + ": cannot read file ("
              + e.getClass().getSimpleName()
              + ": "
              + e.getMessage()
              + ")",
          e);
    }
    if (bytes.length > MAX_PEM_FILE_BYTES) {
      throw new IllegalArgumentException(
          path + ": larger than " + MAX_PEM_FILE_BYTES + " bytes; not a PEM file");
    }
    // DER certificates and keys start with a SEQUENCE (0x30) whose length needs the long form
    // (0x81..0x84); text never has a byte >= 0x80 there.
    if (bytes.length > 1
        && bytes[0] == 0x30
        && (bytes[1] & 0xff) >= 0x81
        && (bytes[1] & 0xff) <= 0x84) {
      throw new IllegalArgumentException(
          path + ": looks like binary DER; PEM text ('-----BEGIN ...') is expected");
    }
    // PEM is ASCII; ISO-8859-1 maps any stray byte to a char instead of failing.
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }

  /**
   * Parses every {@code CERTIFICATE} block of {@code pem}, in order. Other blocks (keys, EC
   * parameters) are ignored.
   *
   * @param source names the input in error messages: a file path, or a description
   * @throws IllegalArgumentException if there is no certificate, or the PEM or a certificate is
   *     malformed
   */
  public static List<X509Certificate> certificates(String pem, String source) {
    JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
    List<X509Certificate> certificates = new ArrayList<>();
    for (Object object : parse(pem, source)) {
      if (object instanceof X509CertificateHolder holder) {
        try {
          certificates.add(converter.getCertificate(holder));
        } catch (CertificateException e) {
          throw new IllegalArgumentException(
              source + ": certificate #" + (certificates.size() + 1) + " is malformed: " + e, e);
        }
      }
    }
    if (certificates.isEmpty()) {
      throw new IllegalArgumentException(
          source + ": no certificate found; expected 'BEGIN CERTIFICATE'");
    }
    return List.copyOf(certificates);
  }

  /**
   * Parses the one private key in {@code pem}: RSA or EC, in PKCS#8 ({@code BEGIN PRIVATE KEY}),
   * PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) or SEC1 ({@code BEGIN EC PRIVATE KEY}) form. Other
   * blocks (certificates, EC parameters) are ignored. An encrypted key is refused: use {@link
   * #privateKey(String, String, char[])} to decrypt one.
   *
   * @param source names the input in error messages: a file path, or a description
   * @throws IllegalArgumentException if there is no key or more than one, the key is encrypted,
   *     malformed, or neither RSA nor EC
   */
  public static PrivateKey privateKey(String pem, String source) {
    return privateKey(pem, source, null);
  }

  /**
   * Parses the one private key in {@code pem}, as {@link #privateKey(String, String)} does, and
   * decrypts it with {@code passphrase} if it is encrypted: PKCS#8 {@code BEGIN ENCRYPTED PRIVATE
   * KEY} (PBES2 with PBKDF2 or scrypt, as OpenSSL 3 writes it, or the older PKCS#5/PKCS#12 schemes)
   * or a traditional OpenSSL block with {@code Proc-Type: 4,ENCRYPTED} and {@code DEK-Info}. An
   * unencrypted key is returned as it is, whether or not a passphrase is given.
   *
   * <p>The passphrase is not kept and not changed; the caller may wipe it afterwards. Decryption
   * uses a private instance of Bouncy Castle's provider, never registered with the JDK.
   *
   * @param source names the input in error messages: a file path, or a description
   * @param passphrase the passphrase of an encrypted key, or null when none was given
   * @throws IllegalArgumentException if there is no key or more than one, the key is malformed or
   *     neither RSA nor EC, or it is encrypted and the passphrase is missing or wrong (the message
   *     says which)
   */
  public static PrivateKey privateKey(String pem, String source, char @Nullable [] passphrase) {
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
    PrivateKey key = null;
    for (Object object : parse(pem, source)) {
      PrivateKeyInfo info;
      if (object instanceof PrivateKeyInfo pkcs8) {
        info = pkcs8;
      } else if (object instanceof PEMKeyPair traditional) {
        info = traditional(traditional, source);
      } else if (object instanceof PEMEncryptedKeyPair encrypted) {
        info = traditional(KeyDecryption.decrypt(encrypted, source, passphrase), source);
      } else if (object instanceof PKCS8EncryptedPrivateKeyInfo encrypted) {
        info = KeyDecryption.decrypt(encrypted, source, passphrase);
      } else {
        continue;
      }
      if (key != null) {
        throw new IllegalArgumentException(
            source + ": more than one private key found; expected exactly one");
      }
      try {
        key = converter.getPrivateKey(info);
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException(source + ": the private key is malformed: " + e, e);
      }
    }
    if (key == null) {
      throw new IllegalArgumentException(
          source + ": no private key found; " + EXPECTED_KEY_FORMATS);
    }
    if (!key.getAlgorithm().equals("RSA") && !key.getAlgorithm().equals("EC")) {
      throw new IllegalArgumentException(
          source + ": unsupported private key algorithm " + key.getAlgorithm() + "; RSA or EC");
    }
    return key;
  }

  private static PrivateKeyInfo traditional(PEMKeyPair pair, String source) {
    PrivateKeyInfo info = pair.getPrivateKeyInfo();
    if (info.getPrivateKeyAlgorithm().getAlgorithm().equals(X9ObjectIdentifiers.id_ecPublicKey)
        && info.getPrivateKeyAlgorithm().getParameters() == null) {
      // Bouncy Castle's JcaPEMWriter writes JDK EC keys this way; OpenSSL cannot read it either.
      throw new IllegalArgumentException(
          source
              + ": the SEC1 'BEGIN EC PRIVATE KEY' block names no curve (its optional"
              + " parameters field is missing); export the key as PKCS#8 'BEGIN PRIVATE KEY'"
              + " or as SEC1 with the curve, as 'openssl ec' writes it");
    }
    return info;
  }

  /**
   * The SHA-256 digest of {@code certificate}'s DER encoding, as 64 lowercase hex digits: the
   * fingerprint {@code openssl x509 -noout -fingerprint -sha256} prints (without its colons), and
   * what shared-mode peers compare.
   */
  public static String sha256Fingerprint(X509Certificate certificate) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
      return HexFormat.of().formatHex(digest);
    } catch (GeneralSecurityException e) {
      // SHA-256 is a required JDK algorithm, and a parsed certificate can always be encoded.
      throw new IllegalStateException("cannot compute a SHA-256 certificate fingerprint", e);
    }
  }

  /**
   * Describes {@code certificate} for error messages and logs: subject, issuer, serial number,
   * validity and SHA-256 fingerprint.
   */
  public static String describe(X509Certificate certificate) {
    return "subject '"
        + certificate.getSubjectX500Principal().getName()
        + "', issuer '"
        + certificate.getIssuerX500Principal().getName()
        + "', serial "
        + certificate.getSerialNumber().toString(16)
        + ", valid "
        + certificate.getNotBefore().toInstant()
        + " to "
        + certificate.getNotAfter().toInstant()
        + ", sha256 "
        + sha256Fingerprint(certificate);
  }

  /**
   * Checks that {@code key} is the private key of {@code chain}'s first certificate, by signing a
   * random challenge with it and verifying with the certificate's public key.
   *
   * @throws IllegalArgumentException "cert and key do not match", naming both sources, with a hint
   *     if the key belongs to a later certificate of the chain (leaf not first)
   */
  public static void checkKeyMatchesLeaf(
      List<X509Certificate> chain, PrivateKey key, String certSource, String keySource) {
    X509Certificate leaf = chain.get(0);
    String prefix = certSource + " and " + keySource + ": cert and key do not match";
    PublicKey leafKey = leaf.getPublicKey();
    if (!leafKey.getAlgorithm().equals(key.getAlgorithm())) {
      throw new IllegalArgumentException(
          prefix
              + " (the certificate "
              + leaf.getSubjectX500Principal().getName()
              + " holds an "
              + leafKey.getAlgorithm()
              + " public key, the private key is "
              + key.getAlgorithm()
              + ")");
    }
    if (signs(key, leafKey)) {
      return;
    }
    for (int i = 1; i < chain.size(); i++) {
      PublicKey other = chain.get(i).getPublicKey();
      if (other.getAlgorithm().equals(key.getAlgorithm()) && signs(key, other)) {
        throw new IllegalArgumentException(
            prefix
                + " (the private key belongs to certificate #"
                + (i + 1)
                + ", "
                + chain.get(i).getSubjectX500Principal().getName()
                + "; the leaf certificate must come first)");
      }
    }
    throw new IllegalArgumentException(
        prefix
            + " (the private key does not belong to "
            + leaf.getSubjectX500Principal().getName()
            + ")");
  }

  private static boolean signs(PrivateKey privateKey, PublicKey publicKey) {
    String algorithm =
        privateKey.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA";
    byte[] challenge = new byte[32];
    new SecureRandom().nextBytes(challenge);
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(privateKey);
      signer.update(challenge);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(publicKey);
      verifier.update(challenge);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      // E.g. keys on different EC curves: they certainly do not match.
      return false;
    }
  }

  private static List<Object> parse(String pem, String source) {
    List<Object> objects = new ArrayList<>();
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      for (Object object = parser.readObject(); object != null; object = parser.readObject()) {
        objects.add(object);
      }
    } catch (IOException | RuntimeException e) {
      // PEMParser reports bad base64, bad DER and unknown block types with IOExceptions, and some
      // encoding errors with runtime exceptions.
      throw new IllegalArgumentException(source + ": malformed PEM: " + e.getMessage(), e);
    }
    return objects;
  }
}

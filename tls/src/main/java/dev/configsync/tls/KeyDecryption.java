package dev.configsync.tls;

import java.io.IOException;
import java.security.Provider;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;
import org.jspecify.annotations.Nullable;

/**
 * Decrypts passphrase-protected PEM private keys.
 *
 * <p>The JDK's own providers lack what OpenSSL writes by default (AES with PKCS#7 padding under
 * PBES2, scrypt, OpenSSL's legacy key derivation), so decryption goes through a private instance of
 * Bouncy Castle's provider. It is never registered with {@link java.security.Security}: the rest of
 * the process keeps the JDK's providers.
 */
final class KeyDecryption {
  private KeyDecryption() {}

  /** Created on first use: building Bouncy Castle's provider takes a moment. */
  private static final class BouncyCastle {
    static final Provider PROVIDER = new BouncyCastleProvider();
  }

  static PrivateKeyInfo decrypt(
      PKCS8EncryptedPrivateKeyInfo encrypted, String source, char @Nullable [] passphrase) {
    char[] secret = requirePassphrase(source, passphrase);
    try {
      return encrypted.decryptPrivateKeyInfo(
          new JceOpenSSLPKCS8DecryptorProviderBuilder()
              .setProvider(BouncyCastle.PROVIDER)
              .build(secret));
    } catch (PKCSException | OperatorCreationException | RuntimeException e) {
      // A wrong passphrase shows as bad padding, or (rarely) as garbage that fails to parse; a
      // scheme nobody supports shows as a missing algorithm.
      throw failure(source, e);
    }
  }

  static PEMKeyPair decrypt(
      PEMEncryptedKeyPair encrypted, String source, char @Nullable [] passphrase) {
    char[] secret = requirePassphrase(source, passphrase);
    try {
      return encrypted.decryptKeyPair(
          new JcePEMDecryptorProviderBuilder().setProvider(BouncyCastle.PROVIDER).build(secret));
    } catch (IOException | RuntimeException e) {
      throw failure(source, e);
    }
  }

  private static char[] requirePassphrase(String source, char @Nullable [] passphrase) {
    if (passphrase == null) {
      throw new IllegalArgumentException(
          source
              + ": the private key is encrypted and no passphrase was given; give the passphrase"
              + " (agent: --key-passphrase-file or --key-passphrase-env), or store the key"
              + " unencrypted with restrictive file permissions (chmod 600)");
    }
    return passphrase;
  }

  private static IllegalArgumentException failure(String source, Exception e) {
    String detail = String.valueOf(e.getMessage());
    if (detail.contains("not available")) {
      return new IllegalArgumentException(
          source
              + ": cannot decrypt the private key: its encryption scheme is not supported ("
              + detail
              + "); re-encrypt it with 'openssl pkcs8 -topk8 -v2 aes-256-cbc'",
          e);
    }
    return new IllegalArgumentException(
        source
            + ": cannot decrypt the private key: the passphrase is wrong (or the key file is"
            + " damaged)",
        e);
  }
}

package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.security.InvalidKeyException;
import java.security.Key;
import java.security.KeyFactory;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Ed25519 keys in PEM: {@code PUBLIC KEY} (X.509 SubjectPublicKeyInfo) and {@code PRIVATE KEY}
 * (unencrypted PKCS#8), as {@code openssl genpkey -algorithm ed25519} writes them. Not API.
 */
public final class Ed25519Keys {
  /** The JCA name of the signature algorithm and of the key type. */
  public static final String ALGORITHM = "Ed25519";

  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]*)-----END \\1-----");

  private Ed25519Keys() {}

  /** A fresh Ed25519 {@link Signature}; they are not thread-safe, so each use takes its own. */
  public static Signature newSignature() {
    try {
      return Signature.getInstance(ALGORITHM);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JDK has no Ed25519 (it is standard since Java 15)", e);
    }
  }

  /**
   * Checks that {@code key} can verify Ed25519 signatures.
   *
   * @throws IllegalArgumentException when it cannot (an Ed448, RSA or EC key, say)
   */
  public static PublicKey requirePublic(PublicKey key) {
    try {
      newSignature().initVerify(key);
      return key;
    } catch (InvalidKeyException e) {
      throw notEd25519(key, e);
    }
  }

  /**
   * Checks that {@code key} can make Ed25519 signatures.
   *
   * @throws IllegalArgumentException when it cannot
   */
  public static PrivateKey requirePrivate(PrivateKey key) {
    try {
      newSignature().initSign(key);
      return key;
    } catch (InvalidKeyException e) {
      throw notEd25519(key, e);
    }
  }

  /**
   * Reads the first {@code -----BEGIN PUBLIC KEY-----} block of {@code pem}.
   *
   * @throws IllegalArgumentException when there is no such block or it holds no Ed25519 key
   */
  public static PublicKey readPublicKey(String pem) {
    byte[] der = decode("PUBLIC KEY", pem);
    try {
      return factory().generatePublic(new X509EncodedKeySpec(der));
    } catch (InvalidKeySpecException e) {
      throw new IllegalArgumentException(
          "the PUBLIC KEY block does not hold an Ed25519 public key: " + e.getMessage(), e);
    }
  }

  /**
   * Reads the first {@code -----BEGIN PRIVATE KEY-----} block of {@code pem}.
   *
   * @throws IllegalArgumentException when there is no such block or it holds no Ed25519 key
   */
  public static PrivateKey readPrivateKey(String pem) {
    byte[] der = decode("PRIVATE KEY", pem);
    try {
      return factory().generatePrivate(new PKCS8EncodedKeySpec(der));
    } catch (InvalidKeySpecException e) {
      throw new IllegalArgumentException(
          "the PRIVATE KEY block does not hold an Ed25519 private key: " + e.getMessage(), e);
    }
  }

  /** {@code key} as a {@code PUBLIC KEY} PEM block (X.509 SubjectPublicKeyInfo). */
  public static String writePublicKey(PublicKey key) {
    requirePublic(key);
    return encode("PUBLIC KEY", encoded(key, "X.509"));
  }

  /** {@code key} as an unencrypted {@code PRIVATE KEY} PEM block (PKCS#8). */
  public static String writePrivateKey(PrivateKey key) {
    requirePrivate(key);
    return encode("PRIVATE KEY", encoded(key, "PKCS#8"));
  }

  private static byte[] encoded(Key key, String format) {
    byte[] der = key.getEncoded();
    if (der == null || !format.equals(key.getFormat())) {
      throw new IllegalArgumentException(
          "the key cannot be exported in " + format + " form (format: " + key.getFormat() + ")");
    }
    return der;
  }

  private static String encode(String type, byte[] der) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(US_ASCII)).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }

  private static byte[] decode(String type, String pem) {
    Matcher m = BLOCK.matcher(pem);
    while (m.find()) {
      if (m.group(1).equals(type)) {
        try {
          return Base64.getDecoder().decode(m.group(2).replaceAll("\\s", ""));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("the " + type + " block is not valid base64", e);
        }
      }
    }
    if (type.equals("PRIVATE KEY") && pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
      throw new IllegalArgumentException(
          "the private key is encrypted; decrypt it first (openssl pkey -in key.pem -out plain.pem)");
    }
    throw new IllegalArgumentException(
        "no -----BEGIN " + type + "----- ... -----END " + type + "----- block found");
  }

  private static KeyFactory factory() {
    try {
      return KeyFactory.getInstance(ALGORITHM);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JDK has no Ed25519 (it is standard since Java 15)", e);
    }
  }

  private static IllegalArgumentException notEd25519(Key key, InvalidKeyException e) {
    return new IllegalArgumentException(
        "not an Ed25519 key (algorithm " + key.getAlgorithm() + "): " + e.getMessage(), e);
  }
}

package dev.configsync.okhttp;

import dev.configsync.tls.PemMaterial;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.jspecify.annotations.Nullable;

/**
 * The mutual-TLS material of a connection to the control plane: this node's certificate chain and
 * private key (its client identity), and the certificate authorities that may sign the control
 * plane's certificate.
 *
 * <p>Only the given CAs are trusted: the platform's trust roots are not. Which TLS versions and
 * cipher suites are allowed (TLS 1.2 and later) is enforced by the transport, not here.
 *
 * <p>Everything is parsed and checked when the instance is built, so a bad file fails at startup
 * with an {@link IllegalArgumentException} whose message names the file and says what is wrong: no
 * certificate, no key, an encrypted key, a key that does not belong to the first certificate of the
 * chain, a file that cannot be read. Private keys may be RSA or EC, in PKCS#8 ({@code BEGIN PRIVATE
 * KEY}), PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) or SEC1 ({@code BEGIN EC PRIVATE KEY}) form;
 * passphrase-protected keys are not supported.
 *
 * <p>Immutable and thread-safe. {@link #withServerName} returns a copy; {@link #reload()} returns a
 * new instance read from the same files, so certificates can be rotated without mutating a config
 * that connections may be using.
 */
public final class TlsConfig {
  private final List<X509Certificate> certificateChain;
  private final PrivateKey privateKey;
  private final List<X509Certificate> trustedCertificates;
  private final @Nullable String serverName;
  private final List<Path> sourcePaths;
  private final HandshakeCertificates handshakeCertificates;

  private TlsConfig(
      List<X509Certificate> certificateChain,
      PrivateKey privateKey,
      List<X509Certificate> trustedCertificates,
      @Nullable String serverName,
      List<Path> sourcePaths,
      HandshakeCertificates handshakeCertificates) {
    this.certificateChain = certificateChain;
    this.privateKey = privateKey;
    this.trustedCertificates = trustedCertificates;
    this.serverName = serverName;
    this.sourcePaths = sourcePaths;
    this.handshakeCertificates = handshakeCertificates;
  }

  /**
   * Reads the TLS material from PEM files. The paths are kept, so {@link #reload()} can read them
   * again after the files were rotated.
   *
   * @param certPem this node's certificate chain: the leaf first, then any intermediates
   * @param keyPem the private key of the leaf certificate (RSA or EC; PKCS#8, PKCS#1 or SEC1)
   * @param caPem one or more CA certificates to trust for the control plane's certificate
   * @throws IllegalArgumentException if a file cannot be read or holds unsuitable material; the
   *     message names the file
   */
  public static TlsConfig pki(Path certPem, Path keyPem, Path caPem) {
    Objects.requireNonNull(certPem, "certPem");
    Objects.requireNonNull(keyPem, "keyPem");
    Objects.requireNonNull(caPem, "caPem");
    return build(
        PemMaterial.readFile(certPem),
        certPem.toString(),
        PemMaterial.readFile(keyPem),
        keyPem.toString(),
        PemMaterial.readFile(caPem),
        caPem.toString(),
        null,
        List.of(certPem, keyPem, caPem));
  }

  /**
   * Builds the TLS material from PEM text, e.g. taken from a secret store. Such a config has no
   * files to re-read: its {@link #reload()} returns it unchanged.
   *
   * @param certChainPem this node's certificate chain: the leaf first, then any intermediates
   * @param keyPem the private key of the leaf certificate (RSA or EC; PKCS#8, PKCS#1 or SEC1)
   * @param caPem one or more CA certificates to trust for the control plane's certificate
   * @throws IllegalArgumentException if the text holds unsuitable material; the message names which
   *     of the three arguments is at fault
   */
  public static TlsConfig pkiFromPem(String certChainPem, String keyPem, String caPem) {
    return build(
        Objects.requireNonNull(certChainPem, "certChainPem"),
        "certificate chain PEM",
        Objects.requireNonNull(keyPem, "keyPem"),
        "private key PEM",
        Objects.requireNonNull(caPem, "caPem"),
        "CA PEM",
        null,
        List.of());
  }

  private static TlsConfig build(
      String certPem,
      String certSource,
      String keyPem,
      String keySource,
      String caPem,
      String caSource,
      @Nullable String serverName,
      List<Path> sourcePaths) {
    List<X509Certificate> chain = PemMaterial.certificates(certPem, certSource);
    PrivateKey key = PemMaterial.privateKey(keyPem, keySource);
    List<X509Certificate> cas = PemMaterial.certificates(caPem, caSource);
    PemMaterial.checkKeyMatchesLeaf(chain, key, certSource, keySource);

    X509Certificate leaf = chain.get(0);
    HeldCertificate identity = new HeldCertificate(new KeyPair(leaf.getPublicKey(), key), leaf);
    HandshakeCertificates.Builder builder =
        new HandshakeCertificates.Builder()
            .heldCertificate(
                identity, chain.subList(1, chain.size()).toArray(new X509Certificate[0]));
    for (X509Certificate ca : cas) {
      builder.addTrustedCertificate(ca);
    }
    // Deliberately no addPlatformTrustedCertificates(): only the given CAs are trusted.
    return new TlsConfig(chain, key, cas, serverName, sourcePaths, builder.build());
  }

  /**
   * Returns a copy that checks the control plane's certificate against {@code serverName} instead
   * of the host of the control plane URL. Useful when connecting by IP address or through a tunnel
   * while the certificate names the service.
   *
   * @param serverName a DNS name or IP address literal, without scheme or port
   * @throws IllegalArgumentException if {@code serverName} is empty or contains whitespace
   */
  public TlsConfig withServerName(String serverName) {
    Objects.requireNonNull(serverName, "serverName");
    if (serverName.isEmpty() || serverName.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "serverName must be a non-empty host name without whitespace: '" + serverName + "'");
    }
    return new TlsConfig(
        certificateChain,
        privateKey,
        trustedCertificates,
        serverName,
        sourcePaths,
        handshakeCertificates);
  }

  /**
   * The name the control plane's certificate is checked against, or null to use the host of the
   * control plane URL (the default).
   */
  public @Nullable String serverName() {
    return serverName;
  }

  /**
   * Reads the certificate, key and CA files again and returns a new config built from them, keeping
   * the {@link #serverName()} override. This instance is not changed. For a config built from PEM
   * text ({@link #pkiFromPem}) there is nothing to re-read and this instance is returned.
   *
   * <p>Does blocking file I/O on the calling thread.
   *
   * @throws IllegalArgumentException if the files now hold unsuitable material (for example, a
   *     rotation replaced the certificate but not yet the key); the caller should keep using the
   *     previous config
   */
  public TlsConfig reload() {
    if (sourcePaths.isEmpty()) {
      return this;
    }
    TlsConfig reloaded = pki(sourcePaths.get(0), sourcePaths.get(1), sourcePaths.get(2));
    return serverName == null ? reloaded : reloaded.withServerName(serverName);
  }

  /**
   * The files this config was read from, in the order certificate chain, private key, CA; empty for
   * a config built from PEM text. A rotation watcher can watch these.
   */
  public List<Path> sourcePaths() {
    return sourcePaths;
  }

  /** This node's certificate chain, leaf first. Unmodifiable. */
  public List<X509Certificate> certificateChain() {
    return certificateChain;
  }

  /** The CA certificates trusted for the control plane's certificate. Unmodifiable. */
  public List<X509Certificate> trustedCertificates() {
    return trustedCertificates;
  }

  /**
   * The client identity (chain and key) and trust (only the given CAs) in OkHttp's form; build the
   * transport's {@code OkHttpClient} from its {@link HandshakeCertificates#sslSocketFactory()} and
   * {@link HandshakeCertificates#trustManager()}. Built once, when this config was built.
   */
  public HandshakeCertificates handshakeCertificates() {
    return handshakeCertificates;
  }

  /**
   * A socket factory that presents this node's certificate chain and trusts only the given CAs. It
   * does not check host names: that is left to the caller (OkHttp's hostname verifier).
   */
  public SSLSocketFactory sslSocketFactory() {
    return handshakeCertificates.sslSocketFactory();
  }

  /** A trust manager that trusts only the given CAs (no platform trust roots). */
  public X509TrustManager trustManager() {
    return handshakeCertificates.trustManager();
  }

  /** Describes the identity, the CAs, the server name and the files; never the private key. */
  @Override
  public String toString() {
    return "TlsConfig[identity="
        + certificateChain.get(0).getSubjectX500Principal().getName()
        + " ("
        + privateKey.getAlgorithm()
        + "), cas="
        + trustedCertificates.stream()
            .map(c -> c.getSubjectX500Principal().getName())
            .collect(Collectors.joining("; ", "[", "]"))
        + (serverName == null ? "" : ", serverName=" + serverName)
        + (sourcePaths.isEmpty() ? "" : ", files=" + sourcePaths)
        + "]";
  }
}

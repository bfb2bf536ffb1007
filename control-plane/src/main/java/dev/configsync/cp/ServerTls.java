package dev.configsync.cp;

import dev.configsync.tls.PeerTrust;
import dev.configsync.tls.PemMaterial;
import dev.configsync.tls.SecretFilePermissions;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SSLException;
import org.jspecify.annotations.Nullable;

/**
 * The control plane's mutual-TLS material, in one of the protocol's two trust modes:
 *
 * <ul>
 *   <li>{@link #pki pki}: the control plane presents its own certificate and accepts a data plane
 *       whose client certificate was issued by one of the given CAs (and is within its validity
 *       dates);
 *   <li>{@link #shared shared}: the control plane and every data plane use one and the same
 *       certificate and key; a data plane is accepted only when its client certificate is that very
 *       certificate (compared by SHA-256 digest) and within its validity dates.
 * </ul>
 *
 * <p>TLS 1.2 and 1.3 only; a client certificate is always required.
 *
 * <p>Everything is parsed and checked when the instance is built, so a bad file fails at start-up
 * with an {@link IllegalArgumentException} whose message names the file. Immutable and thread-safe;
 * {@link #reload()} returns a new instance read from the same files.
 */
public final class ServerTls {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ServerTls.class);

  /** The two trust modes of the protocol. */
  public enum Mode {
    /** Separate certificates issued by a CA the other side trusts. */
    PKI,
    /** One certificate and key shared by the control plane and every data plane. */
    SHARED
  }

  private final Mode mode;
  private final List<X509Certificate> certificateChain;
  private final List<X509Certificate> trusted;
  private final List<Path> sourcePaths;
  private final char @Nullable [] passphrase;
  private final SslContext sslContext;

  private ServerTls(
      Mode mode,
      List<X509Certificate> certificateChain,
      List<X509Certificate> trusted,
      List<Path> sourcePaths,
      char @Nullable [] passphrase,
      SslContext sslContext) {
    this.mode = mode;
    this.certificateChain = certificateChain;
    this.trusted = trusted;
    this.sourcePaths = sourcePaths;
    this.passphrase = passphrase;
    this.sslContext = sslContext;
  }

  /**
   * PKI mode from PEM files.
   *
   * @param certPem the control plane's certificate chain, leaf first
   * @param keyPem the leaf's private key (RSA or EC; PKCS#8, PKCS#1 or SEC1)
   * @param caPem the CA certificates that issue data plane certificates
   * @throws IllegalArgumentException naming the file when one cannot be read or is unsuitable
   */
  public static ServerTls pki(Path certPem, Path keyPem, Path caPem) {
    return pki(certPem, keyPem, caPem, null);
  }

  /**
   * PKI mode from PEM files, with a passphrase-protected key (PKCS#8 {@code BEGIN ENCRYPTED PRIVATE
   * KEY} or OpenSSL's {@code Proc-Type: 4,ENCRYPTED}); a copy of the passphrase is kept so that
   * {@link #reload()} can read a rotated key.
   *
   * @throws IllegalArgumentException naming the file when one cannot be read or is unsuitable, or
   *     the passphrase is missing or wrong
   */
  public static ServerTls pki(Path certPem, Path keyPem, Path caPem, char @Nullable [] passphrase) {
    ServerTls tls =
        build(
            Mode.PKI,
            PemMaterial.readFile(certPem),
            certPem.toString(),
            PemMaterial.readFile(keyPem),
            keyPem.toString(),
            PemMaterial.readFile(caPem),
            caPem.toString(),
            List.of(certPem, keyPem, caPem),
            passphrase);
    warnIfLoose(keyPem); // only once the file is known to hold the key, not a certificate
    return tls;
  }

  /**
   * Shared mode from PEM files: the one certificate and key every node of the cluster uses.
   *
   * @throws IllegalArgumentException naming the file when one cannot be read or is unsuitable
   */
  public static ServerTls shared(Path certPem, Path keyPem) {
    return shared(certPem, keyPem, null);
  }

  /**
   * Shared mode from PEM files, with a passphrase-protected key (see {@link #pki(Path, Path, Path,
   * char[])}).
   */
  public static ServerTls shared(Path certPem, Path keyPem, char @Nullable [] passphrase) {
    String cert = PemMaterial.readFile(certPem);
    ServerTls tls =
        build(
            Mode.SHARED,
            cert,
            certPem.toString(),
            PemMaterial.readFile(keyPem),
            keyPem.toString(),
            cert,
            certPem.toString(),
            List.of(certPem, keyPem),
            passphrase);
    warnIfLoose(keyPem); // only once the file is known to hold the key, not a certificate
    return tls;
  }

  /** PKI mode from PEM text (for example from a secret store); {@link #reload()} is a no-op. */
  public static ServerTls pkiFromPem(String certChainPem, String keyPem, String caPem) {
    return build(
        Mode.PKI,
        certChainPem,
        "certificate chain PEM",
        keyPem,
        "private key PEM",
        caPem,
        "CA PEM",
        List.of(),
        null);
  }

  /** Shared mode from PEM text; {@link #reload()} is a no-op. */
  public static ServerTls sharedFromPem(String certPem, String keyPem) {
    return build(
        Mode.SHARED,
        certPem,
        "certificate PEM",
        keyPem,
        "private key PEM",
        certPem,
        "certificate PEM",
        List.of(),
        null);
  }

  private static ServerTls build(
      Mode mode,
      String certPem,
      String certSource,
      String keyPem,
      String keySource,
      String trustPem,
      String trustSource,
      List<Path> sourcePaths,
      char @Nullable [] passphrase) {
    Objects.requireNonNull(certPem, "certPem");
    Objects.requireNonNull(keyPem, "keyPem");
    Objects.requireNonNull(trustPem, "caPem");
    List<X509Certificate> chain = PemMaterial.certificates(certPem, certSource);
    PrivateKey key = PemMaterial.privateKey(keyPem, keySource, passphrase);
    PemMaterial.checkKeyMatchesLeaf(chain, key, certSource, keySource);
    List<X509Certificate> trusted =
        mode == Mode.SHARED
            ? List.of(chain.get(0))
            : PemMaterial.certificates(trustPem, trustSource);
    SslContextBuilder builder =
        SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
            .sslProvider(SslProvider.JDK)
            .protocols("TLSv1.3", "TLSv1.2")
            .clientAuth(ClientAuth.REQUIRE);
    // The same trust managers as the data plane's, so both sides refuse with the same messages.
    builder.trustManager(
        mode == Mode.SHARED
            ? PeerTrust.sharedCertificate(chain.get(0))
            : PeerTrust.certificateAuthorities(trusted));
    try {
      return new ServerTls(
          mode,
          chain,
          trusted,
          sourcePaths,
          passphrase == null ? null : passphrase.clone(),
          builder.build());
    } catch (SSLException e) {
      throw new IllegalArgumentException(
          certSource + ": the TLS context cannot be built from this material: " + e.getMessage(),
          e);
    }
  }

  /** The trust mode. */
  public Mode mode() {
    return mode;
  }

  /** The control plane's certificate chain, leaf first. */
  public List<X509Certificate> certificateChain() {
    return certificateChain;
  }

  /**
   * What a client certificate is checked against: the CAs in PKI mode, the shared certificate in
   * shared mode.
   */
  public List<X509Certificate> trusted() {
    return trusted;
  }

  /** The files this material was read from; empty when built from PEM text. */
  public List<Path> sourcePaths() {
    return sourcePaths;
  }

  /**
   * Reads the files again and returns new material; this instance is unchanged. Returns this
   * instance when built from PEM text.
   *
   * @throws IllegalArgumentException when the files now hold unsuitable material (for example a
   *     rotation that replaced the certificate but not yet the key): keep using this instance
   */
  public ServerTls reload() {
    if (sourcePaths.isEmpty()) {
      return this;
    }
    return mode == Mode.SHARED
        ? shared(sourcePaths.get(0), sourcePaths.get(1), passphrase)
        : pki(sourcePaths.get(0), sourcePaths.get(1), sourcePaths.get(2), passphrase);
  }

  SslContext sslContext() {
    return sslContext;
  }

  private static void warnIfLoose(Path keyPem) {
    SecretFilePermissions.warning(keyPem, "private key").ifPresent(log::warn);
  }

  /** Describes the mode, identity and trust; never the key. */
  @Override
  public String toString() {
    return "ServerTls["
        + mode.name().toLowerCase(java.util.Locale.ROOT)
        + ", identity="
        + certificateChain.get(0).getSubjectX500Principal().getName()
        + (mode == Mode.SHARED
            ? ", sha256=" + PemMaterial.sha256Fingerprint(certificateChain.get(0))
            : ", cas=" + trusted.stream().map(c -> c.getSubjectX500Principal().getName()).toList())
        + (sourcePaths.isEmpty() ? "" : ", files=" + sourcePaths)
        + "]";
  }
}
